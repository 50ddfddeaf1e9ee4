"""The lock files `make run` and `make test` install from: every requirement pinned and hashed,
nothing machine-local, the development tools kept out of what serving installs, and every
dependency pyproject.toml declares present in the lock of its extra."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9._-]+)==[^\s\\]+ \\$")


def _name(requirement: str) -> str:
    name = re.split(r"[\s\[<>=~!;]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: str) -> dict[str, list[str]]:
    """package -> its hash lines."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _name(match.group(1))
            pins[current] = []
        elif line.strip().startswith("--hash=sha256:"):
            pins[current].append(line.strip())
    return pins


@pytest.mark.parametrize("lock", ["run.txt", "dev.txt", "build.txt"])
def test_every_requirement_is_pinned_and_hashed_and_nothing_is_local(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text()
    assert "file://" not in text and "/opt/" not in text
    assert "--index-url" not in text and "--find-links" not in text
    requirement_lines = [
        line for line in text.splitlines() if line and not line[0].isspace() and line[0] != "#"
    ]
    assert all(PIN.match(line) for line in requirement_lines), requirement_lines
    assert all(hashes for hashes in _pins(lock).values())


def test_serving_installs_no_development_tool_and_testing_installs_them() -> None:
    run, dev = _pins("run.txt"), _pins("dev.txt")
    tools = {"pytest", "ruff", "mypy", "hypothesis", "schemathesis", "selenium", "pip-tools"}
    assert tools.isdisjoint(run)
    assert tools <= set(dev)
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert declared <= set(run)
    assert {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]} <= set(dev)
    # the same version of everything both install
    run_text = (ROOT / "requirements" / "run.txt").read_text()
    dev_text = (ROOT / "requirements" / "dev.txt").read_text()
    for package in run:
        version = re.search(rf"^{re.escape(package)}==(\S+)", run_text, re.M | re.I)
        assert version is not None
        assert re.search(
            rf"^{re.escape(package)}=={re.escape(version.group(1))} ", dev_text, re.M | re.I
        )


def test_the_build_backend_is_locked_with_the_same_versions_as_the_tools() -> None:
    build, dev = _pins("build.txt"), _pins("dev.txt")
    assert {_name(r) for r in PYPROJECT["build-system"]["requires"]} <= set(build)
    build_text = (ROOT / "requirements" / "build.txt").read_text()
    dev_text = (ROOT / "requirements" / "dev.txt").read_text()
    for package in set(build) & set(dev):
        version = re.search(rf"^{re.escape(package)}==(\S+)", build_text, re.M | re.I)
        assert version is not None
        assert re.search(
            rf"^{re.escape(package)}=={re.escape(version.group(1))} ", dev_text, re.M | re.I
        )
