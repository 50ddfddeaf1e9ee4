"""Patients: creation, identifiers, updates, lookups. Plain functions over an AsyncSession."""

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.clinical.days import clinical_date
from app.common.pagination import fetch_page
from app.common.updates import check_version, merge_update
from app.config import get_settings
from app.errors import Conflict, NotFound, RuleViolation
from app.models import FollowUpEvent, Patient, PatientIdentifier, Procedure
from app.patients.schemas import IdentifierIn, PatientCreate, PatientUpdate


async def _check_identifiers_free(
    session: AsyncSession, identifiers: Sequence[IdentifierIn], patient_id: uuid.UUID | None
) -> None:
    for i, ident in enumerate(identifiers):
        owner = await session.scalar(
            select(PatientIdentifier.patient_id).where(
                PatientIdentifier.system == ident.system, PatientIdentifier.value == ident.value
            )
        )
        if owner is not None and owner != patient_id:
            raise Conflict(
                f"identifiers.{i}: {ident.system}|{ident.value} belongs to another patient.",
                "identifier-taken",
            )


async def create_patient(session: AsyncSession, data: PatientCreate) -> Patient:
    await _check_identifiers_free(session, data.identifiers, None)
    patient = Patient(
        **data.model_dump(exclude={"identifiers"}),
        identifiers=[PatientIdentifier(system=i.system, value=i.value) for i in data.identifiers],
    )
    session.add(patient)
    await _flush_unique(session)
    return patient


async def _flush_unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent writer took the same identifier
        raise Conflict("An identifier is already in use.", "identifier-taken") from exc


async def get_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    patient = await session.scalar(
        select(Patient).where(Patient.id == patient_id).options(selectinload(Patient.identifiers))
    )
    if patient is None:
        raise NotFound("Patient", patient_id)
    return patient


async def find_by_identifier(session: AsyncSession, system: str, value: str) -> Patient | None:
    return await session.scalar(
        select(Patient)
        .join(PatientIdentifier)
        .where(PatientIdentifier.system == system, PatientIdentifier.value == value)
        .options(selectinload(Patient.identifiers))
    )


async def require_patient(session: AsyncSession, patient_id: uuid.UUID, field: str) -> Patient:
    """A patient referenced from a request body: a missing one is a bad reference (422)."""
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise RuleViolation(field, f"Patient {patient_id} does not exist.", "unknown-reference")
    return patient


async def _record_day(session: AsyncSession, patient_id: uuid.UUID, *, latest: bool) -> date | None:
    """The day of the patient's earliest (or latest) procedure or follow-up; a death event
    does not count as the latest record."""
    bound = func.max if latest else func.min
    follow_ups = [FollowUpEvent.patient_id == patient_id]
    if latest:
        follow_ups.append(FollowUpEvent.kind != "death")
    procedure = await session.scalar(
        select(bound(Procedure.performed_at)).where(Procedure.patient_id == patient_id)
    )
    follow_up = await session.scalar(select(bound(FollowUpEvent.occurred_at)).where(*follow_ups))
    zone_name = get_settings().registry_time_zone
    dates = [clinical_date(d, zone_name) for d in (procedure, follow_up) if d is not None]
    if not dates:
        return None
    return max(dates) if latest else min(dates)


async def check_no_record_after(
    session: AsyncSession, patient_id: uuid.UUID, death: date, field: str
) -> None:
    """A death date may not fall before what is already recorded of the patient (the same
    rule as for birth, the other way round)."""
    latest = await _record_day(session, patient_id, latest=True)
    if latest is not None and latest > death:
        raise RuleViolation(
            field,
            f"The patient has records from {latest}, after this death date ({death}).",
            "records-after-death",
        )


async def update_patient(
    session: AsyncSession, patient_id: uuid.UUID, patch: PatientUpdate, expected_version: int | None
) -> Patient:
    patient = await get_patient(session, patient_id)
    check_version(patient.version, expected_version, "Patient")
    current = {
        name: getattr(patient, name) for name in PatientCreate.model_fields if name != "identifiers"
    }
    current["identifiers"] = [{"system": i.system, "value": i.value} for i in patient.identifiers]
    merged = merge_update(PatientCreate, current, patch)
    if merged.birth_date is not None:
        earliest = await _record_day(session, patient_id, latest=False)
        if earliest is not None and earliest < merged.birth_date:
            raise RuleViolation(
                "birth_date", f"The patient has records from {earliest}, before this birth date."
            )
    if merged.death_date is not None and merged.death_date != patient.death_date:
        await check_no_record_after(session, patient_id, merged.death_date, "death_date")
    for name, value in merged.model_dump(exclude={"identifiers"}).items():
        setattr(patient, name, value)
    if "identifiers" in patch.model_fields_set:
        await _check_identifiers_free(session, merged.identifiers, patient.id)
        wanted = {(i.system, i.value) for i in merged.identifiers}
        patient.identifiers = [i for i in patient.identifiers if (i.system, i.value) in wanted]
        have = {(i.system, i.value) for i in patient.identifiers}
        patient.identifiers.extend(
            PatientIdentifier(system=s, value=v) for s, v in sorted(wanted - have)
        )
    await _flush_unique(session)
    return patient


async def list_patients(
    session: AsyncSession,
    *,
    histology: str | None,
    identifier_system: str | None,
    identifier_value: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Patient], str | None]:
    stmt = select(Patient).options(selectinload(Patient.identifiers))
    if histology:
        stmt = stmt.where(func.lower(Patient.histology) == histology.lower())
    if identifier_value:
        match = select(PatientIdentifier.patient_id).where(
            PatientIdentifier.value == identifier_value
        )
        if identifier_system:
            match = match.where(PatientIdentifier.system == identifier_system)
        stmt = stmt.where(Patient.id.in_(match))
    return await fetch_page(session, stmt, Patient.id, cursor, limit)


def check_within_life(
    patient: Patient, when: datetime, field: str, *, check_death: bool = True
) -> None:
    """Nothing is recorded for a patient before birth or after death."""
    day = clinical_date(when, get_settings().registry_time_zone)
    if patient.birth_date and day < patient.birth_date:
        raise RuleViolation(
            field, f"{day} is before the patient's birth ({patient.birth_date}).", "before-birth"
        )
    if check_death and patient.death_date and day > patient.death_date:
        raise RuleViolation(
            field, f"{day} is after the patient's death ({patient.death_date}).", "after-death"
        )
