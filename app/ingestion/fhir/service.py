"""The FHIR door: single creates (conditional with If-None-Exist) and batch / transaction
Bundles, through the same event pipeline as POST /api/v1/events."""

import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.config import get_settings
from app.errors import DomainError, FieldIssue, code_of
from app.ingestion import identifiers
from app.ingestion import service as pipeline
from app.ingestion.context import Context
from app.ingestion.fhir import identity, inbound, outbound, reading
from app.ingestion.fhir.inbound import FhirEnvelope
from app.ingestion.fhir.links import episode_part_of
from app.ingestion.fhir.outcome import EntryIssue, fhir_path, outcome_of
from app.ingestion.fhir.reading import FhirError, References
from app.ingestion.mappers import Incoming
from app.ingestion.schemas import EventResult
from app.models import FollowUpEvent, Procedure

RESOURCE_TYPES = ("Patient", "Procedure", "Observation")
ID_OF = {"Patient": "patient_id", "Procedure": "procedure_id", "Observation": "follow_up_id"}


@dataclass
class Answer:
    status: int
    resource_type: str
    record_id: uuid.UUID | None = None
    outcome: dict[str, Any] | None = None

    @property
    def location(self) -> str | None:
        return f"{self.resource_type}/{self.record_id}" if self.record_id else None


class TransactionFailed(DomainError):
    """A transaction not applied: a summary issue, then one issue per refused entry."""

    def __init__(self, refused: int, errors: list[EntryIssue]) -> None:
        super().__init__(
            f"The transaction was not applied: {refused} entr"
            f"{'y was' if refused == 1 else 'ies were'} refused (each named below).",
            "transaction-failed",
            422,
            tuple(errors),
        )


def _entry_issues(index: int, answer: Answer) -> list[EntryIssue]:
    """The issues of a refused entry, each with its expression (the entry itself when the
    reason has no finer place) and the entry and its status in the diagnostics."""
    where = f"Bundle.entry[{index}]"
    status = f"{answer.status} {HTTPStatus(answer.status).phrase}"
    found = []
    for issue in (answer.outcome or {}).get("issue", []):
        expressions = issue.get("expression") or [where]
        diagnostics = f"{where} ({status}): {issue.get('diagnostics', '')}"
        entry = {**issue, "expression": expressions, "diagnostics": diagnostics}
        found.append(EntryIssue(expressions[0], issue["details"]["text"], entry))
    return found


def _in_fhir_terms(exc: DomainError, resource_type: str, where: str) -> DomainError:
    """Event field names -> FHIRPath; FhirError already speaks FHIR."""
    if isinstance(exc, FhirError):
        return exc
    err = exc  # the pipeline already names the event's fields
    errors = tuple(
        FieldIssue(fhir_path(resource_type, where, e.field), e.message) for e in err.errors
    )
    return DomainError(err.detail, err.code, err.status, errors or (FieldIssue(where, err.detail),))


def _record_id(resource_type: str, results: list[EventResult]) -> uuid.UUID | None:
    ids = results[0].ids
    value = getattr(ids, ID_OF[resource_type], None) if ids else None
    return value if isinstance(value, uuid.UUID) else None


def _answer(resource_type: str, results: list[EventResult], where: str) -> Answer:
    rejected = [r for r in results if r.status == "rejected" and r.problem]
    if rejected:
        p = rejected[0].problem
        assert p is not None
        issues = [
            FieldIssue(fhir_path(resource_type, where, e.field), e.message) for e in p.errors or []
        ]
        code = code_of(p.type)
        return Answer(
            p.status,
            resource_type,
            outcome=outcome_of(p.status, code, p.detail, issues or [FieldIssue(where, p.detail)]),
        )
    created = any(r.status == "created" for r in results)
    return Answer(201 if created else 200, resource_type, _record_id(resource_type, results))


@dataclass
class Prepared:
    """One create, before the pipeline: already answered, or its events."""

    answer: Answer | None = None
    events: list[Incoming] = field(default_factory=list)
    existed: bool = False  # a Patient known before: its registration updates it (200)

    def answered(self, answer: Answer) -> Answer:
        if self.existed and answer.status == 201:
            answer.status = 200
        return answer


