"""`Idempotency-Key` for the API's other POSTs (draft-ietf-httpapi-idempotency-key-header).

A POST under /api/v1 (except /api/v1/events, whose events carry their own key) may send
`Idempotency-Key: <1-255 visible ASCII characters>`. The middleware only notes the header and
keeps the answer; everything else happens in the claim, a dependency on the principal the
route's guard returns (`claim_after`, behind every alias of `app.http.guards`): it runs only
once the guard has authenticated the caller and found the route's scopes. So a replay is
served only to a credential that may make the request now (revoked or expired: 401, scope
gone: 403), counts against its rate limit, and is audited like any access (outcome success,
reason `idempotent-replay`, the patients of the answer).

* first time: the dependency inserts the key in the request's own transaction, so key and
  effect commit together, and a concurrent request with the same key waits on the unique
  constraint (PostgreSQL) or the write lock (SQLite), then fails its insert: it never runs its
  effect twice;
* the 2xx answer is stored right after and replayed for the same key (status, body, Location,
  ETag, plus `Idempotent-Replayed: true`) for IDEMPOTENCY_KEY_TTL_HOURS. An error answer is not
  stored: the transaction rolled back, nothing changed, and a retry runs again;
* the same key with a different request (method, path, body) is 422; a request arriving while
  the first is still running waits up to IDEMPOTENCY_WAIT_S for its answer, else 409.

Keys are scoped per credential (the authenticated credential's id: an API key, or a token's
issuer and subject) and per route, so one client cannot replay another's answer. An answer
stored with patients' identifiers visible is not replayed to the credential once it no longer
sees them (403). Routes whose answer carries a secret shown once (API keys, webhook secrets)
refuse the header (400): the answer would have to be stored. Stored answers (they can hold
patient data) are deleted once expired, a hundred at a time, by the requests that store new
ones.
"""

import asyncio
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.audit.dependencies import AuditDep
from app.audit.recorder import AuditContext
from app.auth.principal import Principal
from app.auth.scopes import IDENTIFIER_SCOPES
from app.config import get_settings
from app.db import SessionDep, get_sessionmaker
from app.errors import DomainError, Forbidden
from app.models import IdempotencyKey
from app.models.base import new_id, utcnow

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_KEPT_HEADERS = ("content-type", "location", "etag")
# stored beside the kept headers, never sent (':' cannot be in a header name)
_PATIENTS = "audit:patients"
_IDENTIFIERS = "audit:identifiers-visible"
_STATE = "idempotency"
_POLL_S = 0.05
_PURGE_BATCH = 100


@dataclass
class KeyedRequest:
    key: str
    unsupported: bool
    scope: str = ""
    fingerprint: str = ""
    audit: AuditContext | None = None  # the claiming request's, once claimed

    @property
    def claimed(self) -> bool:
        return self.audit is not None


class IdempotentReplay(Exception):
    """Raised by the claim to answer with the stored response instead of running again."""

    def __init__(self, stored: IdempotencyKey) -> None:
        super().__init__("idempotent replay")
        self.status = stored.status_code or 200
        self.headers = {
            k: v for k, v in (stored.response_headers or {}).items() if k in _KEPT_HEADERS
        }
        self.body = stored.response_body or b""


async def answer_replay(_request: Request, exc: Exception) -> Response:
    """The exception handler for IdempotentReplay."""
    assert isinstance(exc, IdempotentReplay)
    headers = {**exc.headers, REPLAYED_HEADER: "true"}
    return Response(exc.body, status_code=exc.status, headers=headers)


def _fingerprint(scope: Scope, headers: Headers, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (
        scope["method"].encode(),
        scope["path"].encode(),
        scope.get("query_string", b""),
        (headers.get("content-type") or "").encode(),
        body,
    ):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


async def _find(keyed: KeyedRequest) -> IdempotencyKey | None:
    """In a session of its own: polled while another request holds the key."""
    cutoff = utcnow() - timedelta(hours=get_settings().idempotency_key_ttl_hours)
    async with get_sessionmaker()() as session:
        return await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.key == keyed.key,
                IdempotencyKey.scope == keyed.scope,
                IdempotencyKey.created_at >= cutoff,
            )
        )


async def _store(
    keyed: KeyedRequest, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    assert keyed.audit is not None
    kept: dict[str, Any] = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in headers
        if name.decode("latin-1").lower() in _KEPT_HEADERS
    }
    kept[_PATIENTS] = sorted(str(p) for p in keyed.audit.patient_ids)
    principal = keyed.audit.principal
    kept[_IDENTIFIERS] = bool(principal and principal.sees_identifiers)
    async with get_sessionmaker()() as session, session.begin():
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == keyed.key, IdempotencyKey.scope == keyed.scope)
            .values(status_code=status, response_headers=kept, response_body=body)
        )


