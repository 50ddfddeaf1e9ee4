"""What each event does to the clinical model, through the REST services (retraction.py
undoes it). Out-of-order arrival is handled here: a follow-up naming a procedure that has not
arrived is recorded unlinked and linked when it arrives; a complication waits (status pending)
for its procedure and is recorded when it arrives.

Whether an event re-evaluates its patient's imaging triggers is not decided here: the flush
listener of app/triggers/marks.py sees the services' writes, and the Core statements (the
follow-up rows of `Context.flush`, the link below) note theirs with `marks.note_rows`.
"""

import uuid
from typing import Any

from sqlalchemy import select, update

from app.clinical.levels import LEVEL_POSITION, normalise_level
from app.complications.service import create_complication
from app.errors import Conflict, DomainError, RuleViolation, problem
from app.follow_up.service import follow_up_values
from app.ingestion import identifiers, mappers, retraction
from app.ingestion.context import Applied, Context, Work, ids_json
from app.ingestion.data import ComplicationData, ProcedureData
from app.ingestion.mappers import FOLLOW_UP_KIND, Incoming, ProcedureKey
from app.models import EventLog, FollowUpEvent, Patient, PatientIdentifier, Procedure
from app.models.base import utcnow
from app.patients.service import update_patient
from app.procedures.series import series_of_sender
from app.procedures.service import create_procedure
from app.triggers import marks


async def apply(ctx: Context, work: Work) -> Applied:
    """The effect of one event; raises DomainError (REST field names) when it is refused."""
    ev = work.ev
    if work.retract_before_apply is not None:  # a retraction came first: never applied
        return Applied("retracted", retracted_by=work.retract_before_apply)
    if ev.type in FOLLOW_UP_KIND:
        return await _follow_up(ctx, ev)
    if ev.type == "procedure.performed" or (
        ev.type == "intervention.recorded" and mappers.is_local_intervention(ev)
    ):
        return await _procedure(ctx, ev)
    if ev.type == "intervention.recorded":
        return await _follow_up(ctx, ev)
    if ev.type == "complication.reported":
        return await _complication(ctx, ev)
    if ev.type == "patient.registered":
        return await _registered(ctx, ev)
    if ev.type == "event.retracted":
        return await retraction.retract(ctx, work)
    raise AssertionError(ev.type)


async def _follow_up(ctx: Context, ev: Incoming) -> Applied:
    if ev.type == "patient.deceased":  # its check reads stored rows: write this batch's first
        await ctx.flush()
    patient = ctx.patient(ev.patient)
    procedure_id: uuid.UUID | None = None
    awaiting = False
    if ev.procedure_key is not None:
        procedure = await ctx.procedure(ev.procedure_key)
        procedure_id = procedure.id if procedure else None
        awaiting = procedure is None
    if ev.type == "intervention.recorded":
        command = mappers.treatment_command(ev, patient.id, procedure_id)
    else:
        command = mappers.follow_up_command(ev, patient.id, procedure_id)
    values = await follow_up_values(ctx.session, command)
    row_id = ctx.add_follow_up(values)
    await identifiers.keep(ctx, "Observation", ev.identifiers, row_id)
    return Applied(
        "applied",
        ids_json(patient_id=patient.id, follow_up_id=row_id, procedure_id=procedure_id),
        patient.id,
        row_id,
        awaiting,
    )


async def _procedure(ctx: Context, ev: Incoming) -> Applied:
    await ctx.flush()
    patient = ctx.patient(ev.patient)
    key = ev.procedure_key
    if key is not None and await ctx.procedure(key) is not None:
        raise Conflict(
            f"Procedure {key[1]!r} of {key[0]} is already recorded by another event; retract "
            "that event first to replace it.",
            "procedure-ref-taken",
        )
    command = mappers.procedure_command(ev, patient.id)
    if isinstance(ev.data, ProcedureData) and ev.data.series is not None:
        named = ev.data.series
        series = await series_of_sender(
            ctx.session, patient.id, ev.source, named.series_ref, named.planned_sessions,
            named.label,
        )  # fmt: skip
        command = command.model_copy(update={"series_id": series.id, "stage_number": named.stage})
    procedure = await create_procedure(
        ctx.session,
        command,
        external_source=key[0] if key else None,
        external_ref=key[1] if key else None,
    )
    await identifiers.keep(ctx, "Procedure", ev.identifiers, procedure.id)
    if key is not None:
        ctx.procedures[key] = procedure
        await resolve_pending(ctx, key, procedure)
    return Applied(
        "applied",
        ids_json(
            patient_id=patient.id,
            procedure_id=procedure.id,
            level_ids=[lv.id for lv in procedure.levels],
        ),
        patient.id,
        procedure.id,
    )


async def _complication(ctx: Context, ev: Incoming) -> Applied:
    await ctx.flush()
    patient = ctx.patient(ev.patient)
    assert ev.procedure_key is not None
    procedure = await ctx.procedure(ev.procedure_key)
    if procedure is None:  # kept until its procedure arrives
        return Applied("pending", ids_json(patient_id=patient.id), patient.id, None, awaiting=True)
    return await _apply_complication(ctx, ev, patient, procedure)


