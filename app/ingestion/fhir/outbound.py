"""Registry records -> FHIR R4 resources, and a patient's case in its two forms.

`$everything` (R4 Patient-everything) answers a searchset (app.ingestion.fhir.searchset) of
`case_resources`. `$transfer`, the registry's own operation for registry-to-registry transfer,
answers a *transaction* Bundle that can be posted back as it is: every entry is a conditional
create on its first identifier (the sender's, or the one the registry gives it), so posting it
to the same registry creates nothing, and posting it to an empty one rebuilds the case (the
parts the FHIR mapping carries: see docs/fhir.md).

Identifiers follow the one visibility rule (app.auth.visibility): the senders' (MRNs, order
numbers) only for a credential that may see them; for the others each record carries the
registry's own identifier, which names it by id.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.auth.visibility import identifiers_visible
from app.clinical.levels import SNOMED_VERTEBRA
from app.errors import NotFound
from app.ingestion import identifiers
from app.ingestion.fhir import clinical
from app.ingestion.fhir.codes import (
    CPT,
    FOLLOW_UP_SYSTEM,
    OBSERVATION_CATEGORY,
    OBSERVATION_DISPLAY,
    PROCEDURE_CPT_DISPLAY,
    SCALE_CODE,
    SNOMED,
    TARGET_PAIN_SITE_EXTENSION,
    UCUM,
    cpt_codes,
)
from app.ingestion.mappers import PATIENT_SYSTEM, PROCEDURE_SYSTEM
from app.models import Complication, FollowUpEvent, Patient, Procedure

OBSERVED_KINDS = ("pain", "performance", "function")


def _category() -> dict[str, Any]:
    system, code, display = OBSERVATION_CATEGORY
    return {"coding": [{"system": system, "code": code, "display": display}]}


def urn(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


def shown(
    external: list[dict[str, str]], own_system: str, record_id: uuid.UUID
) -> list[dict[str, str]]:
    """A record's identifiers as this caller may see them: the senders' (MRNs, order numbers)
    only with a credential that sees identifiers (the rule of every representation,
    app.auth.visibility), otherwise, and when there is none, the registry's own."""
    if external and identifiers_visible():
        return external
    return [{"system": own_system, "value": str(record_id)}]


def patient_identifiers(patient: Patient) -> list[dict[str, str]]:
    found = [{"system": i.system, "value": i.value} for i in patient.identifiers]
    return shown(found, PATIENT_SYSTEM, patient.id)


def procedure_identifiers(procedure: Procedure, kept: list[dict[str, str]]) -> list[dict[str, str]]:
    """The sender's identifiers as sent, or the reference of a procedure sent as an event."""
    if not kept and procedure.external_source and procedure.external_ref:
        kept = [{"system": procedure.external_source, "value": procedure.external_ref}]
    return shown(kept, PROCEDURE_SYSTEM, procedure.id)


def render_patient(patient: Patient, died: FollowUpEvent | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.id),
        "identifier": patient_identifiers(patient),
        "gender": patient.sex,
    }
    if patient.birth_date:
        resource["birthDate"] = patient.birth_date.isoformat()
    if died is not None:
        resource["deceasedDateTime"] = died.occurred_at.isoformat()
    elif patient.death_date:
        resource["deceasedDateTime"] = patient.death_date.isoformat()
    return resource


def render_procedure(
    procedure: Procedure, subject: dict[str, Any], kept: list[dict[str, str]]
) -> dict[str, Any]:
    levels = [lv.level for lv in procedure.levels]
    code: dict[str, Any] = {"text": procedure.kind}
    cpt = cpt_codes(procedure.kind, levels)  # primary, then one add-on per additional level
    if cpt:
        code["coding"] = [
            {"system": CPT, "code": c, "display": PROCEDURE_CPT_DISPLAY[c]} for c in cpt
        ]
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": str(procedure.id),
        "identifier": procedure_identifiers(procedure, kept),
        "status": "completed",
        "code": code,
        "subject": subject,
        "performedDateTime": procedure.performed_at.isoformat(),
    }
    if levels:
        resource["bodySite"] = [_body_site(level) for level in levels]
    resource["extension"] = [
        {"url": TARGET_PAIN_SITE_EXTENSION, "valueCode": procedure.target_pain_site}
    ]
    if procedure.notes:
        resource["note"] = [{"text": procedure.notes}]
    return resource


