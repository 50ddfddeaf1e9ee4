"""docker-compose.yml and docker/ hold together, and hold the deployment's promises: the service
connects to PostgreSQL as a role that owns nothing (only `setup`, which migrates, as the owner;
the superuser only in the init script), and uvicorn is reached through nginx alone and trusts
X-Forwarded-For from that proxy's address alone.

Docker does not run here: this reads the files; tests/audit/test_app_role.py runs the init
script and the grants against a real PostgreSQL."""

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
INIT = "./docker/postgres-init:/docker-entrypoint-initdb.d:ro"


def _env(service: str) -> dict[str, str]:
    environment: dict[str, str] = SERVICES[service].get("environment", {})
    return environment


def _user(url: str) -> str:
    match = re.match(r"[^:]+://([^:@/]+)", url)
    assert match, url
    return match.group(1)


def _case(script: str, name: str) -> str:
    """One branch of the entrypoint's `case`."""
    match = re.search(rf"^\s*{name}\)(.*?);;", script, re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group(1)


def test_the_service_connects_as_the_app_role_and_only_setup_as_the_owner() -> None:
    db = _env("db")
    owner, app, superuser = db["REGISTRY_OWNER"], db["REGISTRY_APP"], db["POSTGRES_USER"]
    assert len({owner, app, superuser}) == 3
    users = {
        name: _user(service["environment"]["DATABASE_URL"])
        for name, service in SERVICES.items()
        if "DATABASE_URL" in service.get("environment", {})
    }
    assert users.pop("setup") == owner
    assert set(users) >= {"api", "replica", "worker"}
    assert set(users.values()) == {app}
    assert _env("pgbouncer")["DB_USER"] == app
    assert _env("setup")["REGISTRY_APP"] == app
    assert INIT in SERVICES["db"]["volumes"]
    init = ROOT / "docker" / "postgres-init"
    # all the superuser ever runs, and tests/audit/test_app_role.py runs it
    assert [p.name for p in init.iterdir()] == ["10-registry-roles.sh"]
    assert os.access(init / "10-registry-roles.sh", os.X_OK)  # run by the image, not sourced


def test_setup_migrates_then_grants_and_the_others_wait_for_it() -> None:
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    setup = _case(script, "setup")
    assert setup.index("vertebro migrate") < setup.index("vertebro db grant-app-role")
    assert "migrate" not in _case(script, "api")
    assert SERVICES["setup"]["command"] == ["setup"]
    assert SERVICES["api"]["depends_on"]["setup"] == {"condition": "service_completed_successfully"}
    for waits in ("replica", "worker"):
        assert SERVICES[waits]["depends_on"]["api"] == {"condition": "service_healthy"}


@pytest.mark.parametrize(("proxy", "backend"), [("proxy", "api"), ("lb", "replica")])
def test_uvicorn_is_behind_nginx_and_trusts_only_its_address(proxy: str, backend: str) -> None:
    address = SERVICES[proxy]["networks"]["edge"]["ipv4_address"]
    [subnet] = COMPOSE["networks"]["edge"]["ipam"]["config"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet["subnet"])
    assert _env(backend)["FORWARDED_ALLOW_IPS"] == address
    assert "edge" in SERVICES[backend]["networks"]
    mounts = dict(reversed(v.split(":")[:2]) for v in SERVICES[proxy]["volumes"])
    upstream = (ROOT / mounts["/etc/nginx/nginx.conf"]).read_text()
    assert re.search(rf"^\s*server {backend}:8000;", upstream, re.MULTILINE)
    assert "include /etc/nginx/registry-proxy.conf;" in upstream
    server = (ROOT / mounts["/etc/nginx/registry-proxy.conf"]).read_text()
    # nginx, the edge, writes the header: what a client sent in it is not passed on
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in server
    assert "listen 8080;" in server
    assert [port.rsplit(":", 1)[1] for port in SERVICES[proxy]["ports"]] == ["8080"]


def test_no_api_process_is_reachable_past_the_proxy() -> None:
    assert "profiles" not in SERVICES["proxy"]  # the default deployment has it
    for name, service in SERVICES.items():
        if "build" in service:
            assert "ports" not in service, name
        assert service.get("environment", {}).get("FORWARDED_ALLOW_IPS") != "*", name
    assert "backend" not in SERVICES["proxy"]["networks"]  # nginx never reaches the database


def _stages() -> list[list[str]]:
    """The Dockerfile's lines, one list per stage (FROM line first)."""
    stages: list[list[str]] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stages.append([])
        if stages and line and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def test_the_image_installs_the_locked_dependencies_then_the_built_wheel() -> None:
    build, image = _stages()
    assert build[0].endswith(" AS build")
    assert any("pip wheel" in line and "--no-deps" in line for line in build)
    assert any("--require-hashes -r requirements/build.txt" in line for line in build)
    lock = next(i for i, line in enumerate(image) if "--require-hashes -r" in line)
    wheel = next(i for i, line in enumerate(image) if line.startswith("COPY --from=build"))
    assert lock < wheel  # a change of code does not reinstall the dependencies
    assert "run.txt" in image[lock]
    assert any(".whl" in line and "--no-deps" in line for line in image[wheel:])
    assert not [
        line for line in build + image if re.search(r"pip install .*(-e|--editable) ", line)
    ]
    assert not [line for line in image if line.startswith("COPY app")]  # the code is the wheel
    assert any(line.startswith("USER ") for line in image)


def test_every_image_is_pinned_to_a_release() -> None:
    images = [line.split()[1] for stage in _stages() for line in stage[:1]]
    images += [s["image"] for s in SERVICES.values() if "image" in s]
    for image in images:
        name, _, tag = image.partition(":")
        assert tag and tag != "latest", image
        # a release, not a series: PostgreSQL numbers releases major.minor (16.15), the others
        # major.minor.patch
        release = r"\d+\.\d+[-.]" if name == "postgres" else r"v?\d+\.\d+\.\d+"
        assert re.match(release, tag), image


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run(
        [hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _read_variables() -> set[str]:
    """Every variable the compose file interpolates or sets, and the scripts read."""
    compose = (ROOT / "docker-compose.yml").read_text()
    names = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose))
    for service in SERVICES.values():
        names |= set(service.get("environment", {}))
    names |= set(COMPOSE["x-app-env"])
    scripts = [ROOT / "docker" / "entrypoint.sh", *(ROOT / "docker" / "postgres-init").iterdir()]
    for script in scripts:
        names |= set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script.read_text()))
    names |= {
        name
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        for name in re.findall(r"\b([A-Z_][A-Z0-9_]+)=", line)
    }
    return names


