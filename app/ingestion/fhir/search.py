"""FHIR R4 search on Patient, Procedure and Observation, and Patient/$everything, as searchset
Bundles (app.ingestion.fhir.searchset).

Pages are keyset pages in id order (UUIDv7: creation order), so a page never repeats or skips
a record when others are added meanwhile. `total` is given when it costs nothing (the first
page holds every match) or when asked with `_total=accurate` (one more query; for a Procedure
search by `code` a scan of the matches, since the CPT code is derived from the kind and the
levels). The parameters each type takes are SEARCH_PARAMETERS: the CapabilityStatement says
the same, read from here.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, false, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.auth.visibility import identifiers_visible
from app.ingestion import identifiers
from app.ingestion.fhir import outbound, search_clinical
from app.ingestion.fhir.codes import CPT, OBSERVATION_CATEGORY, PROCEDURE_CPT, SCALE_CODE
from app.ingestion.fhir.links import episode_part_of
from app.ingestion.fhir.params import date_clause, period, reference_id, token
from app.ingestion.fhir.reading import FhirError
from app.ingestion.fhir.searchset import (
    Query,
    bundle,
    collect,
    decode_offset,
    encode_offset,
    total_of,
)
from app.ingestion.mappers import PATIENT_SYSTEM
from app.models import FollowUpEvent, Patient, PatientIdentifier, Procedure

# type -> (parameter, FHIR search type, what it matches)
SEARCH_PARAMETERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Patient": (
        (
            "identifier",
            "token",
            "system|value; the senders' identifiers only for a credential "
            "that may see them, the registry's own (urn:vertebro:patient|<id>) for any",
        ),
        ("birthdate", "date", "birth date, with the prefixes eq, gt, lt, ge, le"),
    ),
    "Procedure": (
        ("patient", "reference", "Patient/<id> or <id>"),
        ("date", "date", "performed date(time), with the prefixes eq, gt, lt, ge, le"),
        ("code", "token", "CPT code (system http://www.ama-assn.org/go/cpt)"),
    ),
    "Observation": (
        ("patient", "reference", "Patient/<id> or <id>"),
        ("code", "token", "LOINC or NCIt code of the score"),
        ("date", "date", "effective date(time), with the prefixes eq, gt, lt, ge, le"),
        ("category", "token", "observation-category code (every score here is survey)"),
    ),
    **search_clinical.SEARCH_PARAMETERS,
}
INCLUDES = {"Observation": ("Observation:part-of",)}
EVERYTHING_PARAMETERS = ("_since", "_type")
RESOURCE_TYPES = outbound.CASE_TYPES


def known(resource_type: str) -> list[str]:
    names = [name for name, _type, _doc in SEARCH_PARAMETERS[resource_type]]
    return names + (["_include"] if resource_type in INCLUDES else [])


def _matches(resource: dict[str, Any], system: str | None, code: str | None) -> bool:
    return any(
        (system is None or c.get("system", "") == system) and (code is None or c["code"] == code)
        for c in resource.get("code", {}).get("coding", [])
    )


# --- Patient -----------------------------------------------------------------------------------
def _identifier_clause(value: str) -> Any:
    system, ident = token(value)
    if system == PATIENT_SYSTEM:
        try:
            return Patient.id == uuid.UUID(ident or "")
        except ValueError:
            return false()
    if not identifiers_visible():
        return false()  # a credential that may not see MRNs may not look patients up by one
    clauses = [PatientIdentifier.patient_id == Patient.id]
    if system is not None:
        clauses.append(PatientIdentifier.system == system)
    if ident is not None:
        clauses.append(PatientIdentifier.value == ident)
    return exists().where(*clauses)


async def _render_patients(session: AsyncSession, rows: Sequence[Patient]) -> list[dict[str, Any]]:
    ids = [p.id for p in rows]
    deaths = {
        e.patient_id: e
        for e in await session.scalars(
            select(FollowUpEvent).where(
                FollowUpEvent.patient_id.in_(ids), FollowUpEvent.kind == "death"
            )
        )
    }
    return [outbound.render_patient(p, deaths.get(p.id)) for p in rows]


async def patients(session: AsyncSession, base: str, query: Query) -> dict[str, Any]:
    stmt = select(Patient).options(selectinload(Patient.identifiers))
    for value in query.values("identifier"):
        stmt = stmt.where(_identifier_clause(value))
    for value in query.values("birthdate"):
        stmt = stmt.where(date_clause(Patient.birth_date, value, "birthdate", dates=True))

    async def render(rows: Sequence[Patient]) -> list[dict[str, Any]]:
        return await _render_patients(session, rows)

    found, cursor = await collect(session, stmt, Patient.id, query, render, None)
    total = await total_of(session, stmt, query, len(found), cursor is not None, False)
    return bundle(base, "Patient", query, [(r, "match") for r in found], cursor, total)


# --- Procedure ---------------------------------------------------------------------------------
async def _render_procedures(
    session: AsyncSession, rows: Sequence[Procedure]
) -> list[dict[str, Any]]:
    kept = await identifiers.of_records(session, "Procedure", [p.id for p in rows])
    return [
        outbound.render_procedure(p, {"reference": f"Patient/{p.patient_id}"}, kept.get(p.id, []))
        for p in rows
    ]


async def procedures(session: AsyncSession, base: str, query: Query) -> dict[str, Any]:
    stmt = select(Procedure).options(selectinload(Procedure.levels))
    for value in query.values("patient"):
        stmt = stmt.where(Procedure.patient_id == reference_id(value, "Patient", "patient"))
    for value in query.values("date"):
        stmt = stmt.where(date_clause(Procedure.performed_at, value, "date"))
    codes = [token(v) for v in query.values("code")]
    for system, code in codes:
        kinds = {k for c, k in PROCEDURE_CPT.items() if code in (None, c)}
        stmt = stmt.where(Procedure.kind.in_(kinds) if system in (None, CPT) else false())

    def keep(resource: dict[str, Any]) -> bool:
        return all(_matches(resource, system, code) for system, code in codes)

    async def render(rows: Sequence[Procedure]) -> list[dict[str, Any]]:
        return await _render_procedures(session, rows)

    found, cursor = await collect(
        session, stmt, Procedure.id, query, render, keep if codes else None
    )
    total = await total_of(session, stmt, query, len(found), cursor is not None, bool(codes))
    if total is None and codes and query.accurate_total:
        total = len([r for r in await render((await session.scalars(stmt)).all()) if keep(r)])
    return bundle(base, "Procedure", query, [(r, "match") for r in found], cursor, total)


# --- Observation -------------------------------------------------------------------------------
def _scales(value: str) -> list[str]:
    system, code = token(value)
    return [
        scale
        for scale, (s, c) in SCALE_CODE.items()
        if (system is None or system == s) and (code is None or code == c)
    ]


def _part_of(resource: dict[str, Any]) -> uuid.UUID | None:
    refs = resource.get("partOf") or [{}]
    reference = str(refs[0].get("reference", ""))
    return uuid.UUID(reference.split("/", 1)[1]) if reference.startswith("Procedure/") else None


async def _render_observations(
    session: AsyncSession, rows: Sequence[FollowUpEvent]
) -> list[dict[str, Any]]:
    kept = await identifiers.of_records(session, "Observation", [e.id for e in rows])
    part_of = await episode_part_of(session, rows)
    return [
        outbound.render_observation(
            e, {"reference": f"Patient/{e.patient_id}"}, part_of.get(e.id), kept.get(e.id, [])
        )
        for e in rows
    ]


async def observations(session: AsyncSession, base: str, query: Query) -> dict[str, Any]:
    stmt = select(FollowUpEvent).where(
        FollowUpEvent.kind.in_(outbound.OBSERVED_KINDS), FollowUpEvent.scale.is_not(None)
    )
    for value in query.values("patient"):
        stmt = stmt.where(FollowUpEvent.patient_id == reference_id(value, "Patient", "patient"))
    for value in query.values("code"):
        stmt = stmt.where(FollowUpEvent.scale.in_(_scales(value)))
    for value in query.values("date"):
        stmt = stmt.where(date_clause(FollowUpEvent.occurred_at, value, "date"))
    for value in query.values("category"):
        system, code = token(value)
        if system not in (None, OBSERVATION_CATEGORY[0]) or code not in (
            None,
            OBSERVATION_CATEGORY[1],
        ):
            stmt = stmt.where(false())
    includes = query.values("_include")
    for value in includes:
        if value not in INCLUDES["Observation"]:
            raise FhirError(
                400, "not-supported", f"_include: only {INCLUDES['Observation'][0]}.", "_include"
            )

    async def render(rows: Sequence[FollowUpEvent]) -> list[dict[str, Any]]:
        return await _render_observations(session, rows)

    found, cursor = await collect(session, stmt, FollowUpEvent.id, query, render, None)
    total = await total_of(session, stmt, query, len(found), cursor is not None, False)
    entries = [(r, "match") for r in found]
    if includes:
        wanted = {p for p in map(_part_of, found) if p is not None}
        rows = (
            await session.scalars(
                select(Procedure)
                .where(Procedure.id.in_(wanted))
                .options(selectinload(Procedure.levels))
                .order_by(Procedure.id)
            )
        ).all()
        entries += [(r, "include") for r in await _render_procedures(session, rows)]
    return bundle(base, "Observation", query, entries, cursor, total)


# --- Patient/$everything -----------------------------------------------------------------------
def _since(query: Query) -> datetime | None:
    raw = query.one("_since")
    if raw is None:
        return None
    if "T" not in raw:
        raise FhirError(400, "invalid", "_since is an instant with a time zone.", "_since")
    return period(raw, "_since").start


def _types(query: Query) -> set[str]:
    wanted = {t.strip() for v in query.values("_type") for t in v.split(",") if t.strip()}
    return wanted or set(RESOURCE_TYPES)


async def everything(
    session: AsyncSession, base: str, patient_id: uuid.UUID, query: Query
) -> dict[str, Any]:
    """R4 Patient/$everything: the patient and its case (outbound.CASE_TYPES), as a searchset paged
    by `_count` (the case is assembled whole, then sliced: a case is small)."""
    since, types = _since(query), _types(query)
    case = await outbound.load_case(session, patient_id, since)
    part_of = await episode_part_of(session, case.observed)
    resources = [
        r
        for r in outbound.case_resources(case, part_of)
        if r["resourceType"] in types
        and (
            r["resourceType"] not in outbound.FROM_PATIENT_ROW
            or since is None
            or case.patient.updated_at >= since
        )
    ]
    start = decode_offset(query.cursor)
    page = resources[start : start + query.count]
    more = start + query.count < len(resources)
    next_cursor = encode_offset(start + query.count) if more else None
    path = f"Patient/{patient_id}/$everything"
    entries = [(r, "match") for r in page]
    return bundle(base, path, query, entries, next_cursor, len(resources))
