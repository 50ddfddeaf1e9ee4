"""The seeded synthetic registry lives in app/demo/synthetic.py (`vertebro demo` loads it);
the tests and benchmarks import it from here as before."""

from app.demo.synthetic import (
    EVENT_COLUMNS,
    FIRST_DAY,
    HORIZON,
    STAMP,
    Registry,
    chunks,
    generate,
    insert_registry,
)

__all__ = [
    "EVENT_COLUMNS",
    "FIRST_DAY",
    "HORIZON",
    "STAMP",
    "Registry",
    "chunks",
    "generate",
    "insert_registry",
]
