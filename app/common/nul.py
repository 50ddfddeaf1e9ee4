"""U+0000 in text: PostgreSQL's text and jsonb cannot store it (the database refuses the
statement), so every way in refuses it first, naming where it was."""

from collections.abc import Mapping, Sequence
from typing import Any

NUL = "\x00"
MESSAGE = "must not contain the NUL character (U+0000)"

Path = tuple[str | int, ...]


def nul_path(value: Any) -> Path | None:
    """Where the first string (value or key) holding U+0000 is in nested JSON-like data:
    () for the value itself; None when there is none. Iterative: any depth."""
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path
        elif isinstance(item, Mapping):
            children: list[tuple[Path, Any]] = []
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return (*path, key)
                children.append(((*path, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, Sequence) and not isinstance(item, bytes | bytearray):
            stack.extend(reversed([((*path, i), child) for i, child in enumerate(item)]))
    return None


def depth(value: Any) -> int:
    """How deeply objects and arrays nest in JSON-like data (a scalar: 0). Iterative."""
    deepest = 0
    stack: list[tuple[int, Any]] = [(0, value)]
    while stack:
        level, item = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, Mapping):
            stack.extend((level + 1, child) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((level + 1, child) for child in item)
    return deepest
