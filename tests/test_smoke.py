import subprocess
import sys
from pathlib import Path

from httpx import AsyncClient

from tests.factories import make_patient

ROOT = Path(__file__).resolve().parent.parent


async def test_health_and_ready(client: AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_patient_round_trip(client: AsyncClient) -> None:
    patient = await make_patient(client, identifiers=[{"system": "mrn", "value": "A1"}])
    read = await client.get(f"/api/v1/patients/{patient['id']}")
    assert read.status_code == 200
    assert read.json()["identifiers"] == [{"system": "mrn", "value": "A1"}]
    assert read.headers["etag"] == '"1"'


def test_importing_the_application_builds_no_app() -> None:
    """Servers call the factory (`uvicorn --factory app.main:create_app`); importing any
    module of the package builds no application."""
    script = """
import importlib, pkgutil, fastapi
built = []
init = fastapi.FastAPI.__init__
def counting(self, *args, **kwargs):
    built.append(type(self))
    init(self, *args, **kwargs)
fastapi.FastAPI.__init__ = counting
import app
for module in pkgutil.walk_packages(app.__path__, "app."):
    importlib.import_module(module.name)
import app.main
assert not hasattr(app.main, "app"), "app.main builds an application at import time"
print(len(built))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "0"
