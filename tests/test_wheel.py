"""The wheel the image installs (Dockerfile's build stage) holds everything the service needs
without a checkout around it: the package with its templates and vendored assets, and the
migrations, alembic.ini and the paper's cases under app/_bundled. Installed on its own in a
directory outside the checkout, it migrates, seeds the three cases and serves its pages."""

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIP = [sys.executable, "-m", "pip", "--quiet"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("vertebro_registry-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [*PIP, "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    return target


def _source_files(folder: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and "_bundled" not in path.parts
    }


def test_the_wheel_holds_the_package_and_its_bundled_resources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _source_files("app") <= names  # templates, vendored assets, every module
    for folder in ("migrations", "seed"):
        expected = {f"app/_bundled/{name}" for name in _source_files(folder)}
        assert expected <= names, expected - names
    assert "app/_bundled/alembic.ini" in names
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


def _run(installed: Path, code: str, tmp_path: Path) -> str:
    env = {
        "PATH": os.environ["PATH"],
        # the wheel's copy comes before the checkout's editable install
        "PYTHONPATH": str(installed),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
        "ENVIRONMENT": "development",
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _cli(*args: str) -> str:
    return f"import sys; from app.cli import main; sys.argv = ['vertebro', *{list(args)!r}]; main()"


def test_the_installed_wheel_migrates_seeds_and_serves_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    where = _run(installed, "import app, app.common.resources as r; print(app.__file__)", tmp_path)
    assert Path(where.strip()).is_relative_to(installed)

    _run(installed, _cli("migrate"), tmp_path)
    _run(installed, _cli("seed"), tmp_path)
    with sqlite3.connect(tmp_path / "registry.db") as db:
        assert db.execute("SELECT count(*) FROM patients").fetchone() == (3,)
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    heads = {p.name for p in (ROOT / "migrations" / "versions").glob("*.py")}
    assert any(f'"{revision}"' in (ROOT / "migrations" / "versions" / h).read_text() for h in heads)

    pages = _run(
        installed,
        """
import asyncio, json, httpx
from app.main import create_app

async def main():
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            out = {}
            for url in ("/health", "/docs", "/app/sign-in"):
                response = await client.get(url)
                out[url] = [response.status_code, response.text[:20000]]
            print(json.dumps(out))

asyncio.run(main())
""",
        tmp_path,
    )
    answers = json.loads(pages.strip().splitlines()[-1])
    assert {url: status for url, (status, _) in answers.items()} == {
        "/health": 200,
        "/docs": 200,
        "/app/sign-in": 200,
    }
    assert "<form" in answers["/app/sign-in"][1]  # the template was found in the wheel
