"""API keys: create (the key is returned once), list, read, revoke, authenticate."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import keys
from app.auth.principal import Principal
from app.auth.scopes import ALL_SCOPES, unknown
from app.common.pagination import fetch_page
from app.config import get_settings
from app.errors import NotFound, RuleViolation, Unauthorized
from app.models import ApiKey
from app.models.base import utcnow

DEV_ADMIN_NAME = "dev-admin (local development)"
_DUMMY_HASH = "0" * 64


class CredentialRejected(Unauthorized):
    """A presented credential that is not accepted; `credential_id` when the key is known."""

    def __init__(self, reason: str, detail: str, credential_id: uuid.UUID | None = None) -> None:
        super().__init__(detail, reason, error="invalid_token")
        self.credential_id = credential_id


def _server_secret() -> str:
    return get_settings().secret_key.get_secret_value()


@dataclass(frozen=True)
class _Authenticated:
    principal: Principal
    expires_at: datetime | None


@cache
def _recent(seconds: float) -> TTLCache[str, _Authenticated]:
    """Keys authenticated lately, by the keyed hash of the presented key (never the key)."""
    return TTLCache(maxsize=10_000, ttl=seconds)


def forget_authenticated(key_id: uuid.UUID | None = None) -> None:
    """Drop one key (or every key) from this process's cache of recent authentications."""
    recent = _recent(get_settings().auth_cache_seconds)
    for digest, entry in list(recent.items()):
        if key_id is None or entry.principal.id == key_id:
            recent.pop(digest, None)


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None = None,
    created_by: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is not stored and cannot be shown again."""
    if not scopes:
        raise RuleViolation("scopes", "A key needs at least one scope.", "no-scopes")
    if bad := unknown(scopes):
        raise RuleViolation("scopes", f"Unknown scopes: {', '.join(bad)}.", "unknown-scope")
    if expires_at is not None and expires_at <= utcnow():
        raise RuleViolation("expires_at", "The expiry must be in the future.", "expiry-in-past")
    new = keys.generate()
    row = ApiKey(
        name=name,
        prefix=new.prefix,
        secret_hash=keys.hash_key(new.key, _server_secret()),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return row, new.key


async def get_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("API key", key_id)
    return row


async def find_key(session: AsyncSession, ident: str) -> ApiKey:
    """By id or by prefix (`vtb_abcd2345` or `abcd2345`), for the command line."""
    try:
        return await get_key(session, uuid.UUID(ident))
    except ValueError:
        pass
    prefix = ident.removeprefix(f"{keys.KEY_PREFIX}_")
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        raise NotFound("API key", ident)
    return row


async def list_keys(
    session: AsyncSession, *, include_revoked: bool, cursor: str | None, limit: int
) -> tuple[Sequence[ApiKey], str | None]:
    stmt = select(ApiKey)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return await fetch_page(session, stmt, ApiKey.id, cursor, limit)


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (idempotent). Keys are never deleted: the audit trail refers to them."""
    row = await get_key(session, key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    forget_authenticated(row.id)
    return row


async def authenticate_key(session: AsyncSession, presented: str) -> Principal:
    """The principal of a presented API key, or CredentialRejected."""
    ttl = get_settings().auth_cache_seconds
    digest = keys.hash_key(presented, _server_secret()) if ttl else ""
    hit = _recent(ttl).get(digest) if ttl else None
    if hit is not None and (hit.expires_at is None or hit.expires_at > utcnow()):
        return hit.principal
    prefix = keys.parse_prefix(presented)
    row = None
    if prefix is not None:
        row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    # always one HMAC and one constant-time comparison, known key or not
    matches = keys.verify(presented, row.secret_hash if row else _DUMMY_HASH, _server_secret())
    if row is None or not matches:
        raise CredentialRejected("unknown-credential", "The credential is not valid.")
    now = utcnow()
    if row.revoked_at is not None:
        raise CredentialRejected("revoked-credential", "The API key was revoked.", row.id)
    if row.expires_at is not None and row.expires_at <= now:
        raise CredentialRejected("expired-credential", "The API key has expired.", row.id)
    principal = Principal.build(
        id=row.id,
        kind="api-key",
        name=row.name,
        label=keys.display(row.prefix),
        scopes=[s for s in row.scopes if s in ALL_SCOPES],
    )
    if ttl:
        _recent(ttl)[digest] = _Authenticated(principal, row.expires_at)
    return principal


async def rotate_dev_admin(session: AsyncSession) -> tuple[ApiKey, str]:
    """Development only: revoke the previous local admin key and create a new one holding
    every scope, so a newcomer can use /docs. Refused outside ENVIRONMENT=development."""
    if get_settings().environment != "development":
        raise RuleViolation(
            "ENVIRONMENT", "A dev admin key is only created in development.", "not-development"
        )
    for row in await session.scalars(
        select(ApiKey).where(ApiKey.name == DEV_ADMIN_NAME, ApiKey.revoked_at.is_(None))
    ):
        row.revoked_at = utcnow()
    return await create_key(
        session, name=DEV_ADMIN_NAME, scopes=sorted(ALL_SCOPES), created_by="cli:dev-admin"
    )