def test_every_variable_of_the_deployment_is_in_the_table() -> None:
    text = (ROOT / "docs" / "deployment.md").read_text()
    table = text[text.index("## Variables") :].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z_][A-Z0-9_]*)`", table))
    read = _read_variables()
    assert {"SECRET_KEY", "SEED_ON_START", "POSTGRES_PASSWORD", "WORKER_HEARTBEAT_FILE"} <= read
    assert read - documented == set()


def test_the_build_context_leaves_out_what_the_image_does_not_copy() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()
    }
    assert {".venv", "var", ".git", "tests", "test-artifacts"} <= ignored
    copied = re.findall(r"^COPY (?:--\S+ )?(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert copied and all(path.split("/")[0] not in ignored for path in copied)


def test_compose_commands_that_start_nothing_need_no_secret() -> None:
    """`${VAR:?}` makes every compose command fail without VAR, `docker compose down` too; the
    secrets are checked where they are used instead (the API at start, the database's init)."""
    assert ":?" not in (ROOT / "docker-compose.yml").read_text()


def test_every_service_built_from_the_image_has_a_healthcheck_that_fits_it() -> None:
    """The image's HEALTHCHECK asks /health over HTTP: a service without an HTTP server (the
    webhook worker) needs its own, or it stays unhealthy for ever."""
    for name, service in COMPOSE["services"].items():
        if service.get("build") is None:
            continue
        command = service.get("command", ["api"])
        if command[0] == "worker":
            assert service["healthcheck"]["test"] == ["CMD", "vertebro", "worker", "--check"], name
            assert "WORKER_HEARTBEAT_FILE" in service["environment"], name


def test_every_api_process_shares_the_bulk_export_files() -> None:
    """A FHIR $export file is written by whichever API process ran the job and may be asked
    of any other: every API service mounts one volume where the image keeps them (a folder the
    image makes and gives its non-root user, so the volume starts writable)."""
    target = "/srv/registry/var/bulk-exports"
    for name in ("api", "replica"):
        assert f"bulk-exports:{target}" in SERVICES[name]["volumes"], name
    assert "bulk-exports" in COMPOSE["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"mkdir -p {target}" in dockerfile and "chown -R 10001 /srv/registry/var" in dockerfile
