"""A real app for the browser tests: a fresh database, migrated and seeded, served by uvicorn.

`python -m tests.web.server seed` (run with DATABASE_URL set) loads the paper's three cases and
two ward cases: one treated 20 days ago whose day-12 score did not improve (an open imaging
trigger to act on), one treated 7 days ago (its day-7 score due); the paper's patients died in
2019, which closed their triggers. Test data, not patients.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.databases import create_database, drop_database, new_database_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEMO_PATIENTS = 60
UVICORN = (
    "--factory",
    "app.main:create_app",
    "--log-level",
    "warning",
    "--host",
    "127.0.0.1",
    "--port",
)
SCOPES = ("cases:read", "cases:write", "triggers:manage", "stats:read")


def ward_case(now: datetime, key: str, days_ago: int, level: str, day_12: bool) -> dict[str, Any]:
    t0 = (now - timedelta(days=days_ago)).replace(microsecond=0)

    def at(days: float) -> str:
        return (t0 + timedelta(days=days)).isoformat().replace("+00:00", "Z")

    return {
        "key": key,
        "source": "Test data for the browser tests (not a real patient).",
        "patient": {"birth_date": "2012-03-01", "sex": "male"},
        "procedures": [
            {
                "ref": "vp1",
                "kind": "vertebroplasty",
                "performed_at": at(0),
                "indication": "pain_palliation",
                "operator": "IR attending",
                "levels": [{"level": level}],
            }
        ],
        "follow_ups": [
            {"kind": "pain", "occurred_at": at(-2), "scale": "nrs11", "value": 8, "site": "back"},
        ]
        + (
            [{"kind": "pain", "occurred_at": at(12), "scale": "nrs11", "value": 8, "site": "back"}]
            if day_12
            else []
        ),
    }


async def _seed() -> None:
    from app.db import get_engine, get_sessionmaker
    from app.seeding import SEED_DIR, load_all

    with tempfile.TemporaryDirectory() as tmp:
        for path in SEED_DIR.glob("*.json"):
            (Path(tmp) / path.name).write_text(path.read_text())
        now = datetime.now(UTC)
        # treated 20 days ago, no better at day 12: an open imaging trigger
        trigger = ward_case(now, "web-test-ward-trigger", 20, "T9", day_12=True)
        # treated 7 days ago: its day-7 score is due
        due = ward_case(now, "web-test-ward-due", 7, "L1", day_12=False)
        for case in (trigger, due):
            (Path(tmp) / f"zz-{case['key']}.json").write_text(json.dumps(case))
        await load_all(get_sessionmaker(), Path(tmp))
    await get_engine().dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    key: str  # an API key holding SCOPES
    database_url: str


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{args} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def running_app() -> Iterator[Server]:
    database_url = new_database_url("vertebro_web")
    asyncio.run(create_database(database_url))
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "test"}
    port = _free_port()
    process = None
    try:
        _run([str(BIN / "vertebro"), "migrate", "heads"], env)
        _run([sys.executable, "-m", "tests.web.server", "seed"], env)
        # a synthetic cohort large enough for the dashboard's figures not to be suppressed
        _run([str(BIN / "vertebro"), "demo", "--patients", str(DEMO_PATIENTS)], env)
        scopes = [arg for scope in SCOPES for arg in ("--scope", scope)]
        out = _run([str(BIN / "vertebro"), "keys", "create", "--name", "web tests", *scopes], env)
        key = out.strip().splitlines()[-1]  # alone on stdout
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *UVICORN, str(port)],
            env=env,
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):  # up to 30 s for the start-up, on a busy machine
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError("uvicorn exited")
            time.sleep(0.1)
        else:
            raise RuntimeError("uvicorn did not answer /health")
        yield Server(url, key, database_url)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        asyncio.run(drop_database(database_url))


if __name__ == "__main__" and sys.argv[1:] == ["seed"]:
    asyncio.run(_seed())
