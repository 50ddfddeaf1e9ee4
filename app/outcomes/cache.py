"""Computed responses, reused while nothing they depend on has changed (pure, per process).

A response is keyed by what was asked (endpoint, cohort, exact or suppressed, k) and by what it
was computed from: the summary's generation (bumped by every refresh, and every write marks
its patient for a refresh, so a write always changes it before the next read) and a
fingerprint of the imaging triggers (read live). It is never served after a write. Figures
that move with the clock alone (a window closing, a time point being reached) may lag by up to
the time to live, STATS_CACHE_TTL_S; 0 disables the cache.
"""

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Entry:
    value: Any
    expires: float


class ResultCache:
    def __init__(self, max_entries: int = 128) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, now: float | None = None) -> Any | None:
        entry = self.entries.get(key)
        now = time.monotonic() if now is None else now
        if entry is None or entry.expires <= now:
            self.entries.pop(key, None)
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return entry.value

    def put(self, key: Hashable, value: Any, ttl_s: float, now: float | None = None) -> None:
        if ttl_s <= 0:
            return
        now = time.monotonic() if now is None else now
        self.entries[key] = _Entry(value, now + ttl_s)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()
