"""What one ingestion request knows: patients and procedures resolved from the senders'
identifiers (looked up in bulk, cached for the request), and the bookkeeping of its events."""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.errors import Conflict
from app.ingestion.mappers import (
    PATIENT_SYSTEM,
    PROCEDURE_SYSTEM,
    Incoming,
    PatientKey,
    ProcedureKey,
)
from app.models import FollowUpEvent, Patient, PatientIdentifier, Procedure, ResourceIdentifier
from app.models.base import new_id
from app.patients.schemas import IdentifierIn, PatientCreate
from app.patients.service import create_patient
from app.triggers import marks


@dataclass
class Applied:
    """The effect of one event (what its log row will say)."""

    status: str  # applied | pending | retracted | failed
    ids: dict[str, Any] = field(default_factory=dict)
    patient_id: uuid.UUID | None = None
    record_id: uuid.UUID | None = None
    awaiting: bool = False  # its procedure reference is not resolved yet
    retracted_by: str | None = None
    problem: dict[str, Any] | None = None


@dataclass
class Work:
    """One event of the request on its way through."""

    index: int
    ev: Incoming
    log_id: uuid.UUID
    claimed: bool = False
    outcome: Applied | None = None
    retract_before_apply: str | None = None  # a retraction came first: record, never apply
    placeholder_of: str | None = None  # ... in an earlier request (it left a placeholder)
    refused: bool = False
    retracted_while_refused: str | None = None  # refused, then retracted later in the request


_follow_ups = cast(Table, FollowUpEvent.__table__)
# every row carries the same keys (follow_up_values gives every column), as executemany needs;
# with RETURNING, SQLAlchemy sends multi-row VALUES ("insertmanyvalues"), not a row at a time
_INSERT_FOLLOW_UPS = _follow_ups.insert().returning(_follow_ups.c.id)
_INSERT_IDENTIFIERS = cast(Table, ResourceIdentifier.__table__).insert()


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class Context:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.patients: dict[PatientKey, Patient] = {}
        self.procedures: dict[ProcedureKey, Procedure | None] = {}
        self.new_stubs: set[uuid.UUID] = set()
        self.works: dict[tuple[str, str], Work] = {}  # the events this request claimed
        self.follow_ups: list[dict[str, Any]] = []  # new rows, not inserted yet
        self.identifiers: list[dict[str, Any]] = []  # senders' identifiers of new records, too

    def forget(self) -> None:
        """After a savepoint rolled back: cached objects may be expired or gone."""
        self.patients.clear()
        self.procedures.clear()
        self.follow_ups.clear()
        self.identifiers.clear()

    def add_follow_up(self, values: dict[str, Any]) -> uuid.UUID:
        """A new follow-up row (validated), inserted at the next `flush`; returns its id."""
        row_id = new_id()
        self.follow_ups.append({"id": row_id, **values})
        return row_id

    async def flush(self) -> None:
        """Write the new follow-up rows, after the session's own changes, then the identifiers
        of new records: one Core INSERT each (ORM objects, or even the ORM's bulk insert, cost
        more than the rows themselves). The flush listener does not see Core writes: the
        follow-ups' patients are noted for the imaging triggers here (`marks.note_rows`)."""
        if self.follow_ups or self.identifiers:
            await self.session.flush()
        if self.follow_ups:
            rows, self.follow_ups = self.follow_ups, []
            await self.session.execute(_INSERT_FOLLOW_UPS, rows)
            marks.note_rows(self.session, FollowUpEvent, rows)
        if self.identifiers:
            identifiers, self.identifiers = self.identifiers, []
            await self.session.execute(
                _INSERT_IDENTIFIERS, [{"id": new_id(), **row} for row in identifiers]
            )

    # --- patients -----------------------------------------------------------------------
    def patient(self, key: PatientKey) -> Patient:
        return self.patients[key]

    async def load_patients(self, keys: Iterable[PatientKey]) -> None:
        """Find the patients the senders identify, in bulk (one query per identifier system)."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for system, value in keys:
            if (system, value) not in self.patients:
                wanted[system].add(value)
        for system, values in wanted.items():
            rows = await self.session.execute(
                select(PatientIdentifier.value, Patient)
                .join(Patient, Patient.id == PatientIdentifier.patient_id)
                .where(PatientIdentifier.system == system, PatientIdentifier.value.in_(values))
            )
            for value, patient in rows:
                self.patients[(system, value)] = patient
            if system == PATIENT_SYSTEM:  # the registry's own id, from its FHIR export
                ids = {
                    v: u for v in values if (u := _as_uuid(v)) and (system, v) not in self.patients
                }
                if ids:
                    found = await self.session.scalars(
                        select(Patient).where(Patient.id.in_(ids.values()))
                    )
                    by_id = {p.id: p for p in found}
                    for value, pid in ids.items():
                        if pid in by_id:
                            self.patients[(system, value)] = by_id[pid]

    async def ensure_patients(self, keys: Iterable[PatientKey]) -> None:
        """Find, or create from the identifier alone, every patient named (out-of-order
        arrival). Creation runs in sorted order, so concurrent requests never deadlock."""
        keys = set(keys)
        await self.load_patients(keys)
        for key in sorted(k for k in keys if k not in self.patients):
            system, value = key
            try:
                async with self.session.begin_nested():
                    patient = await create_patient(
                        self.session,
                        PatientCreate(identifiers=[IdentifierIn(system=system, value=value)]),
                    )
            except Conflict:  # a concurrent request created them first: use theirs
                await self.load_patients([key])
                if key not in self.patients:
                    raise
                continue
            self.patients[key] = patient
            self.new_stubs.add(patient.id)

    # --- procedures ---------------------------------------------------------------------
    async def load_procedures(self, keys: Iterable[ProcedureKey]) -> None:
        wanted: dict[str, set[str]] = defaultdict(set)
        for system, ref in keys:
            if (system, ref) not in self.procedures:
                wanted[system].add(ref)
        for system, refs in wanted.items():
            found = await self.session.scalars(
                select(Procedure)
                .where(Procedure.external_source == system, Procedure.external_ref.in_(refs))
                .options(selectinload(Procedure.levels))
            )
            by_ref = {p.external_ref: p for p in found}
            if system == PROCEDURE_SYSTEM:  # the registry's own id, from its FHIR export
                ids = {r: u for r in refs if r not in by_ref and (u := _as_uuid(r))}
                if ids:
                    own = await self.session.scalars(
                        select(Procedure)
                        .where(Procedure.id.in_(ids.values()))
                        .options(selectinload(Procedure.levels))
                    )
                    by_id = {p.id: p for p in own}
                    by_ref.update({r: by_id[u] for r, u in ids.items() if u in by_id})
            for ref in refs:
                self.procedures[(system, ref)] = by_ref.get(ref)

    async def procedure(self, key: ProcedureKey) -> Procedure | None:
        if key not in self.procedures:
            await self.load_procedures([key])
        return self.procedures[key]


def ids_json(**values: Any) -> dict[str, Any]:
    """JSON-ready ids, without the absent ones."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, list):
            out[name] = [str(v) for v in value]
        else:
            out[name] = str(value) if isinstance(value, uuid.UUID) else value
    return out
