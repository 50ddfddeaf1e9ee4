"""Where the migrations, alembic.ini and the paper's seed cases are.

In a built wheel (the container image) they travel inside the package, under app/_bundled
(pyproject.toml, [tool.hatch.build.targets.wheel.force-include]); in a source checkout
(`make run`, the tests, an editable install) they are beside app/. The bundled copy is looked
for first: an installed package's parent directory is site-packages, where a folder named
`migrations` could belong to anything.
"""

from importlib import resources
from pathlib import Path

BUNDLED = Path(str(resources.files("app"))) / "_bundled"
CHECKOUT = Path(__file__).resolve().parent.parent.parent


def resource_path(name: str) -> Path:
    """`migrations`, `alembic.ini` or `seed`, from the package if bundled, else the checkout."""
    for base in (BUNDLED, CHECKOUT):
        candidate = base / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name} is neither in {BUNDLED} nor in {CHECKOUT}")
