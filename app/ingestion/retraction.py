"""event.retracted: undo what an earlier event of the same source produced.

A follow-up, complication or procedure it created is deleted (a procedure with its levels and
complications; what referred to it waits for it again); a death clears the death date. A
target not received yet gets a placeholder, so that it is recorded as retracted and never
applied when it comes. Registrations and retractions cannot be retracted.
"""

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.clinical.days import clinical_date
from app.config import get_settings
from app.errors import RuleViolation
from app.ingestion import mappers
from app.ingestion.context import Applied, Context, Work, ids_json
from app.ingestion.data import RetractionData
from app.ingestion.mappers import ProcedureKey
from app.models import Complication, EventLog, FollowUpEvent, Patient, Procedure
from app.models.base import new_id
from app.triggers import marks


async def retract(ctx: Context, work: Work) -> Applied:
    ev = work.ev
    data = ev.data
    assert isinstance(data, RetractionData)
    target_key = (ev.source, data.event_id)
    if data.event_id == ev.event_id:
        raise RuleViolation(
            "retracted_event_id", "An event cannot retract itself.", "self-retraction"
        )
    await ctx.load_patients([ev.patient])
    patient = ctx.patients.get(ev.patient)
    result = ids_json(patient_id=patient.id if patient else None, retracted_event_id=data.event_id)
    done = Applied("applied", result, patient.id if patient else None)

    target = ctx.works.get(target_key)
    if target is not None and target is not work:  # an event of this request
        _check_retractable(target.ev.type, target.ev.patient == ev.patient)
        if target.refused:  # not stored: it leaves a placeholder, as if not received yet
            target.retracted_while_refused = ev.event_id
            return done
        if target.outcome is None:  # not applied yet: it will be recorded as retracted
            target.retract_before_apply = ev.event_id
            return done
        if target.outcome.status != "retracted":
            await _undo(ctx, target.ev.type, target.outcome, target_key)
            target.outcome.status, target.outcome.retracted_by = "retracted", ev.event_id
            target.outcome.awaiting = False
        return done

    row = await ctx.session.scalar(
        select(EventLog)
        .where(EventLog.source == ev.source, EventLog.event_id == data.event_id)
        .with_for_update()
    )
    if row is None:  # not arrived yet: leave a placeholder that the event will fill in
        await ctx.flush()
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(
                    EventLog(
                        id=new_id(), source=ev.source, event_id=data.event_id, status="retracted",
                        retracted_by=ev.event_id, result={},
                    )
                )  # fmt: skip
                await ctx.session.flush()
        except IntegrityError:  # it arrived meanwhile: retract it as stored
            return await retract(ctx, work)
        return done
    if row.payload is None or row.status == "retracted":
        return done  # a placeholder, or already retracted: nothing more to undo
    _check_retractable(row.type or "", patient is not None and row.patient_id == patient.id)
    outcome = Applied(row.status, dict(row.result), row.patient_id, row.record_id)
    await _undo(ctx, row.type or "", outcome, target_key)
    row.status, row.retracted_by, row.awaiting_procedure = "retracted", ev.event_id, False
    return done


def _check_retractable(type_: str, same_patient: bool) -> None:
    if type_ == "event.retracted":
        raise RuleViolation(
            "retracted_event_id", "A retraction cannot be retracted; send the event again "
            "with a new event_id.", "not-retractable",
        )  # fmt: skip
    if type_ == "patient.registered":
        raise RuleViolation(
            "retracted_event_id", "A registration cannot be retracted once applied; correct "
            "the patient with patient.registered or PATCH /api/v1/patients.", "not-retractable",
        )  # fmt: skip
    if not same_patient:
        raise RuleViolation(
            "patient_id", "The retracted event is about another patient.", "patient-mismatch"
        )


