"""An unexpected error answered 500 problem+json is logged with its traceback and request id.

Both ways in: an exception no handler knows (Starlette's outermost middleware calls the
handler), and a driver error that is neither transient nor "unavailable" (an ordinary handler
that nothing else would log). Expected errors (a 404 domain error) are not logged as errors.
"""

import logging
import traceback

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.exc import DBAPIError

from app.errors import NotFound, install_error_handlers
from app.middleware import RequestIdMiddleware
from tests.reliability.test_error_mapping import DriverError


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("patient MRN-0042")

    @app.get("/driver")
    async def driver() -> None:
        raise DBAPIError("SELECT 1", {}, DriverError("42883"))  # undefined function

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("Patient", "x")

    return app


async def _get(path: str) -> int:
    transport = ASGITransport(app=_app(), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(path, headers={"X-Request-ID": "req-42"})
    return response.status_code


@pytest.mark.parametrize(
    ("path", "raised", "frame"),
    [("/boom", RuntimeError, "boom"), ("/driver", DBAPIError, "driver")],
)
async def test_a_500_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture, path: str, raised: type[Exception], frame: str
) -> None:
    caplog.set_level(logging.ERROR, logger="app.errors")
    assert await _get(path) == 500
    (record,) = [r for r in caplog.records if r.name == "app.errors"]
    assert record.levelno == logging.ERROR
    assert "req-42" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is raised
    frames = [f.name for f in traceback.extract_tb(record.exc_info[2])]
    assert frame in frames  # the route's own frame: where it went wrong


async def test_an_expected_error_is_not_logged_as_one(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="app.errors")
    assert await _get("/missing") == 404
    assert [r for r in caplog.records if r.name == "app.errors"] == []
