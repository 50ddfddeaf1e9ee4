"""Load the seed cases (seed/*.json) through the service layer, with the API's validation.

Idempotent: each case carries a seed identifier; a case whose identifier exists is skipped.
"""

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.common.resources import resource_path
from app.complications.schemas import ComplicationCreate
from app.complications.service import create_complication
from app.db import commit
from app.follow_up.schemas import FollowUpCreate
from app.follow_up.service import create_follow_up
from app.patients.schemas import PatientCreate
from app.patients.service import create_patient, find_by_identifier
from app.procedures.schemas import ProcedureCreate, SeriesCreate
from app.procedures.service import create_procedure, create_series
from app.triggers import marks  # noqa: F401  (its flush listener marks the cases' patients)

SEED_DIR = resource_path("seed")
SEED_SYSTEM = "urn:vertebro:seed"
_follow_up = TypeAdapter[FollowUpCreate](FollowUpCreate)


async def load_case(session: AsyncSession, case: dict[str, Any]) -> bool:
    """Create one case; False when it is already there."""
    if await find_by_identifier(session, SEED_SYSTEM, case["key"]):
        return False
    patient_data = {**case["patient"]}
    patient_data["identifiers"] = [
        {"system": SEED_SYSTEM, "value": case["key"]},
        *patient_data.get("identifiers", []),
    ]
    death_date = patient_data.pop("death_date", None)
    patient = await create_patient(session, PatientCreate.model_validate(patient_data))
    series = {}
    for s in case.get("series", []):
        body = {k: v for k, v in s.items() if k != "ref"}
        created = await create_series(
            session, SeriesCreate.model_validate({**body, "patient_id": patient.id})
        )
        series[s["ref"]] = created.id
    procedures = {}
    for p in case.get("procedures", []):
        body = {k: v for k, v in p.items() if k not in {"ref", "series_ref", "complications"}}
        body["patient_id"] = patient.id
        if "series_ref" in p:
            body["series_id"] = series[p["series_ref"]]
        procedure = await create_procedure(session, ProcedureCreate.model_validate(body))
        procedures[p["ref"]] = procedure.id
        for c in p.get("complications", []):
            await create_complication(
                session, ComplicationCreate.model_validate({**c, "procedure_id": procedure.id})
            )
    for f in sorted(case.get("follow_ups", []), key=lambda f: f["occurred_at"]):
        body = {k: v for k, v in f.items() if k != "procedure_ref"}
        body["patient_id"] = patient.id
        if "procedure_ref" in f:
            body["procedure_id"] = procedures[f["procedure_ref"]]
        await create_follow_up(session, _follow_up.validate_python(body))
    if death_date and patient.death_date is None:
        patient.death_date = PatientCreate.model_validate({"death_date": death_date}).death_date
    await session.flush()
    return True


def read_cases(directory: Path = SEED_DIR) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


async def load_all(
    sessionmaker: async_sessionmaker[AsyncSession], directory: Path = SEED_DIR
) -> dict[str, bool]:
    """Each case in its own transaction; returns key -> created (False: already there)."""
    results = {}
    for case in read_cases(directory):
        async with sessionmaker() as session:
            results[case["key"]] = await load_case(session, case)
            await commit(session)  # and the imaging triggers' evaluation after it
    return results
