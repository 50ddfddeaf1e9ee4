"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

Header (one line):  X-Vertebro-Signature: t=<unix seconds>,v1=<hex digest>
where digest = HMAC-SHA256(key = the subscription's secret as UTF-8,
                           message = "<t>." followed by the raw request body).
A receiver recomputes the digest over the body it received, compares in constant time, and
refuses a timestamp too far from its clock (replays). `X-Vertebro-Message-Id` is the stable id
to deduplicate on: a message may arrive more than once (at-least-once delivery).
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Vertebro-Signature"
MESSAGE_ID_HEADER = "X-Vertebro-Message-Id"
EVENT_HEADER = "X-Vertebro-Event"
ATTEMPT_HEADER = "X-Vertebro-Attempt"


def digest(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={digest(secret, t, body)}"


def verify(
    secret: str, header: str, body: bytes, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a receiver does (and what the tests do with a real receiver)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(given, digest(secret, timestamp, body))
