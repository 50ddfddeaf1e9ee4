"""ORM models, one file per aggregate; import them from here."""

from app.models.base import Base
from app.models.complication import Complication
from app.models.follow_up import FollowUpEvent
from app.models.patient import Patient, PatientIdentifier
from app.models.procedure import LevelTreated, Procedure, ProcedureSeries

__all__ = [
    "Base",
    "Complication",
    "FollowUpEvent",
    "LevelTreated",
    "Patient",
    "PatientIdentifier",
    "Procedure",
    "ProcedureSeries",
]
