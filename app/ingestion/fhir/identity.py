"""Which record a FHIR create names, so that sending it again creates nothing: the record of
its If-None-Exist identifier, or (a plain create) of one of its own identifiers; and the event
key that makes the same create sent many times at once one event."""

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import select

from app.ingestion import identifiers
from app.ingestion.context import Context
from app.ingestion.fhir.codes import FOLLOW_UP_SYSTEM
from app.ingestion.fhir.reading import FhirError
from app.ingestion.fhir.reading import identifiers as identifiers_of
from app.ingestion.identifiers import Identifier, Owner, ResourceType
from app.ingestion.mappers import PatientKey, canonical_json
from app.models import FollowUpEvent


async def named(ctx: Context, resource_type: str, key: Identifier) -> Owner | None:
    """The record of this type that the identifier names (the registry's own ids included)."""
    if resource_type == "Patient":
        await ctx.load_patients([key])
        patient = ctx.patients.get(key)
        return Owner(patient.id, patient.id) if patient else None
    if resource_type == "Procedure":
        procedure = await ctx.procedure(key)  # its reference, or the registry's own id
        if procedure is not None:
            return Owner(procedure.id, procedure.patient_id)
    elif key[0] == FOLLOW_UP_SYSTEM:
        try:
            follow_up_id = uuid.UUID(key[1])
        except ValueError:
            return None
        row = (
            await ctx.session.execute(
                select(FollowUpEvent.id, FollowUpEvent.patient_id).where(
                    FollowUpEvent.id == follow_up_id
                )
            )
        ).first()
        return Owner(row[0], row[1]) if row else None
    return await identifiers.owner(ctx.session, cast(ResourceType, resource_type), key)


async def by_condition(
    ctx: Context, resource_type: str, condition: Identifier | None
) -> uuid.UUID | None:
    """Conditional create: the record the condition names, whoever's it is (FHIR's rule)."""
    if condition is None:
        return None
    found = await named(ctx, resource_type, condition)
    return found.record_id if found else None


async def sent_before(
    ctx: Context, resource_type: str, resource: BaseModel, patient: PatientKey, where: str
) -> uuid.UUID | None:
    """A plain create of a Procedure or Observation whose identifier is stored: that record.
    The identifier naming another patient's record is refused (409), never answered with it.
    (A Patient create is matched by its content instead: it may update the patient.)"""
    if resource_type == "Patient":
        return None
    for key in identifiers_of(resource):
        found = await named(ctx, resource_type, key)
        if found is None:
            continue
        await ctx.load_patients([patient])
        subject = ctx.patients.get(patient)
        if subject is None or subject.id != found.patient_id:
            taken = identifiers.IdentifierTaken(resource_type, key)
            raise FhirError(409, taken.code, taken.detail, f"{where}.identifier")
        return found.record_id
    return None


async def known_patient(ctx: Context, key: PatientKey) -> bool:
    await ctx.load_patients([key])
    return key in ctx.patients


def event_id(
    resource_type: str,
    condition: tuple[str, str] | None,
    resource: BaseModel,
    payload: Mapping[str, Any],
) -> str:
    """The event key of a create, which makes the same create sent again (or many times at
    once) one event: the condition's identifier; else the resource's first identifier; a
    Patient (whose create also updates a patient already known) its content; else none
    (nothing to know it by: a new event)."""
    if resource_type == "Patient" and condition is None:
        return f"Patient?sha256={hashlib.sha256(canonical_json(payload).encode()).hexdigest()}"
    key = condition or next(iter(identifiers_of(resource)), None)
    if key is None:
        return f"{resource_type}/{uuid.uuid4()}"
    candidate = f"{resource_type}?identifier={key[0]}|{key[1]}"
    if len(candidate) <= 190:
        return candidate
    return f"{resource_type}?sha256={hashlib.sha256(candidate.encode()).hexdigest()}"
