"""The pure rules load no database code: they run in a fresh interpreter without the ORM."""

import json
import subprocess
import sys

PURE = (
    "app.clinical.days",
    "app.clinical.definitions",
    "app.clinical.enums",
    "app.clinical.episodes",
    "app.clinical.levels",
    "app.clinical.pain",
    "app.triggers.rules",
)


def test_the_rules_import_neither_the_orm_nor_the_models() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {PURE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.startswith(('app.models', 'sqlalchemy', 'app.db', 'app.config')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
