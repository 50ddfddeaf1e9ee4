"""Follow-up events: validation against the patient and procedure, derived values, storage."""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clinical.days import clinical_date
from app.clinical.enums import PerformanceScale
from app.common.pagination import fetch_page
from app.common.updates import check_version
from app.config import get_settings
from app.errors import Conflict, NotFound, RuleViolation
from app.follow_up.opioids import FACTORS_VERSION, compute_ome
from app.follow_up.pain import check_step_of_ten, normalise_pain
from app.follow_up.schemas import (
    DeathIn,
    FollowUpCreate,
    FunctionIn,
    ImagingIn,
    MedicationIn,
    PainIn,
    PerformanceIn,
    ProgressionIn,
    TreatmentIn,
)
from app.models import FollowUpEvent, Patient, Procedure
from app.patients.service import check_no_record_after, check_within_life, require_patient

LANSKY_MAX_AGE = 16
KIND_COLUMNS = (
    "scale", "value", "score", "site", "drug", "dose", "dose_unit", "route", "doses_per_day",
    "medication_status", "is_opioid", "weight_kg", "ome_mg_day", "ome_mg_kg_day",
    "ome_factors_version", "modality", "treatment_type", "finding",
)  # fmt: skip


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _performance_scale_fits(patient: Patient, data: PerformanceIn) -> None:
    if patient.birth_date is None:
        return
    on = clinical_date(data.occurred_at, get_settings().registry_time_zone)
    age = age_in_years(patient.birth_date, on)
    wanted = PerformanceScale.lansky if age < LANSKY_MAX_AGE else PerformanceScale.karnofsky
    if data.scale is not wanted:
        raise RuleViolation(
            "scale",
            f"The patient was {age}: use {wanted} (Lansky under 16 years, Karnofsky from 16).",
            "performance-scale-age",
        )


def kind_values(patient: Patient, data: FollowUpCreate) -> dict[str, Any]:
    """The typed columns of one event, derived values (normalised score, OME) included."""
    if isinstance(data, PainIn):
        score = normalise_pain(data.scale, data.value)
        return {"scale": data.scale, "value": data.value, "score": score, "site": data.site}
    if isinstance(data, PerformanceIn):
        _performance_scale_fits(patient, data)
        value = check_step_of_ten(data.value, "value", data.scale)
        return {"scale": data.scale, "value": value, "score": value}
    if isinstance(data, FunctionIn):
        return {"scale": data.scale, "value": data.value, "score": data.value}
    if isinstance(data, MedicationIn):
        return _medication_values(data)
    if isinstance(data, ImagingIn):
        return {"modality": data.modality, "finding": data.finding}
    if isinstance(data, ProgressionIn):
        return {"finding": data.finding}
    if isinstance(data, TreatmentIn):
        return {"treatment_type": data.treatment_type, "finding": data.finding}
    return {}


def _medication_values(data: MedicationIn) -> dict[str, Any]:
    drug = data.drug.lower()
    ome = compute_ome(drug, data.route, data.dose, data.dose_unit, data.doses_per_day)
    is_opioid = ome.is_opioid if ome.is_opioid is not None else data.is_opioid
    if ome.is_opioid is not None and data.is_opioid is not None and data.is_opioid != ome.is_opioid:
        raise RuleViolation("is_opioid", f"{drug} is {'' if ome.is_opioid else 'not '}an opioid.")
    ome_day = ome.ome_mg_day if data.status == "active" else 0.0
    if ome_day is not None and is_opioid is False:
        ome_day = 0.0
    per_kg = round(ome_day / data.weight_kg, 4) if ome_day is not None and data.weight_kg else None
    return {
        "drug": drug,
        "dose": data.dose,
        "dose_unit": data.dose_unit,
        "route": data.route,
        "doses_per_day": data.doses_per_day,
        "medication_status": data.status,
        "is_opioid": is_opioid,
        "weight_kg": data.weight_kg,
        "ome_mg_day": ome_day,
        "ome_mg_kg_day": per_kg,
        "ome_factors_version": FACTORS_VERSION,
    }


