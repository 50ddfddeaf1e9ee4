"""The event `data` models declare the REST request models' fields exactly (same types, bounds,
descriptions), so the two doors cannot drift apart unnoticed."""

from typing import Any

import pytest
from pydantic import BaseModel

from app.complications.schemas import ComplicationCreate
from app.follow_up.schemas import (
    DeathIn,
    FunctionIn,
    ImagingIn,
    MedicationIn,
    PainIn,
    PerformanceIn,
    ProgressionIn,
)
from app.ingestion import data, schemas
from app.patients.schemas import PatientCreate
from app.procedures.schemas import ProcedureCreate

# fields an event names differently from its REST model (by reference instead of by id)
EVENT_ONLY = {"procedure_ref", "level", "series"}
PAIRS = [
    (data.PainData, PainIn),
    (data.MedicationData, MedicationIn),
    (data.PerformanceData, PerformanceIn),
    (data.FunctionData, FunctionIn),
    (data.ImagingData, ImagingIn),
    (data.ProgressionData, ProgressionIn),
    (data.DeathData, DeathIn),
    (data.ComplicationData, ComplicationCreate),
    (data.ProcedureData, ProcedureCreate),
    (data.PatientData, PatientCreate),
]


def _properties(model: type[BaseModel]) -> dict[str, Any]:
    props: dict[str, Any] = model.model_json_schema()["properties"]
    return props


@pytest.mark.parametrize(("event_model", "rest_model"), PAIRS, ids=lambda m: m.__name__)
def test_event_data_declares_the_rest_fields_exactly(
    event_model: type[BaseModel], rest_model: type[BaseModel]
) -> None:
    event_props, rest_props = _properties(event_model), _properties(rest_model)
    assert set(event_props) - EVENT_ONLY <= set(rest_props)
    for name in set(event_props) & set(rest_props):
        assert event_props[name] == rest_props[name], name


def test_every_event_type_is_in_the_union_and_documented() -> None:
    assert len(schemas.EVENT_TYPES) == len(set(schemas.EVENT_TYPES)) == 12
    batch = schemas.EventBatch.model_json_schema()
    mapping = batch["$defs"]["PainScored"]["properties"]["type"]
    assert mapping["const"] == "pain.scored"
    for name in ("PatientRegistered", "EventRetracted", "InterventionRecorded"):
        assert batch["$defs"][name]["examples"], name
