"""The worker's liveness for a container healthcheck: `vertebro worker` touches
WORKER_HEARTBEAT_FILE after each poll against the real database; `vertebro worker --check`
answers 0 while it is fresh, 1 when it is stale or missing, 2 when none is configured."""

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.config import get_settings
from app.db import get_sessionmaker
from app.notifications.worker import Worker
from app.triggers import webhooks


async def test_the_worker_beats_after_each_poll(tmp_path: Path) -> None:
    path = tmp_path / "beat" / "worker.heartbeat"
    settings = get_settings().model_copy(
        update={"worker_heartbeat_file": path, "notifications_poll_interval_s": 0.05}
    )
    worker = Worker(get_sessionmaker(), settings, payload=webhooks.payload)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    for _ in range(200):
        if path.is_file():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await running
    assert path.is_file()


@pytest.fixture
def heartbeat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "worker.heartbeat"
    monkeypatch.setenv("WORKER_HEARTBEAT_FILE", str(path))
    get_settings.cache_clear()
    yield path
    monkeypatch.delenv("WORKER_HEARTBEAT_FILE")
    get_settings.cache_clear()


def test_the_check_follows_the_heartbeat(heartbeat_file: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["worker", "--check"])
    assert missing.exit_code == 1 and "no heartbeat" in missing.output
    heartbeat_file.touch()
    assert runner.invoke(cli, ["worker", "--check"]).exit_code == 0
    old = heartbeat_file.stat().st_mtime - 3600
    os.utime(heartbeat_file, (old, old))
    stale = runner.invoke(cli, ["worker", "--check"])
    assert stale.exit_code == 1 and "old" in stale.output


def test_the_check_says_when_no_heartbeat_is_configured() -> None:
    answer = CliRunner().invoke(cli, ["worker", "--check"])
    assert answer.exit_code == 2 and "WORKER_HEARTBEAT_FILE" in answer.output
