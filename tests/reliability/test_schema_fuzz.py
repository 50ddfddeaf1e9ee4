"""Schema fuzzing: schemathesis generates requests from the service's own OpenAPI document.

Every operation is called in-process (ASGI) with a credential holding every scope, on valid
and invalid inputs (schemathesis' positive and negative modes), against a database holding the
paper's three cases: path ids are swapped for real ones half of the time, so the handlers past
"not found" are reached too. Each response must be no 5xx, carry a documented status code and
content type, and match the documented schema.

Bounded and replayable: `FUZZ_MAX_EXAMPLES` (default 10) examples per operation, generated
derandomised (the same inputs on every run; `hypothesis --hypothesis-seed` is not needed to
replay a failure: run the test again). `FUZZ_MAX_EXAMPLES=200` explores further, locally.

The in-service scheduler and webhook worker are not started here (the fuzzer creates
subscriptions to arbitrary URLs: nothing may be sent anywhere), and the requests run in
schemathesis' own event loop, so the engine's pool is emptied before and after each operation.
"""

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.auth.scopes import ALL_SCOPES
from app.db import get_engine, get_sessionmaker
from app.main import create_app
from app.models import Complication, FollowUpEvent, Patient, Procedure, ProcedureSeries
from app.seeding import load_all
from tests.conftest import make_api_key

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

app = create_app()


@schemathesis.serializer("x-application/hl7-v2+er7")
def _er7(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """The HL7 v2 door's body: ER7 text (whatever the fuzzer makes of it)."""
    return value.encode() if isinstance(value, str) else str(value).encode()


async def fuzz_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app without its background tasks; lifespan shutdown empties the pool in this loop."""
    if scope["type"] != "lifespan":
        await app(scope, receive, send)
        return
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await get_engine().dispose()
            await send({"type": "lifespan.shutdown.complete"})
            return


schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = fuzz_app

# path parameter -> ids of seeded rows, filled for each test
REAL_IDS: dict[str, list[str]] = {}
AUTH: dict[str, str] = {}


@schema.hook
def map_path_parameters(
    _context: Any, path_parameters: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Half of the generated UUIDs become a seeded row's id (chosen from the UUID itself, so
    the choice is as deterministic as the generation)."""
    if not path_parameters:
        return path_parameters
    mapped = dict(path_parameters)
    for name, value in path_parameters.items():
        ids = REAL_IDS.get(name)
        if not ids or not isinstance(value, str):
            continue
        try:
            generated = uuid.UUID(value)
        except ValueError:
            continue
        if generated.int % 2 == 0:
            mapped[name] = ids[(generated.int >> 1) % len(ids)]
    return mapped


async def _seed() -> None:
    await load_all(get_sessionmaker())
    async with get_sessionmaker()() as session:
        patients = [str(i) for i in await session.scalars(select(Patient.id))]
        procedures = [str(i) for i in await session.scalars(select(Procedure.id))]
        REAL_IDS.update(
            patient_id=patients,
            procedure_id=procedures,
            series_id=[str(i) for i in await session.scalars(select(ProcedureSeries.id))],
            complication_id=[str(i) for i in await session.scalars(select(Complication.id))],
            event_id=[str(i) for i in await session.scalars(select(FollowUpEvent.id))],
            record_id=patients + procedures,
        )


@pytest.fixture
async def _fuzz_database() -> None:
    """Seeded data and an all-scopes key, then an empty pool for schemathesis' event loop."""
    REAL_IDS.clear()
    await _seed()
    AUTH["Authorization"] = "Bearer " + await make_api_key(*sorted(ALL_SCOPES), name="fuzz")
    await get_engine().dispose()


@pytest.fixture
def _fuzz_loop(_fuzz_database: None) -> Iterator[None]:
    yield
    # lifespan shutdown: disposes the connections opened in schemathesis' loop
    schemathesis_asgi.shutdown_lifespans()


@pytest.mark.usefixtures("_fuzz_loop")
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation_conforms_to_its_schema(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate(headers=AUTH, checks=CHECKS)