def _body_site(level: str) -> dict[str, Any]:
    site: dict[str, Any] = {"text": level}
    code = SNOMED_VERTEBRA.get(level)  # sacral codes are unverified: text only
    if code:
        site["coding"] = [{"system": SNOMED, "code": code, "display": f"{level} vertebra"}]
    return site


def render_observation(
    event: FollowUpEvent,
    subject: dict[str, Any],
    part_of: dict[str, Any] | None,
    kept: list[dict[str, str]],
) -> dict[str, Any]:
    assert event.scale is not None and event.value is not None
    system, code = SCALE_CODE[event.scale]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(event.id),
        "identifier": shown(kept, FOLLOW_UP_SYSTEM, event.id),
        "status": "final",
        "category": [_category()],
        "code": {
            "coding": [
                {"system": system, "code": code, "display": OBSERVATION_DISPLAY[(system, code)]}
            ],
            "text": event.scale,
        },
        "subject": subject,
        "effectiveDateTime": event.occurred_at.isoformat(),
    }
    value: float | int = event.value
    if event.kind == "performance":
        resource["valueInteger"] = int(value)
    else:
        unit = "mm" if event.scale == "vas" else ("%" if event.kind == "function" else "{score}")
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if event.kind == "pain" and event.site:
        resource["bodySite"] = {"text": event.site}
    if part_of is not None:
        resource["partOf"] = [part_of]
    if event.note:
        resource["note"] = [{"text": event.note}]
    return resource


def _entry(resource: dict[str, Any], full_url: str, condition: dict[str, str]) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={condition['system']}|{condition['value']}",
        },
    }


async def load_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    patient = await session.scalar(
        select(Patient).where(Patient.id == patient_id).options(selectinload(Patient.identifiers))
    )
    if patient is None:
        raise NotFound("Patient", patient_id)
    return patient


# what a case is carried as ($everything, $export); Condition, the one derived from the
# patient's row, changes when the patient does
CASE_TYPES = (
    "Patient", "Procedure", "Observation", "Condition", "MedicationStatement", "AdverseEvent",
)  # fmt: skip
FROM_PATIENT_ROW = frozenset({"Patient", "Condition"})


@dataclass
class Case:
    """A patient's records the FHIR door carries: the patient, the death, the procedures and
    the scores, with the senders' identifiers kept for each procedure and score."""

    patient: Patient
    died: FollowUpEvent | None
    procedures: Sequence[Procedure]
    observed: Sequence[FollowUpEvent]
    kept: dict[uuid.UUID, list[dict[str, str]]]
    medications: Sequence[FollowUpEvent] = ()
    # each complication with its procedure's date (an AdverseEvent's date when no onset)
    complications: Sequence[tuple[Complication, datetime]] = ()


async def load_case(
    session: AsyncSession, patient_id: uuid.UUID, since: datetime | None = None
) -> Case:
    """The case; with `since`, only the procedures and scores changed since then."""
    cases = await load_cases(session, [patient_id], since)
    if not cases:
        raise NotFound("Patient", patient_id)
    return cases[0]


