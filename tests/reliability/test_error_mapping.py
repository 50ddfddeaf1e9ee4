"""Driver errors that mean "the database is unavailable" are 503, whatever class they come in,
and the audit trail records every error with the status and reason the client was answered.

asyncpg's server errors reach SQLAlchemy as plain `DBAPIError` (not OperationalError): a
statement cancelled by `statement_timeout` (57014), a server shutting down (57P01) or starting
up (57P03), too many connections (53300), a lost connection (08006): `unavailable`; a
statement timeout, deadlock or serialization failure is `busy` (app/errors/classify.py
TRANSIENT_SQLSTATES); a data exception (class 22: a value the column cannot take) is 422.
Anything else stays a logged 500. The handlers and the audit read one table
(`app.errors.classify`): until issue 23 the audit had its own, and recorded 500
`internal-error` for a deadlock, a cancelled statement or too many connections answered 503.
"""

from collections.abc import AsyncIterator, Callable

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from app.db import SessionDep
from app.errors import NotFound, install_error_handlers
from app.http.guards import require
from app.main import create_app
from app.patients.schemas import PatientCreate
from tests.conftest import make_api_key
from tests.reliability.procs import on_postgres

PROBLEM_PREFIX = "/problems/"


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fail/{sqlstate}")
    async def fail(sqlstate: str) -> None:
        raise DBAPIError("SELECT 1", {}, DriverError(sqlstate))

    return app


@pytest.mark.parametrize("sqlstate", ["57014", "57P01", "57P03", "53300", "08006"])
async def test_unavailable_states_are_503(sqlstate: str) -> None:
    async with AsyncClient(transport=ASGITransport(app=_app()), base_url="http://t") as client:
        response = await client.get(f"/fail/{sqlstate}")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"] in (
        "/problems/unavailable",
        "/problems/busy",
    )


async def test_other_driver_errors_stay_500_problems() -> None:
    transport = ASGITransport(app=_app(), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/fail/42883")
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"


@pytest.mark.parametrize("sqlstate", ["22001", "22003", "22021", "22P05"])
async def test_values_the_database_cannot_take_are_422(sqlstate: str) -> None:
    """Too long, out of range, bad characters: asyncpg reports them as plain DBAPIError too
    (a 5,000-character webhook URL was a 500 before its schema got a limit)."""
    async with AsyncClient(transport=ASGITransport(app=_app()), base_url="http://t") as client:
        response = await client.get(f"/fail/{sqlstate}")
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid-value"


# --- one classification: what the client is answered is what the audit trail records ---------


@pytest.fixture
async def failing_app() -> AsyncIterator[AsyncClient]:
    """The application plus a guarded route that fails with the error a test names."""
    app = create_app()
    raised: dict[str, BaseException] = {}

    @app.get("/api/v1/probe/fail/{name}", dependencies=[require("cases:read")])
    async def fail(name: str) -> None:
        raise raised[name]

    @app.get("/api/v1/probe/slow", dependencies=[require("cases:read")])
    async def slow(session: SessionDep) -> None:
        """A statement that PostgreSQL itself cancels (57014), through the real driver."""
        await session.execute(text("SET LOCAL statement_timeout = 50"))
        await session.execute(text("SELECT pg_sleep(5)"))

    app.state.raised = raised
    key = await make_api_key("cases:read", "admin", name="failing probe")
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client


def _validation_error() -> ValidationError:
    try:
        PatientCreate.model_validate({"sex": "neither"})
    except ValidationError as exc:
        return exc
    raise AssertionError("PatientCreate accepted an unknown sex")


ERRORS: dict[str, Callable[[], BaseException]] = {
    "deadlock": lambda: DBAPIError("UPDATE", {}, DriverError("40P01")),
    "statement-cancelled": lambda: DBAPIError("SELECT", {}, DriverError("57014")),
    "too-many-connections": lambda: DBAPIError("SELECT", {}, DriverError("53300")),
    "lock-timeout": lambda: DBAPIError("UPDATE", {}, DriverError("55P03")),
    "serialization-failure": lambda: DBAPIError("UPDATE", {}, DriverError("40001")),
    "connection-lost": lambda: DBAPIError("SELECT", {}, DriverError("08006")),
    "server-shutting-down": lambda: DBAPIError("SELECT", {}, DriverError("57P01")),
    "operational": lambda: OperationalError("SELECT", {}, DriverError("08001")),
    "value-too-long": lambda: DBAPIError("INSERT", {}, DriverError("22001")),
    "integrity": lambda: IntegrityError("INSERT", {}, DriverError("23505")),
    "undefined-function": lambda: DBAPIError("SELECT", {}, DriverError("42883")),
    "stale": lambda: StaleDataError("UPDATE matched no row"),
    "model-validation": _validation_error,
    "refused-connection": lambda: ConnectionRefusedError(111, "refused"),
    "not-found": lambda: NotFound("Patient", "x"),
    "unexpected": lambda: RuntimeError("boom"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
async def test_the_audit_records_the_status_and_reason_the_client_got(
    failing_app: AsyncClient, name: str
) -> None:
    """Deadlock (40P01), a cancelled statement (57014) and too many connections (53300) were
    answered 503 but audited as 500 `internal-error`: the handlers and the audit trail each had
    their own table. Whatever the error, the row says what the client was told."""
    transport = failing_app._transport
    assert isinstance(transport, ASGITransport)
    transport.app.state.raised[name] = ERRORS[name]()  # type: ignore[attr-defined]
    # sent, not read from the answer: a 500 is answered outside the request id's middleware
    request_id = f"probe-{name}"
    response = await failing_app.get(
        f"/api/v1/probe/fail/{name}", headers={"X-Request-ID": request_id}
    )
    assert response.headers["content-type"] == "application/problem+json"
    page = await failing_app.get("/api/v1/audit", params={"request_id": request_id})
    [row] = page.json()["items"]
    answered = (response.status_code, response.json()["type"].removeprefix(PROBLEM_PREFIX))
    assert (row["status_code"], row["reason"]) == answered


@pytest.mark.parametrize("name", ["deadlock", "statement-cancelled", "too-many-connections"])
async def test_transient_database_errors_are_503_in_the_answer_and_the_audit(
    failing_app: AsyncClient, name: str
) -> None:
    transport = failing_app._transport
    assert isinstance(transport, ASGITransport)
    transport.app.state.raised[name] = ERRORS[name]()  # type: ignore[attr-defined]
    response = await failing_app.get(f"/api/v1/probe/fail/{name}")
    assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    page = await failing_app.get(
        "/api/v1/audit", params={"request_id": response.headers["x-request-id"]}
    )
    [row] = page.json()["items"]
    assert (row["status_code"], row["outcome"]) == (503, "error")
    assert row["reason"] == response.json()["type"].removeprefix(PROBLEM_PREFIX)


@pytest.mark.skipif(not on_postgres(), reason="needs PostgreSQL (TEST_DATABASE_URL)")
async def test_a_statement_the_server_cancels_is_503_in_the_answer_and_the_audit(
    failing_app: AsyncClient,
) -> None:
    response = await failing_app.get("/api/v1/probe/slow")
    assert response.status_code == 503
    page = await failing_app.get(
        "/api/v1/audit", params={"request_id": response.headers["x-request-id"]}
    )
    [row] = page.json()["items"]
    assert (row["status_code"], row["reason"]) == (503, "busy")
    assert response.json()["type"] == PROBLEM_PREFIX + "busy"
