"""FHIR R4 search on Condition, MedicationStatement and AdverseEvent (app.ingestion.fhir.clinical
renders them), with R4's own parameter names for each type; keyset pages as app.ingestion
.fhir.search's."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.follow_up.opioids import RXNORM_INGREDIENTS, RXNORM_SYSTEM
from app.ingestion.fhir import clinical
from app.ingestion.fhir.codes import ADVERSE_EVENT_SEVERITY
from app.ingestion.fhir.params import date_clause, reference_id, token
from app.ingestion.fhir.searchset import Query, bundle, collect, total_of
from app.models import Complication, FollowUpEvent, Patient, Procedure

_PATIENT = ("patient", "reference", "Patient/<id> or <id>")
SEARCH_PARAMETERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Condition": (
        _PATIENT,
        ("onset-date", "date", "diagnosis date, with the prefixes eq, gt, lt, ge, le"),
    ),
    "MedicationStatement": (
        _PATIENT,
        ("effective", "date", "date(time) of the record, with the prefixes eq, gt, lt, ge, le"),
        ("code", "token", "RxNorm ingredient code (only where the drug's code is verified)"),
    ),
    "AdverseEvent": (
        ("subject", "reference", "Patient/<id> or <id>"),
        ("date", "date", "onset (else the procedure's) date(time), with the prefixes"),
        ("severity", "token", "adverse-event-severity code: mild, moderate, severe"),
    ),
}


def _subject(patient_id: Any) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


async def _page(
    session: AsyncSession, base: str, kind: str, query: Query, stmt: Any, key: Any, render: Any
) -> dict[str, Any]:
    async def rendered(rows: Sequence[Any]) -> list[dict[str, Any]]:
        return list(await render(rows))

    found, cursor = await collect(session, stmt, key, query, rendered, None)
    total = await total_of(session, stmt, query, len(found), cursor is not None, False)
    return bundle(base, kind, query, [(r, "match") for r in found], cursor, total)


async def conditions(session: AsyncSession, base: str, query: Query) -> dict[str, Any]:
    stmt = select(Patient).where(
        or_(
            Patient.histology.is_not(None),
            Patient.histology_group.is_not(None),
            Patient.primary_site.is_not(None),
        )
    )
    for value in query.values("patient"):
        stmt = stmt.where(Patient.id == reference_id(value, "Patient", "patient"))
    for value in query.values("onset-date"):
        stmt = stmt.where(date_clause(Patient.diagnosis_date, value, "onset-date", dates=True))

    async def render(rows: Sequence[Patient]) -> list[dict[str, Any]]:
        found = (clinical.render_condition(p, _subject(p.id)) for p in rows)
        return [r for r in found if r is not None]

    return await _page(session, base, "Condition", query, stmt, Patient.id, render)


async def medication_statements(session: AsyncSession, base: str, query: Query) -> dict[str, Any]:
    stmt = select(FollowUpEvent).where(FollowUpEvent.kind == "medication")
    for value in query.values("patient"):
        stmt = stmt.where(FollowUpEvent.patient_id == reference_id(value, "Patient", "patient"))
    for value in query.values("effective"):
        stmt = stmt.where(date_clause(FollowUpEvent.occurred_at, value, "effective"))
    for value in query.values("code"):
        system, code = token(value)
        drugs = [d for d, c in RXNORM_INGREDIENTS.items() if code in (None, c)]
        ok = system in (None, RXNORM_SYSTEM)
        stmt = stmt.where(func.lower(FollowUpEvent.drug).in_(drugs) if ok else false())

    async def render(rows: Sequence[FollowUpEvent]) -> list[dict[str, Any]]:
        return [clinical.render_medication_statement(e, _subject(e.patient_id)) for e in rows]

    return await _page(session, base, "MedicationStatement", query, stmt, FollowUpEvent.id, render)


async def adverse_events(session: AsyncSession, base: str, query: Query) -> dict[str, Any]:
    stmt = select(Complication).join(Procedure, Procedure.id == Complication.procedure_id)
    for value in query.values("subject"):
        stmt = stmt.where(Procedure.patient_id == reference_id(value, "Patient", "subject"))
    when = func.coalesce(Complication.onset_at, Procedure.performed_at)
    for value in query.values("date"):
        stmt = stmt.where(date_clause(when, value, "date"))  # type: ignore[arg-type]
    for value in query.values("severity"):
        system, code = token(value)
        if system not in (None, ADVERSE_EVENT_SEVERITY) or code not in (None, *clinical.SEVERITY):
            stmt = stmt.where(false())
        else:
            stmt = stmt.where(
                Complication.sir_2017.in_([code] if code else list(clinical.SEVERITY))
            )

    async def render(rows: Sequence[Complication]) -> list[dict[str, Any]]:
        procedures = {
            p.id: p
            for p in await session.scalars(
                select(Procedure).where(Procedure.id.in_({c.procedure_id for c in rows}))
            )
        }
        return [
            clinical.render_adverse_event(
                c,
                _subject(procedures[c.procedure_id].patient_id),
                procedures[c.procedure_id].performed_at,
            )
            for c in rows
        ]

    return await _page(session, base, "AdverseEvent", query, stmt, Complication.id, render)


SEARCHES = {
    "Condition": conditions,
    "MedicationStatement": medication_statements,
    "AdverseEvent": adverse_events,
}