async def _prepare(
    ctx: Context,
    resource_type: str,
    resource: BaseModel,
    payload: dict[str, Any],
    condition: tuple[str, str] | None,
    refs: References,
    full_url: str | None,
    where: str,
) -> Prepared:
    """Already there (by its condition, or a plain create by its identifiers): 200; otherwise
    its events, keyed so that the same create sent again or at once is one event."""
    found = await identity.by_condition(ctx, resource_type, condition)
    if found is not None:
        return Prepared(Answer(200, resource_type, found))
    event_id = identity.event_id(resource_type, condition, resource, payload)
    env = FhirEnvelope(get_settings().fhir_source, event_id, payload)
    events = inbound.to_events(resource, env, refs, full_url, where)
    subject = events[0].patient
    if condition is None:
        found = await identity.sent_before(ctx, resource_type, resource, subject, where)
        if found is not None:
            return Prepared(Answer(200, resource_type, found))
    existed = resource_type == "Patient" and await identity.known_patient(ctx, subject)
    return Prepared(events=events, existed=existed)


async def create(
    session: AsyncSession, resource_type: str, body: dict[str, Any], if_none_exist: str | None
) -> Answer:
    """POST /fhir/r4/{type}; raises DomainError (FHIR terms) when refused."""
    if body.get("resourceType") != resource_type:
        raise FhirError(400, "invalid", f"The body must be a {resource_type}.", resource_type)
    reading.screen(body, resource_type)
    resource = reading.validate(body, resource_type)
    condition = reading.parse_condition(if_none_exist, "If-None-Exist")
    prepared = await _prepare(
        Context(session),
        resource_type,
        resource,
        body,
        condition,
        References(),
        None,
        resource_type,
    )
    if prepared.answer is not None:
        return prepared.answer
    try:
        results = await pipeline.process(session, list(prepared.events), isolate=False)
    except DomainError as exc:
        raise _in_fhir_terms(exc, resource_type, resource_type) from None
    return prepared.answered(_answer(resource_type, results, resource_type))


async def bundle(
    session: AsyncSession, body: dict[str, Any], *, locations: bool = True
) -> dict[str, Any]:
    """POST /fhir/r4 (Bundle): batch (each entry on its own) or transaction (all or nothing).
    `locations`: whether the caller may follow them (it can read what it created)."""
    parsed = _parse_bundle(body)
    transaction = parsed.type == "transaction"
    entries = parsed.entry or []
    batch = await _prepare_entries(Context(session), entries)
    results = await pipeline.process(session, batch.items, isolate=True) if batch.items else []
    answers = batch.answers
    per_entry: dict[int, list[EventResult]] = {}
    for index, result in zip(batch.owner, results, strict=True):
        per_entry.setdefault(index, []).append(result)
    for i, entry_results in per_entry.items():
        resource = entries[i].resource
        assert resource is not None
        answers[i] = batch.prepared[i].answered(
            _answer(resource.get_resource_type(), entry_results, f"Bundle.entry[{i}].resource")
        )
    failed = [(i, a) for i, a in sorted(answers.items()) if a.status >= 400]
    if transaction and failed:
        raise TransactionFailed(len(failed), [e for i, a in failed for e in _entry_issues(i, a)])
    return {
        "resourceType": "Bundle",
        "type": "transaction-response" if transaction else "batch-response",
        "entry": [_response_entry(answers[i], locations) for i in range(len(entries))],
    }


def _parse_bundle(body: dict[str, Any]) -> Bundle:
    """The body as a batch or transaction Bundle, or the error saying why it is not one."""
    if body.get("resourceType") != "Bundle":
        raise FhirError(400, "invalid", "The body must be a Bundle.", "Bundle")
    reading.screen(body, "Bundle")
    try:
        parsed = Bundle.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first.get("loc", ()))
        raise FhirError(
            422, "invalid", f"Invalid Bundle: {first.get('msg')}", f"Bundle.{path}"
        ) from None
    if parsed.type not in ("batch", "transaction"):
        raise FhirError(
            422, "not-supported", "Send a Bundle of type batch or transaction.", "Bundle.type"
        )
    return parsed