async def _apply_complication(
    ctx: Context, ev: Incoming, patient: Patient, procedure: Procedure
) -> Applied:
    data = ev.data
    assert isinstance(data, ComplicationData)
    if procedure.patient_id != patient.id:
        raise RuleViolation(
            "procedure_id", "This procedure is another patient's.", "procedure-not-of-patient"
        )
    level_id = None
    if data.level is not None:
        name = normalise_level(data.level)
        if name not in LEVEL_POSITION:
            raise RuleViolation(
                "level_id", f"'{data.level}' is not a vertebral level.", "unknown-level"
            )
        level = next((lv for lv in procedure.levels if lv.level == name), None)
        if level is None:
            raise RuleViolation(
                "level_id", f"{name} was not treated in this procedure.", "level-not-in-procedure"
            )
        level_id = level.id
    command = mappers.complication_command(ev, procedure.id, level_id)
    complication = await create_complication(ctx.session, command)
    return Applied(
        "applied",
        ids_json(patient_id=patient.id, procedure_id=procedure.id, complication_id=complication.id),
        patient.id,
        complication.id,
    )


async def _registered(ctx: Context, ev: Incoming) -> Applied:
    """The patient exists by now (found, or created from the identifier by ensure_patients
    with everything else unknown): set what the registration carries."""
    await ctx.flush()
    patient = ctx.patient(ev.patient)
    existing = (
        await ctx.session.execute(
            select(PatientIdentifier.system, PatientIdentifier.value).where(
                PatientIdentifier.patient_id == patient.id
            )
        )
    ).all()
    patch = mappers.patient_update(ev, [(s, v) for s, v in existing])
    updated = await update_patient(ctx.session, patient.id, patch, None)
    ctx.patients[ev.patient] = updated
    return Applied("applied", ids_json(patient_id=updated.id), updated.id, updated.id)


# --- procedures arriving after what refers to them -------------------------------------------
async def resolve_pending(ctx: Context, key: ProcedureKey, procedure: Procedure) -> None:
    """Link the follow-ups, and record the complications, that were waiting for this procedure."""
    for work in ctx.works.values():  # earlier events of this request
        outcome = work.outcome
        if outcome is None or not outcome.awaiting or work.ev.procedure_key != key:
            continue
        await _resolve(ctx, outcome, procedure, work.ev.payload)
    rows = (
        await ctx.session.scalars(
            select(EventLog)
            .where(
                EventLog.procedure_system == key[0],
                EventLog.procedure_ref == key[1],
                EventLog.awaiting_procedure.is_(True),
                EventLog.status.in_(("applied", "pending")),
            )
            .order_by(EventLog.occurred_at, EventLog.id)
        )
    ).all()
    for row in rows:  # events of earlier requests
        if (row.source, row.event_id) in ctx.works or row.payload is None:
            continue
        outcome = Applied(
            row.status, dict(row.result), row.patient_id, row.record_id, awaiting=True
        )
        await _resolve(ctx, outcome, procedure, row.payload)
        row.status, row.result, row.record_id = outcome.status, outcome.ids, outcome.record_id
        row.awaiting_procedure, row.problem = outcome.awaiting, outcome.problem


async def _resolve(
    ctx: Context, outcome: Applied, procedure: Procedure, payload: dict[str, Any]
) -> None:
    if outcome.status == "applied" and outcome.record_id is not None:  # an unlinked follow-up
        if outcome.patient_id != procedure.patient_id:
            return  # another patient's procedure: stays unlinked (and says so)
        await ctx.flush()
        linked = await ctx.session.execute(
            update(FollowUpEvent)
            .where(FollowUpEvent.id == outcome.record_id)
            .values(
                procedure_id=procedure.id,
                version=FollowUpEvent.version + 1,
                updated_at=utcnow(),
            )
            .returning(FollowUpEvent.patient_id, FollowUpEvent.kind)
        )
        marks.note_rows(ctx.session, FollowUpEvent, linked.mappings())
        outcome.ids["procedure_id"] = str(procedure.id)
        outcome.awaiting = False
    elif outcome.status == "pending":  # a complication waiting for it (JSON events only)
        try:
            ev = mappers.parse_event(payload)
            await ctx.ensure_patients([ev.patient])
            async with ctx.session.begin_nested():
                done = await _apply_complication(ctx, ev, ctx.patient(ev.patient), procedure)
        except DomainError as exc:
            err = mappers.event_error(exc)
            outcome.status, outcome.awaiting = "failed", False
            outcome.problem = problem(err.status, err.code, err.detail, err.errors).model_dump(
                exclude_none=True
            )
            return
        outcome.status, outcome.ids, outcome.record_id = done.status, done.ids, done.record_id
        outcome.awaiting = False
