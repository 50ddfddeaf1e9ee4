"""U+0000 in text: PostgreSQL's text and jsonb cannot store it (the database refuses the
statement), so every way in refuses it first, naming where it was."""

from collections.abc import Mapping, Sequence
from typing import Any

NUL = "\x00"
MESSAGE = "must not contain the NUL character (U+0000)"


def nul_path(value: Any) -> tuple[str | int, ...] | None:
    """Where the first string (value or key) holding U+0000 is in nested JSON-like data:
    () for the value itself; None when there is none."""
    if isinstance(value, str):
        return () if NUL in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and NUL in key:
                return (key,)
            if (inner := nul_path(item)) is not None:
                return (key, *inner)
        return None
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for index, item in enumerate(value):
            if (inner := nul_path(item)) is not None:
                return (index, *inner)
    return None
