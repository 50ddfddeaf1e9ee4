"""`Idempotency-Key` for the API's other POSTs (draft-ietf-httpapi-idempotency-key-header).

A POST under /api/v1 (except /api/v1/events, whose events carry their own key) may send
`Idempotency-Key: <1-255 visible ASCII characters>`:

* first time: the request runs; `claim_idempotency_key` (a dependency of the API router)
  inserts the key in the request's own transaction, so key and effect commit together, and a
  concurrent request with the same key waits on the unique constraint (PostgreSQL) or the
  write lock (SQLite), then fails its insert: it never runs its effect twice;
* the 2xx answer is stored right after and replayed for the same key (status, body, Location,
  ETag, plus `Idempotent-Replayed: true`) for IDEMPOTENCY_KEY_TTL_HOURS. An error answer is not
  stored: the transaction rolled back, nothing changed, and a retry runs again;
* the same key with a different request (method, path, body) is 422; a request arriving while
  the first is still running waits up to IDEMPOTENCY_WAIT_S for its answer, else 409.

Keys are scoped per credential (a hash of the presented credential) and per route, so one
client cannot replay another's answer. A retry must present the same credential. Routes whose
answer carries a secret shown once (API keys, webhook secrets) refuse the header (400): the
answer would have to be stored. Stored answers (they can hold patient data) are deleted once
expired, a hundred at a time, by the requests that store new ones.
"""

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings
from app.db import SessionDep, get_sessionmaker
from app.errors import Conflict, problem_response
from app.models import IdempotencyKey
from app.models.base import new_id, utcnow

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_KEPT_HEADERS = ("content-type", "location", "etag")
_STATE = "idempotency"
_POLL_S = 0.05
_PURGE_BATCH = 100


@dataclass
class KeyedRequest:
    key: str
    scope: str
    fingerprint: str
    claimed: bool = False
    lost_race: bool = False


def _scope(scope: Scope, headers: Headers) -> str:
    credential = headers.get("authorization") or headers.get("x-api-key") or ""
    who = hashlib.sha256(credential.encode()).hexdigest()[:16] if credential else "anonymous"
    return f"{who} {scope['method']} {scope['path']}"[:400]


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


async def _find(key: str, scope: str) -> IdempotencyKey | None:
    cutoff = utcnow() - timedelta(hours=get_settings().idempotency_key_ttl_hours)
    async with get_sessionmaker()() as session:
        return await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.key == key,
                IdempotencyKey.scope == scope,
                IdempotencyKey.created_at >= cutoff,
            )
        )


async def _store(
    keyed: KeyedRequest, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    kept = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name.decode("latin-1").lower() in _KEPT_HEADERS
    }
    async with get_sessionmaker()() as session, session.begin():
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == keyed.key, IdempotencyKey.scope == keyed.scope)
            .values(status_code=status, response_headers=kept, response_body=body)
        )


class IdempotencyKeyMiddleware:
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
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(self.prefix)
            or path in self.exclude
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if self.unsupported and path.startswith(self.unsupported):
            await self._problem(
                scope, receive, send, 400, "idempotency-key-not-supported",
                "This route's answer carries a secret shown once, which is never stored: "
                "send it without Idempotency-Key.",
            )  # fmt: skip
            return
        if not _VALID_KEY.fullmatch(key):
            await self._problem(
                scope, receive, send, 400, "bad-idempotency-key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )  # fmt: skip
            return
        body = await _read_body(receive)
        keyed = KeyedRequest(key, _scope(scope, headers), _fingerprint(scope, headers, body))
        stored = await _find(keyed.key, keyed.scope)
        if stored is not None:
            await self._answer_stored(scope, receive, send, keyed, stored)
            return
        scope.setdefault("state", {})[_STATE] = keyed
        status, response_headers, response_body = await _run(self.app, scope, body, receive)
        if keyed.lost_race:  # a request with the same key committed first: its answer
            stored = await _find(keyed.key, keyed.scope)
            await self._answer_stored(scope, receive, send, keyed, stored)
            return
        if keyed.claimed and 200 <= status < 300:
            await _store(keyed, status, response_headers, response_body)
        await _send(send, status, response_headers, response_body)

    async def _answer_stored(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        keyed: KeyedRequest,
        stored: IdempotencyKey | None,
    ) -> None:
        if stored is not None and stored.fingerprint != keyed.fingerprint:
            await self._problem(
                scope, receive, send, 422, "idempotency-key-reused",
                "This Idempotency-Key was used for a different request; use a new key.",
            )  # fmt: skip
            return
        deadline = asyncio.get_running_loop().time() + get_settings().idempotency_wait_s
        while stored is not None and stored.status_code is None:
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(_POLL_S)  # the first request is still running (or storing)
            stored = await _find(keyed.key, keyed.scope)
        if stored is None or stored.status_code is None:
            await self._problem(
                scope, receive, send, 409, "idempotency-key-in-use",
                "A request with this Idempotency-Key is still being processed; retry later.",
                {"Retry-After": "1"},
            )  # fmt: skip
            return
        raw = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in (stored.response_headers or {}).items()
        ]
        raw.append((REPLAYED_HEADER.encode(), b"true"))
        await _send(send, stored.status_code, raw, stored.response_body or b"")

    async def _problem(
        self, scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        response = problem_response(Request(scope), status, code, detail, headers=headers)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _run(
    app: ASGIApp, scope: Scope, body: bytes, receive: Receive
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the request with its buffered body; collect the answer instead of sending it."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, replay, collect)
    return status, headers, b"".join(chunks)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def claim_idempotency_key(request: Request, session: SessionDep) -> None:
    """Insert the key in the request's transaction (see the module docstring)."""
    keyed = getattr(request.state, _STATE, None)
    if not isinstance(keyed, KeyedRequest):
        return
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
        keyed.lost_race = True
        raise Conflict(
            "A request with this Idempotency-Key is being processed.", "idempotency-key-in-use"
        ) from None
    keyed.claimed = True


IdempotencyClaim = Annotated[None, Depends(claim_idempotency_key)]