async def load_cases(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], since: datetime | None = None
) -> list[Case]:
    """The cases of these patients (those that exist, in the order given) in five queries
    however many: `$everything` reads one, a Bulk Data export a page of them."""
    ids = list(patient_ids)
    patients = {
        p.id: p
        for p in await session.scalars(
            select(Patient).where(Patient.id.in_(ids)).options(selectinload(Patient.identifiers))
        )
    }
    procedure_query = select(Procedure).where(Procedure.patient_id.in_(ids))
    if since is not None:
        procedure_query = procedure_query.where(Procedure.updated_at >= since)
    procedures: dict[uuid.UUID, list[Procedure]] = defaultdict(list)
    for procedure in await session.scalars(
        procedure_query.options(selectinload(Procedure.levels)).order_by(
            Procedure.performed_at, Procedure.id
        )
    ):
        procedures[procedure.patient_id].append(procedure)
    events: dict[uuid.UUID, list[FollowUpEvent]] = defaultdict(list)
    for event in await session.scalars(
        select(FollowUpEvent)
        .where(FollowUpEvent.patient_id.in_(ids))
        .order_by(FollowUpEvent.occurred_at, FollowUpEvent.id)
    ):
        events[event.patient_id].append(event)
    complications: dict[uuid.UUID, list[tuple[Complication, datetime]]] = defaultdict(list)
    complication_query = (
        select(Complication, Procedure.patient_id, Procedure.performed_at)
        .join(Procedure, Procedure.id == Complication.procedure_id)
        .where(Procedure.patient_id.in_(ids))
        .order_by(Procedure.performed_at, Complication.id)
    )
    if since is not None:
        complication_query = complication_query.where(Complication.updated_at >= since)
    for complication, patient_id, performed_at in await session.execute(complication_query):
        complications[patient_id].append((complication, performed_at))
    observed = {
        pid: [
            e
            for e in found
            if e.kind in OBSERVED_KINDS
            and e.scale is not None
            and (since is None or e.updated_at >= since)
        ]
        for pid, found in events.items()
    }
    kept = {
        **await identifiers.of_records(
            session, "Procedure", [p.id for found in procedures.values() for p in found]
        ),
        **await identifiers.of_records(
            session, "Observation", [e.id for found in observed.values() for e in found]
        ),
    }
    return [
        Case(
            patients[pid],
            next((e for e in events.get(pid, []) if e.kind == "death"), None),
            procedures.get(pid, []),
            observed.get(pid, []),
            kept,
            [
                e
                for e in events.get(pid, [])
                if e.kind == "medication" and (since is None or e.updated_at >= since)
            ],
            complications.get(pid, []),
        )
        for pid in ids
        if pid in patients
    ]


def case_resources(case: Case, part_of: dict[uuid.UUID, dict[str, Any]]) -> list[dict[str, Any]]:
    """The case as resources that refer to each other by id (Patient/<id>, Procedure/<id>),
    for `$everything` (a searchset) and `$export`: the patient, its procedures, its scores
    (`part_of`: app.ingestion.fhir.links), its diagnosis, medications and complications
    (app.ingestion.fhir.clinical)."""
    subject = {"reference": f"Patient/{case.patient.id}"}
    resources = [render_patient(case.patient, case.died)]
    resources += [render_procedure(p, subject, case.kept.get(p.id, [])) for p in case.procedures]
    for event in case.observed:
        kept = case.kept.get(event.id, [])
        resources.append(render_observation(event, subject, part_of.get(event.id), kept))
    if (condition := clinical.render_condition(case.patient, subject)) is not None:
        resources.append(condition)
    resources += [clinical.render_medication_statement(m, subject) for m in case.medications]
    resources += [
        clinical.render_adverse_event(c, subject, performed_at)
        for c, performed_at in case.complications
    ]
    return resources


async def transfer(session: AsyncSession, patient_id: uuid.UUID) -> dict[str, Any]:
    """`$transfer`: the case as a transaction Bundle that POST /fhir/r4/Bundle takes back."""
    case = await load_case(session, patient_id)
    patient = case.patient
    subject = {"reference": urn(patient.id)}
    entries = [
        _entry(render_patient(patient, case.died), urn(patient.id), patient_identifiers(patient)[0])
    ]
    for procedure in case.procedures:
        resource = render_procedure(procedure, subject, case.kept.get(procedure.id, []))
        entries.append(_entry(resource, urn(procedure.id), resource["identifier"][0]))
    for event in case.observed:
        part_of = {"reference": urn(event.procedure_id)} if event.procedure_id else None
        resource = render_observation(event, subject, part_of, case.kept.get(event.id, []))
        entries.append(_entry(resource, urn(event.id), resource["identifier"][0]))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
