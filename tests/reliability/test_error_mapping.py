"""Driver errors that mean "the database is unavailable" are 503, whatever class they come in.

asyncpg's server errors reach SQLAlchemy as plain `DBAPIError` (not OperationalError): a
statement cancelled by `statement_timeout` (57014), a server shutting down (57P01) or starting
up (57P03), too many connections (53300), a lost connection (08006): `unavailable`; a
statement timeout, deadlock or serialization failure is `busy` (app/errors.py
TRANSIENT_SQLSTATES); a data exception (class 22: a value the column cannot take) is 422.
Anything else stays a logged 500.
"""

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.exc import DBAPIError

from app.errors import install_error_handlers


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
        "urn:vertebro:problem:unavailable",
        "urn:vertebro:problem:busy",
    )


async def test_other_driver_errors_stay_500_problems() -> None:
    transport = ASGITransport(app=_app(), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/fail/42883")
    assert response.status_code == 500
    assert response.json()["type"] == "urn:vertebro:problem:internal-error"


@pytest.mark.parametrize("sqlstate", ["22001", "22003", "22021", "22P05"])
async def test_values_the_database_cannot_take_are_422(sqlstate: str) -> None:
    """Too long, out of range, bad characters: asyncpg reports them as plain DBAPIError too
    (a 5,000-character webhook URL was a 500 before its schema got a limit)."""
    async with AsyncClient(transport=ASGITransport(app=_app()), base_url="http://t") as client:
        response = await client.get(f"/fail/{sqlstate}")
    assert response.status_code == 422
    assert response.json()["type"] == "urn:vertebro:problem:invalid-value"
