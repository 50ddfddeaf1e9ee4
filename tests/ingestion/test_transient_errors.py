"""A database error that a retry can clear (statement timeout, deadlock, ...) answers 503 with
Retry-After, not 500: long ingestion batches can meet one under heavy concurrency."""

import json

import pytest
from fastapi import Request
from sqlalchemy.exc import DBAPIError

from app.errors import problem_handler


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("withheld")
        self.sqlstate = sqlstate


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/api/v1/events", "headers": []})


@pytest.mark.parametrize("sqlstate", ["57014", "55P03", "40P01", "40001"])
async def test_transient_database_errors_are_503(sqlstate: str) -> None:
    error = DBAPIError("UPDATE ...", {}, _Orig(sqlstate))
    response = await problem_handler(_request(), error)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert json.loads(bytes(response.body))["type"] == "/problems/busy"


async def test_other_database_errors_stay_500() -> None:
    response = await problem_handler(_request(), DBAPIError("SELECT", {}, _Orig("42P01")))
    assert response.status_code == 500
