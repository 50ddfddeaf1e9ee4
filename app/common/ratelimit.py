"""In-process token buckets, and the application's rate limits built from the settings: per
credential (the auth guard), for failed authentications per client address (the auth guard),
and for the audit rows of throttled authentications (the audit trail)."""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from app.config import Settings


class TokenBucketLimiter:
    """In-process token buckets, one per key (a credential id or a client address).

    Each process keeps its own buckets: with N worker processes a client can get up to N
    times the configured rate. A shared store (e.g. Redis) would be needed for a global limit.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> int | None:
        """Spend a token: None when allowed, else the seconds to wait for the next one."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return None if allowed else max(1, math.ceil((1.0 - tokens) / self.rate))


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.per_credential = TokenBucketLimiter(
            settings.rate_limit_per_minute, settings.rate_limit_burst
        )
        self.auth_failures = TokenBucketLimiter(
            settings.auth_failures_per_minute, settings.auth_failures_burst
        )
        # failed authentications refused with 429: one audit row per client address a minute
        self.audited_throttling = TokenBucketLimiter(per_minute=1, burst=1)


def rate_limits(app: Any) -> RateLimits | None:
    """The application's limits (`app.state.rate_limits`, set by create_app), if any."""
    limits = getattr(app.state, "rate_limits", None)
    return limits if isinstance(limits, RateLimits) else None
