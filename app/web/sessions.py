"""Web sessions: an API key exchanged for a signed, HttpOnly, SameSite=Strict cookie.

The cookie carries no secret of the key: `<payload>.<hmac>` where the payload is the API key's
id, a random session id and the expiry, signed with SECRET_KEY. Each request re-reads the key
row, so revoking or expiring the key ends its web sessions at once; signing out puts the
session id on a revocation list kept until the session would have expired anyway (see
docs/web.md for why no session table). The CSRF token of a session is an HMAC of its id.
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from app.config import get_settings

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


class _Revoked:
    """Signed-out session ids until their expiry (this process; docs/web.md)."""

    def __init__(self) -> None:
        self._ids: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, session: WebSession) -> None:
        with self._lock:
            now = time.time()
            self._ids = {k: v for k, v in self._ids.items() if v > now}
            self._ids[session.session_id] = session.expires_at

    def __contains__(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._ids


REVOKED = _Revoked()


def open_session(key_id: uuid.UUID) -> tuple[WebSession, str]:
    """A new session for the key and its cookie value."""
    minutes = get_settings().web_session_minutes
    session = WebSession(key_id, secrets.token_urlsafe(18), time.time() + minutes * 60)
    body = json.dumps(
        {"k": str(key_id), "s": session.session_id, "e": int(session.expires_at)},
        separators=(",", ":"),
    )
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return session, f"{payload}.{sign(payload)}"


def read_session(cookie: str | None) -> WebSession | None:
    """The session of a cookie: None when absent, forged, expired or signed out."""
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
    if session.expires_at <= time.time() or session.session_id in REVOKED:
        return None
    return session


def cookie_flags() -> dict[str, object]:
    """HttpOnly, SameSite=Strict, Secure outside development, scoped to /app."""
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": get_settings().environment != "development",
        "path": "/app",
    }