async def _undo(ctx: Context, type_: str, outcome: Applied, key: tuple[str, str]) -> None:
    """Delete what the event produced (Core deletes, which the flush listener does not see:
    the imaging triggers' history is noted here, `marks.note_rows`)."""
    await ctx.flush()
    session = ctx.session
    ids = outcome.ids
    if outcome.status == "pending" or outcome.status == "failed":
        return  # nothing was recorded
    if "complication_id" in ids:
        await session.execute(
            delete(Complication).where(Complication.id == uuid.UUID(ids["complication_id"]))
        )
    elif "follow_up_id" in ids:
        follow_up_id = uuid.UUID(ids["follow_up_id"])
        result = await session.execute(
            delete(FollowUpEvent)
            .where(FollowUpEvent.id == follow_up_id)
            .returning(FollowUpEvent.patient_id, FollowUpEvent.kind)
        )
        deleted = result.mappings().all()
        marks.note_rows(session, FollowUpEvent, deleted)
        if any(row["kind"] == "death" for row in deleted) and outcome.patient_id is not None:
            await _recompute_death(ctx, outcome.patient_id)
    elif "procedure_id" in ids:
        procedure_id = uuid.UUID(ids["procedure_id"])
        procedure = await session.get(Procedure, procedure_id)
        await session.execute(delete(Procedure).where(Procedure.id == procedure_id))
        if procedure is not None:
            marks.note_rows(session, Procedure, [{"patient_id": procedure.patient_id}])
            session.expunge(procedure)
            if procedure.external_source and procedure.external_ref:
                pkey = (procedure.external_source, procedure.external_ref)
                ctx.procedures.pop(pkey, None)
                await _unresolve(ctx, pkey)
    outcome.ids = {k: v for k, v in ids.items() if k == "patient_id"}
    outcome.record_id = None


async def _recompute_death(ctx: Context, patient_id: uuid.UUID) -> None:
    patient = await ctx.session.get(Patient, patient_id)
    if patient is None:
        return
    remaining = await ctx.session.scalar(
        select(func.min(FollowUpEvent.occurred_at)).where(
            FollowUpEvent.patient_id == patient_id, FollowUpEvent.kind == "death"
        )
    )
    zone_name = get_settings().registry_time_zone
    patient.death_date = clinical_date(remaining, zone_name) if remaining is not None else None
    await ctx.session.flush()


async def _unresolve(ctx: Context, key: ProcedureKey) -> None:
    """The procedure is gone: what referred to it waits for it again (a corrected procedure
    sent with the same reference will pick them up)."""
    for work in ctx.works.values():
        outcome = work.outcome
        if (
            outcome is None
            or work.ev.procedure_key != key
            or work.ev.type in mappers.PROCEDURE_TYPES
        ):
            continue
        _mark_waiting(work.ev.type, outcome)
    rows = (
        await ctx.session.scalars(
            select(EventLog).where(
                EventLog.procedure_system == key[0],
                EventLog.procedure_ref == key[1],
                EventLog.status == "applied",
                EventLog.type.not_in(tuple(mappers.PROCEDURE_TYPES)),
            )
        )
    ).all()
    for row in rows:
        if (row.source, row.event_id) in ctx.works:
            continue
        outcome = Applied(row.status, dict(row.result), row.patient_id, row.record_id)
        _mark_waiting(row.type or "", outcome)
        row.status, row.result, row.record_id = outcome.status, outcome.ids, outcome.record_id
        row.awaiting_procedure = outcome.awaiting


def _mark_waiting(type_: str, outcome: Applied) -> None:
    if outcome.status != "applied":
        return
    if type_ == "complication.reported":  # deleted with its procedure: pending again
        outcome.status = "pending"
        outcome.ids = {k: v for k, v in outcome.ids.items() if k == "patient_id"}
        outcome.record_id = None
    else:  # the follow-up stays, unlinked (ON DELETE SET NULL)
        outcome.ids.pop("procedure_id", None)
    outcome.awaiting = True
