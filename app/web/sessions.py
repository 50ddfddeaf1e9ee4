"""Web sessions: an API key exchanged for a signed, HttpOnly, SameSite=Strict cookie.

The cookie carries no secret of the key: `<payload>.<hmac>` where the payload is the API key's
id, a random session id and the expiry, signed with SECRET_KEY. Each request re-reads the key
row, so revoking or expiring the key ends its web sessions at once, and the session's row
(web_sessions), so signing out ends it in every API process, not only the one that answered.
The CSRF token of a session is an HMAC of its id.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.models import WebSessionRow
from app.models.base import utcnow

COOKIE = "vtb_session"
SIGN_IN_COOKIE = "vtb_signin"  # the CSRF token of the sign-in form (no session yet)


@dataclass(frozen=True)
class WebSession:
    key_id: uuid.UUID
    session_id: str
    expires_at: float  # unix seconds

    @property
    def csrf(self) -> str:
        return sign(f"csrf:{self.session_id}")


def sign(text: str) -> str:
    secret = get_settings().secret_key.get_secret_value().encode()
    digest = hmac.new(secret, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def open_session(db: AsyncSession, key_id: uuid.UUID) -> tuple[WebSession, str]:
    """A new session for the key, recorded, and its cookie value. Rows of sessions that
    expired (signed out or not) are deleted here: sign-ins are rare enough to carry that."""
    minutes = get_settings().web_session_minutes
    session = WebSession(key_id, secrets.token_urlsafe(18), time.time() + minutes * 60)
    await db.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= utcnow()))
    db.add(
        WebSessionRow(
            id=session.session_id,
            api_key_id=key_id,
            created_at=utcnow(),
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )
    )
    body = json.dumps(
        {"k": str(key_id), "s": session.session_id, "e": int(session.expires_at)},
        separators=(",", ":"),
    )
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return session, f"{payload}.{sign(payload)}"


def read_session(cookie: str | None) -> WebSession | None:
    """The session a cookie claims: None when absent, forged or expired (whether it was
    signed out is `is_live`'s, which reads its row)."""
    if not cookie or cookie.count(".") != 1:
        return None
    payload, signature = cookie.split(".")
    if not same(signature, sign(payload)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        session = WebSession(uuid.UUID(data["k"]), str(data["s"]), float(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires_at <= time.time():
        return None
    return session


async def is_live(db: AsyncSession, session: WebSession) -> bool:
    """The session's row exists, belongs to its key, and was neither ended nor expired."""
    found = await db.scalar(
        select(WebSessionRow.id).where(
            WebSessionRow.id == session.session_id,
            WebSessionRow.api_key_id == session.key_id,
            WebSessionRow.ended_at.is_(None),
            WebSessionRow.expires_at > utcnow(),
        )
    )
    return found is not None


async def end_session(db: AsyncSession, session: WebSession) -> None:
    """Sign out: every process refuses the session from now on."""
    await db.execute(
        update(WebSessionRow)
        .where(WebSessionRow.id == session.session_id, WebSessionRow.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def cookie_flags() -> dict[str, object]:
    """HttpOnly, SameSite=Strict, Secure outside development, scoped to /app."""
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": get_settings().environment != "development",
        "path": "/app",
    }
