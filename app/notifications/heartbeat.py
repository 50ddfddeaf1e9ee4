"""The webhook worker's liveness: a file touched after each poll, read by `vertebro worker
--check` (the container's healthcheck). A file, not a database row: liveness is a fact of one
container, and the check must answer when the database is what is down."""

import time
from pathlib import Path


def beat(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def stale_reason(path: Path, poll_interval_s: float, now: float | None = None) -> str | None:
    """Why the worker is not alive (None when it is): no heartbeat yet, or one older than three
    polls and 30 seconds (a slow batch of webhook deliveries may take that long)."""
    if not path.is_file():
        return f"no heartbeat at {path}"
    age = (time.time() if now is None else now) - path.stat().st_mtime
    limit = 3 * poll_interval_s + 30
    if age > limit:
        return f"the last heartbeat is {age:.0f} s old (more than {limit:.0f} s)"
    return None
