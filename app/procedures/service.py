"""Procedures, their levels and staged series."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.clinical.days import clinical_date
from app.clinical.definitions import Definitions
from app.clinical.enums import AUGMENTATION_KINDS
from app.clinical.levels import LEVEL_POSITION
from app.common.pagination import fetch_page
from app.common.updates import check_version, merge_update
from app.config import get_settings
from app.errors import Conflict, DomainError, FieldIssue, NotFound, RuleViolation
from app.models import LevelTreated, Patient, Procedure, ProcedureSeries
from app.patients.service import check_within_life, require_patient
from app.procedures import eligibility
from app.procedures.levels import check_approach, check_level
from app.procedures.schemas import (
    EligibilityRead,
    LevelIn,
    LevelRead,
    LevelUpdate,
    ProcedureCreate,
    ProcedureFields,
    ProcedureRead,
    ProcedureUpdate,
    SeriesCreate,
    WorkUp,
)

WORK_UP_FIELDS = tuple(WorkUp.model_fields)
SCALAR_FIELDS = tuple(f for f in ProcedureFields.model_fields if f != "work_up")


def build_level(data: LevelIn, field: str) -> LevelTreated:
    level = check_level(data.level, data.is_variant, f"{field}.level")
    if data.approach is not None:
        check_approach(level, data.approach, f"{field}.approach")
    return LevelTreated(
        level=level,
        position=LEVEL_POSITION[level],
        **data.model_dump(exclude={"level"}),
    )


def build_levels(levels: Sequence[LevelIn]) -> list[LevelTreated]:
    """Every bad level reported at once: T13 without its variant flag and Q9 in one procedure
    give two errors, not the first only."""
    built: list[LevelTreated] = []
    issues: list[FieldIssue] = []
    codes: set[str] = set()
    for i, data in enumerate(levels):
        try:
            built.append(build_level(data, f"levels.{i}"))
        except RuleViolation as exc:
            issues.extend(exc.errors)
            codes.add(exc.code)
    if len(issues) == 1:
        raise RuleViolation(issues[0].field, issues[0].message, codes.pop())
    if issues:
        code = codes.pop() if len(codes) == 1 else "validation-error"
        raise DomainError(" ".join(issue.message for issue in issues), code, 422, tuple(issues))
    return built


def _check_unique_levels(levels: Sequence[LevelTreated]) -> None:
    seen: set[str] = set()
    for i, lv in enumerate(levels):
        if lv.level in seen:
            raise RuleViolation(f"levels.{i}.level", f"{lv.level} is listed twice.", "level-twice")
        seen.add(lv.level)


async def _check_stage(
    session: AsyncSession,
    patient: Patient,
    series_id: uuid.UUID,
    stage_number: int,
    performed_at: datetime,
    procedure_id: uuid.UUID | None = None,
) -> None:
    series = await session.get(ProcedureSeries, series_id)
    if series is None or series.patient_id != patient.id:
        raise RuleViolation(
            "series_id", f"Series {series_id} does not exist for this patient.", "unknown-reference"
        )
    if stage_number > series.planned_sessions:
        raise RuleViolation(
            "stage_number",
            f"Stage {stage_number} of a series planned in {series.planned_sessions} sessions.",
            "stage-out-of-range",
        )
    siblings = await session.execute(
        select(Procedure.id, Procedure.stage_number, Procedure.performed_at).where(
            Procedure.series_id == series_id
        )
    )
    for sibling_id, number, at in siblings:
        if sibling_id == procedure_id or number is None:
            continue
        if number == stage_number:
            raise Conflict(
                f"Stage {stage_number} of this series is already recorded.", "stage-taken"
            )
        if (number < stage_number) != (at < performed_at):
            raise RuleViolation(
                "performed_at",
                f"Stage {stage_number} must come {'after' if number < stage_number else 'before'} "
                f"stage {number} ({at.isoformat()}).",
                "stage-order",
            )


async def create_procedure(
    session: AsyncSession,
    data: ProcedureCreate,
    *,
    external_source: str | None = None,
    external_ref: str | None = None,
) -> Procedure:
    """`external_source` / `external_ref`: the sending system's reference (event ingestion)."""
    patient = await require_patient(session, data.patient_id, "patient_id")
    check_within_life(patient, data.performed_at, "performed_at")
    if data.series_id is not None and data.stage_number is not None:
        await _check_stage(session, patient, data.series_id, data.stage_number, data.performed_at)
    levels = build_levels(data.levels)
    _check_unique_levels(levels)
    procedure = Procedure(
        patient_id=patient.id,
        series_id=data.series_id,
        stage_number=data.stage_number,
        **data.model_dump(include=set(SCALAR_FIELDS)),
        **data.work_up.model_dump(),
        levels=levels,
        external_source=external_source,
        external_ref=external_ref,
    )
    session.add(procedure)
    await _flush(session)
    return await get_procedure(session, procedure.id)


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent writer took the same stage or level
        raise Conflict("This write conflicts with a concurrent one; retry.", "conflict") from exc


async def get_procedure(session: AsyncSession, procedure_id: uuid.UUID) -> Procedure:
    procedure = await session.scalar(
        select(Procedure)
        .where(Procedure.id == procedure_id)
        .options(selectinload(Procedure.levels), selectinload(Procedure.series))
        .execution_options(populate_existing=True)
    )
    if procedure is None:
        raise NotFound("Procedure", procedure_id)
    return procedure