class IdempotencyKeyMiddleware:
    """Notes the header for `claim_idempotency_key`, and stores the answer of a claimed key."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = "/api/v1/",
        exclude: tuple[str, ...] = (),
        unsupported: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.exclude = exclude  # routes with their own idempotency: the header is ignored
        self.unsupported = unsupported  # answers not to be stored (secrets shown once): 400

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        key = None
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and path.startswith(self.prefix)
            and path not in self.exclude
        ):
            key = Headers(scope=scope).get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        unsupported = bool(self.unsupported) and path.startswith(self.unsupported)
        keyed = KeyedRequest(key, unsupported)
        scope.setdefault("state", {})[_STATE] = keyed
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_or_keep(message: Message) -> None:
            nonlocal start
            if (
                message["type"] == "http.response.start"
                and keyed.claimed
                and 200 <= message["status"] < 300
            ):
                start = message  # kept until the whole answer is stored
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                body = b"".join(chunks)
                await _store(keyed, start["status"], list(start.get("headers", [])), body)
                await send(start)
                await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_or_keep)


async def _claim(session: AsyncSession, keyed: KeyedRequest) -> bool:
    """Insert the key in the request's transaction; False if another request holds it."""
    cutoff = utcnow() - timedelta(hours=get_settings().idempotency_key_ttl_hours)
    expired = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.created_at < cutoff)
        .order_by(IdempotencyKey.created_at)
        .limit(_PURGE_BATCH)
    )  # this key's expired row, if any, and some others: the table stays bounded
    await session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.id.in_(expired.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(IdempotencyKey)
        .where(
            IdempotencyKey.key == keyed.key,
            IdempotencyKey.scope == keyed.scope,
            IdempotencyKey.created_at < cutoff,
        )
        .execution_options(synchronize_session=False)
    )
    session.add(
        IdempotencyKey(
            id=new_id(), key=keyed.key, scope=keyed.scope, fingerprint=keyed.fingerprint,
            created_at=utcnow(),
        )
    )  # fmt: skip
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()  # a request with the same key committed first
        return False
    return True


async def _stored_answer(keyed: KeyedRequest, stored: IdempotencyKey | None) -> IdempotencyKey:
    """The first request's answer, once it has one (422 for another request, 409 if slow)."""
    if stored is not None and stored.fingerprint != keyed.fingerprint:
        raise DomainError(
            "This Idempotency-Key was used for a different request; use a new key.",
            "idempotency-key-reused",
            422,
        )
    deadline = asyncio.get_running_loop().time() + get_settings().idempotency_wait_s
    while stored is not None and stored.status_code is None:
        if asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(_POLL_S)  # the first request is still running (or storing)
        stored = await _find(keyed)
    if stored is None or stored.status_code is None:
        raise DomainError(
            "A request with this Idempotency-Key is still being processed; retry later.",
            "idempotency-key-in-use",
            409,
            headers={"Retry-After": "1"},
        )
    return stored


def _replay(stored: IdempotencyKey, audit: AuditContext, principal: Principal) -> IdempotentReplay:
    facts = stored.response_headers or {}
    if facts.get(_IDENTIFIERS) and not principal.sees_identifiers:
        raise Forbidden(
            "The stored answer shows patients' identifiers, which this credential no longer "
            "sees; send the request with a new Idempotency-Key.",
            sorted(IDENTIFIER_SCOPES),
            "insufficient-scope",
        )
    for patient_id in facts.get(_PATIENTS, ()):
        audit.note_patient(uuid.UUID(patient_id))
    if location := facts.get("location"):
        audit.note_resource(str(location).rstrip("/").rsplit("/", 1)[-1])
    audit.replayed_status = stored.status_code
    return IdempotentReplay(stored)


async def claim_idempotency_key(
    request: Request, session: AsyncSession, audit: AuditContext, principal: Principal
) -> None:
    """Claim the request's key for `principal`, or answer from the stored response (see the
    module docstring). Called by `claim_after`, once the route's guard has passed."""
    keyed = getattr(request.state, _STATE, None)
    if not isinstance(keyed, KeyedRequest) or keyed.claimed:
        return
    if keyed.unsupported:
        raise DomainError(
            "This route's answer carries a secret shown once, which is never stored: "
            "send it without Idempotency-Key.",
            "idempotency-key-not-supported",
        )
    if not _VALID_KEY.fullmatch(keyed.key):
        raise DomainError(
            "Idempotency-Key must be 1 to 255 visible ASCII characters.", "bad-idempotency-key"
        )
    keyed.scope = f"{principal.id} {request.method} {request.scope['path']}"[:400]
    keyed.fingerprint = _fingerprint(request.scope, request.headers, await request.body())
    stored = await _find(keyed)
    if stored is None:
        if await _claim(session, keyed):
            keyed.audit = audit
            return
        stored = await _find(keyed)
    raise _replay(await _stored_answer(keyed, stored), audit, principal)


def claim_after(guard: Any) -> Any:
    """A dependency on `guard` (a route's `authenticator`) that claims the request's
    Idempotency-Key for the principal it returns, and returns that principal. The claim depends
    on the principal, so it runs after authentication and authorisation by construction: a
    revoked, expired or narrowed credential never gets a replay."""

    async def claimed(
        request: Request,
        session: SessionDep,
        audit: AuditDep,
        principal: Annotated[Principal, guard],
    ) -> Principal:
        await claim_idempotency_key(request, session, audit, principal)
        return principal

    return Depends(claimed)