async def _check_procedure(
    session: AsyncSession, patient_id: uuid.UUID, procedure_id: uuid.UUID | None
) -> None:
    if procedure_id is None:
        return
    owner = await session.scalar(select(Procedure.patient_id).where(Procedure.id == procedure_id))
    if owner != patient_id:
        raise RuleViolation(
            "procedure_id",
            f"Procedure {procedure_id} is not a procedure of this patient.",
            "procedure-not-of-patient",
        )


def _record_death(patient: Patient, when: datetime) -> None:
    day = clinical_date(when, get_settings().registry_time_zone)
    if patient.death_date is not None and patient.death_date != day:
        raise Conflict(
            f"The patient's death is already recorded on {patient.death_date}.", "death-recorded"
        )
    patient.death_date = day


async def _validated(session: AsyncSession, data: FollowUpCreate) -> tuple[Patient, dict[str, Any]]:
    patient = await require_patient(session, data.patient_id, "patient_id")
    if isinstance(data, DeathIn):
        check_within_life(
            patient, data.occurred_at, "occurred_at"
        ) if patient.death_date is None else None
        day = clinical_date(data.occurred_at, get_settings().registry_time_zone)
        await check_no_record_after(session, patient.id, day, "occurred_at")
    else:
        check_within_life(patient, data.occurred_at, "occurred_at")
    await _check_procedure(session, patient.id, data.procedure_id)
    return patient, kind_values(patient, data)


async def follow_up_values(session: AsyncSession, data: FollowUpCreate) -> dict[str, Any]:
    """Validate a new event; the values of every column of its row but the id and the
    timestamps (a death also sets the patient's death date). A caller that inserts rows with
    a Core statement (batched event ingestion) notes them for the imaging triggers, which see
    only the ORM's flushes (app/triggers/marks.py: `note_rows`)."""
    patient, values = await _validated(session, data)
    if isinstance(data, DeathIn):
        _record_death(patient, data.occurred_at)
    return {
        "patient_id": patient.id,
        "procedure_id": data.procedure_id,
        "kind": data.kind,
        "occurred_at": data.occurred_at,
        "note": data.note,
        **dict.fromkeys(KIND_COLUMNS),
        **values,
    }


async def create_follow_up(session: AsyncSession, data: FollowUpCreate) -> FollowUpEvent:
    event = FollowUpEvent(**await follow_up_values(session, data))
    session.add(event)
    await session.flush()
    return event


async def get_follow_up(session: AsyncSession, event_id: uuid.UUID) -> FollowUpEvent:
    event = await session.get(FollowUpEvent, event_id)
    if event is None:
        raise NotFound("Follow-up event", event_id)
    return event


async def replace_follow_up(
    session: AsyncSession,
    event_id: uuid.UUID,
    data: FollowUpCreate,
    expected_version: int | None,
) -> FollowUpEvent:
    event = await get_follow_up(session, event_id)
    check_version(event.version, expected_version, "Follow-up event")
    if data.kind != event.kind or data.patient_id != event.patient_id:
        raise RuleViolation(
            "kind", "An event keeps its kind and patient; record a new event instead."
        )
    patient, values = await _validated(session, data)
    if isinstance(data, DeathIn):
        patient.death_date = None
        _record_death(patient, data.occurred_at)
    event.procedure_id = data.procedure_id
    event.occurred_at = data.occurred_at
    event.note = data.note
    for column in KIND_COLUMNS:
        setattr(event, column, values.get(column))
    await session.flush()
    return event


async def list_follow_ups(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID | None,
    procedure_id: uuid.UUID | None,
    kind: str | None,
    occurred_from: datetime | None,
    occurred_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[FollowUpEvent], str | None]:
    stmt = select(FollowUpEvent)
    if patient_id:
        stmt = stmt.where(FollowUpEvent.patient_id == patient_id)
    if procedure_id:
        stmt = stmt.where(FollowUpEvent.procedure_id == procedure_id)
    if kind:
        stmt = stmt.where(FollowUpEvent.kind == kind)
    if occurred_from:
        stmt = stmt.where(FollowUpEvent.occurred_at >= occurred_from)
    if occurred_to:
        stmt = stmt.where(FollowUpEvent.occurred_at <= occurred_to)
    return await fetch_page(session, stmt, FollowUpEvent.id, cursor, limit)