async def update_procedure(
    session: AsyncSession,
    procedure_id: uuid.UUID,
    patch: ProcedureUpdate,
    expected_version: int | None,
) -> Procedure:
    procedure = await get_procedure(session, procedure_id)
    check_version(procedure.version, expected_version, "Procedure")
    current = {f: getattr(procedure, f) for f in SCALAR_FIELDS}
    current["work_up"] = {f: getattr(procedure, f) for f in WORK_UP_FIELDS}
    merged = merge_update(ProcedureFields, current, patch)
    patient = await session.get(Patient, procedure.patient_id)
    assert patient is not None
    check_within_life(patient, merged.performed_at, "performed_at")
    if merged.kind in AUGMENTATION_KINDS and not procedure.levels:
        raise RuleViolation("kind", f"a {merged.kind} treats at least one level")
    if merged.kind not in AUGMENTATION_KINDS and any(
        lv.cement_volume_ml is not None or lv.leakage is not None for lv in procedure.levels
    ):
        raise RuleViolation("kind", f"cement is recorded on its levels; not a {merged.kind}")
    if procedure.series_id is not None and procedure.stage_number is not None:
        await _check_stage(
            session,
            patient,
            procedure.series_id,
            procedure.stage_number,
            merged.performed_at,
            procedure.id,
        )
    for name, value in merged.model_dump(include=set(SCALAR_FIELDS)).items():
        setattr(procedure, name, value)
    for name, value in merged.work_up.model_dump().items():
        setattr(procedure, name, value)
    await _flush(session)
    return await get_procedure(session, procedure.id)


async def add_level(session: AsyncSession, procedure_id: uuid.UUID, data: LevelIn) -> LevelTreated:
    procedure = await get_procedure(session, procedure_id)
    level = build_level(data, "body")
    if procedure.kind not in AUGMENTATION_KINDS and (
        level.cement_volume_ml is not None or level.leakage is not None
    ):
        raise RuleViolation("cement_volume_ml", f"cement is not recorded for {procedure.kind}")
    if any(lv.level == level.level for lv in procedure.levels):
        raise Conflict(f"{level.level} is already recorded for this procedure.", "level-twice")
    level.procedure_id = procedure.id
    session.add(level)
    await _flush(session)
    return level


async def get_level(
    session: AsyncSession, procedure_id: uuid.UUID, level_id: uuid.UUID
) -> LevelTreated:
    level = await session.get(LevelTreated, level_id)
    if level is None or level.procedure_id != procedure_id:
        raise NotFound("Level", level_id)
    return level


async def update_level(
    session: AsyncSession, procedure_id: uuid.UUID, level_id: uuid.UUID, patch: LevelUpdate
) -> LevelTreated:
    level = await get_level(session, procedure_id, level_id)
    current = {f: getattr(level, f) for f in LevelIn.model_fields}
    merged = merge_update(LevelIn, current, patch)
    checked = build_level(merged, "body")
    for name in LevelUpdate.model_fields:
        setattr(level, name, getattr(checked, name))
    await _flush(session)
    return level


async def list_procedures(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID | None,
    kind: str | None,
    level: str | None,
    performed_from: datetime | None,
    performed_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Procedure], str | None]:
    stmt = select(Procedure).options(selectinload(Procedure.levels), selectinload(Procedure.series))
    if patient_id:
        stmt = stmt.where(Procedure.patient_id == patient_id)
    if kind:
        stmt = stmt.where(Procedure.kind == kind)
    if level:
        stmt = stmt.where(
            Procedure.id.in_(
                select(LevelTreated.procedure_id).where(LevelTreated.level == level.upper())
            )
        )
    if performed_from:
        stmt = stmt.where(Procedure.performed_at >= performed_from)
    if performed_to:
        stmt = stmt.where(Procedure.performed_at <= performed_to)
    return await fetch_page(session, stmt, Procedure.id, cursor, limit)


def to_read(p: Procedure) -> ProcedureRead:
    settings = get_settings()
    result = eligibility.assess(
        eligibility.WorkUpFacts(
            performed_on=clinical_date(p.performed_at, settings.registry_time_zone),
            consent_obtained=p.consent_obtained,
            last_imaging_date=p.last_imaging_date,
            platelet_count=p.platelet_count,
            inr=p.inr,
        ),
        Definitions.from_settings(settings),
    )
    fields = {f: getattr(p, f) for f in ProcedureRead.model_fields if hasattr(Procedure, f)}
    return ProcedureRead.model_validate(
        {
            **fields,
            "levels": [LevelRead.model_validate(lv) for lv in p.levels],
            "planned_sessions": p.series.planned_sessions if p.series else None,
            "work_up": {f: getattr(p, f) for f in WORK_UP_FIELDS},
            "eligibility": EligibilityRead.model_validate(result),
        }
    )


async def create_series(session: AsyncSession, data: SeriesCreate) -> ProcedureSeries:
    await require_patient(session, data.patient_id, "patient_id")
    series = ProcedureSeries(**data.model_dump())
    session.add(series)
    await session.flush()
    return series


async def get_series(
    session: AsyncSession, series_id: uuid.UUID
) -> tuple[ProcedureSeries, list[uuid.UUID]]:
    series = await session.get(ProcedureSeries, series_id)
    if series is None:
        raise NotFound("Series", series_id)
    ids = await session.scalars(
        select(Procedure.id)
        .where(Procedure.series_id == series_id)
        .order_by(Procedure.stage_number)
    )
    return series, list(ids)
