"""API key format, generation and hashing (pure functions, no database).

A key looks like `vtb_<prefix>_<secret>`:
- `prefix`: 8 lowercase base32 characters, random, stored in clear and unique; it names the
  key in listings and in the audit trail and finds its row without scanning;
- `secret`: 32 random bytes, URL-safe base64 (43 characters).

Only an HMAC-SHA256 of the whole key, keyed with the server's SECRET_KEY, is stored; the key
itself is shown once, at creation. Verification recomputes the HMAC and compares in constant
time (`hmac.compare_digest`). With 256 random bits a slow password hash adds nothing; the
server key means a copy of the table alone cannot even confirm a guessed key.
"""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "vtb"
_PREFIX_LEN = 8
_KEY_RE = re.compile(r"^vtb_([a-z2-7]{8})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    key: str


def generate() -> NewKey:
    prefix = base64.b32encode(secrets.token_bytes(5)).decode().lower()[:_PREFIX_LEN]
    secret = secrets.token_urlsafe(32)
    return NewKey(prefix=prefix, key=f"{KEY_PREFIX}_{prefix}_{secret}")


def parse_prefix(presented: str) -> str | None:
    """The public prefix of a well-formed key, or None for anything else."""
    match = _KEY_RE.match(presented)
    return match.group(1) if match else None


def looks_like_api_key(presented: str) -> bool:
    return presented.startswith(f"{KEY_PREFIX}_")


def hash_key(key: str, server_secret: str) -> str:
    return hmac.new(server_secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def verify(key: str, stored_hash: str, server_secret: str) -> bool:
    return hmac.compare_digest(hash_key(key, server_secret), stored_hash)


def display(prefix: str) -> str:
    """How a key is named where its secret must not appear."""
    return f"{KEY_PREFIX}_{prefix}"
