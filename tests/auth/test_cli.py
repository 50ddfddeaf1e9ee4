"""`vertebro keys ...`: the first admin key comes from the command line; `make run` prints a
local admin key in development only."""

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from httpx import AsyncClient
from typer.testing import CliRunner, Result

from app.cli import app as cli
from app.config import get_settings
from app.models.base import utcnow

runner = CliRunner()


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ENVIRONMENT", "development")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def _invoke(*args: str) -> Result:
    """The command in a thread of its own: it runs its own event loop, as from a shell."""
    return await asyncio.to_thread(runner.invoke, cli, ["keys", *args])


async def _run(*args: str) -> str:
    result = await _invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_keys_create_prints_a_working_key_once(anonymous_client: AsyncClient) -> None:
    key = (await _run("create", "--name", "first admin", "--scope", "admin")).strip()
    assert key.startswith("vtb_") and "\n" not in key
    response = await anonymous_client.get("/api/v1/api-keys", headers={"X-API-Key": key})
    assert response.status_code == 200
    [listed] = response.json()["items"]
    assert listed["name"] == "first admin" and listed["created_by"] == "cli"
    assert key not in await _run("list")


async def test_keys_revoke_by_prefix(anonymous_client: AsyncClient) -> None:
    key = (await _run("create", "--name", "x", "--scope", "cases:read")).strip()
    prefix = key.split("_")[1]
    await _run("revoke", f"vtb_{prefix}")
    assert (
        await anonymous_client.get("/api/v1/cases", headers={"X-API-Key": key})
    ).status_code == 401
    assert "revoked" in await _run("list", "--all")


async def test_keys_list_shows_when_each_key_expires() -> None:
    await _run("create", "--name", "expiring", "--scope", "cases:read", "--expires-in-days", "30")
    await _run("create", "--name", "lasting", "--scope", "cases:read")
    lines = {line.rsplit(maxsplit=1)[-1]: line for line in (await _run("list")).splitlines()}
    due = (utcnow() + timedelta(days=30)).date().isoformat()
    assert f"expires {due}" in lines["expiring"]
    assert "never expires" in lines["lasting"]


async def test_unknown_scopes_are_refused() -> None:
    result = await _invoke("create", "--name", "x", "--scope", "root")
    assert result.exit_code == 1
    assert "Unknown scopes: root" in result.output


@pytest.mark.usefixtures("development")
async def test_dev_admin_rotates_a_key_with_every_scope(anonymous_client: AsyncClient) -> None:
    first = (await _run("dev-admin")).strip()
    second = (await _run("dev-admin")).strip()
    assert first != second
    old = await anonymous_client.get("/api/v1/api-keys", headers={"X-API-Key": first})
    assert old.status_code == 401  # replaced
    new = await anonymous_client.get("/api/v1/api-keys", headers={"X-API-Key": second})
    [key] = new.json()["items"]
    assert set(key["scopes"]) == {
        "admin",
        "cases:read",
        "cases:write",
        "events:write",
        "metrics:read",
        "stats:read",
        "stats:research",
        "triggers:manage",
        "triggers:read",
    }


async def test_dev_admin_does_nothing_outside_development(anonymous_client: AsyncClient) -> None:
    assert get_settings().environment == "test"
    result = await _invoke("dev-admin")
    assert result.exit_code == 0 and result.stdout == ""
    assert "not in development" in result.stderr