@dataclass
class _PreparedEntries:
    """The entries answered already (an error, a match), the prepared ones, and the events
    to process with the entry each comes from."""

    answers: dict[int, Answer] = field(default_factory=dict)
    prepared: dict[int, Prepared] = field(default_factory=dict)
    items: list[Incoming | DomainError] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)  # entry index of each item


async def _prepare_entries(ctx: Context, entries: list[Any]) -> _PreparedEntries:
    resources: list[tuple[str | None, BaseModel]] = [
        (str(e.fullUrl) if e.fullUrl else None, e.resource)
        for e in entries
        if e.resource is not None
    ]
    refs = reading.references(resources, "Bundle.entry")
    out = _PreparedEntries()
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}].resource"
        resource = entry.resource
        resource_type = resource.get_resource_type() if resource is not None else "?"
        try:
            _check_entry(entry, i, resource_type, where)
            condition = reading.parse_condition(
                entry.request.ifNoneExist, f"Bundle.entry[{i}].request.ifNoneExist"
            )
            payload = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
            full_url = str(entry.fullUrl) if entry.fullUrl else None
            out.prepared[i] = await _prepare(
                ctx, resource_type, resource, payload, condition, refs, full_url, where
            )
            if (answer := out.prepared[i].answer) is not None:
                out.answers[i] = answer
                continue
            for ev in out.prepared[i].events:
                out.items.append(ev)
                out.owner.append(i)
        except DomainError as exc:
            err = _in_fhir_terms(exc, resource_type, where)
            out.answers[i] = Answer(
                err.status,
                resource_type,
                outcome=outcome_of(err.status, err.code, err.detail, err.errors),
            )
    return out


def _check_entry(entry: Any, i: int, resource_type: str, where: str) -> None:
    """An entry the door takes: a resource it accepts, created by POST to its type."""
    if entry.resource is None or entry.request is None:
        raise FhirError(
            422, "required", "Each entry needs a resource and a request.", f"Bundle.entry[{i}]"
        )
    if entry.request.method != "POST" or str(entry.request.url).split("?")[0] != resource_type:
        raise FhirError(
            422,
            "not-supported",
            f"Only POST {resource_type} (create) is supported.",
            f"Bundle.entry[{i}].request",
        )
    if resource_type not in RESOURCE_TYPES:
        raise FhirError(
            422,
            "not-supported",
            f"{resource_type} is not accepted; send Patient, Procedure or Observation.",
            where,
        )


def _response_entry(answer: Answer, locations: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"status": f"{answer.status} {HTTPStatus(answer.status).phrase}"}
    if answer.location and locations:
        response["location"] = answer.location
    if answer.outcome:
        response["outcome"] = answer.outcome
    return {"response": response}


async def render(session: AsyncSession, resource_type: str, record_id: uuid.UUID) -> dict[str, Any]:
    """The registry's record as a FHIR resource (404 when absent)."""
    if resource_type == "Patient":
        patient = await outbound.load_patient(session, record_id)
        died = await session.scalar(
            select(FollowUpEvent).where(
                FollowUpEvent.patient_id == record_id, FollowUpEvent.kind == "death"
            )
        )
        return outbound.render_patient(patient, died)
    if resource_type == "Procedure":
        procedure = await session.scalar(
            select(Procedure)
            .where(Procedure.id == record_id)
            .options(selectinload(Procedure.levels))
        )
        if procedure is None:
            raise FhirNotFound(resource_type, record_id)
        kept = await identifiers.of_records(session, "Procedure", [record_id])
        return outbound.render_procedure(
            procedure, {"reference": f"Patient/{procedure.patient_id}"}, kept.get(record_id, [])
        )
    event = await session.get(FollowUpEvent, record_id)
    if event is None or event.kind not in outbound.OBSERVED_KINDS or event.scale is None:
        raise FhirNotFound(resource_type, record_id)
    part_of = (await episode_part_of(session, [event])).get(event.id)
    kept = await identifiers.of_records(session, "Observation", [record_id])
    subject = {"reference": f"Patient/{event.patient_id}"}
    return outbound.render_observation(event, subject, part_of, kept.get(record_id, []))


class FhirNotFound(DomainError):
    def __init__(self, resource_type: str, record_id: uuid.UUID) -> None:
        super().__init__(f"{resource_type} {record_id} does not exist.", "not-found", 404)
