"""The deployment's role split on a real PostgreSQL, made as docker-compose.yml makes it: the
roles by the database container's init script (docker/postgres-init/), the schema by
`vertebro migrate` as the owner, the service's grants by `vertebro db grant-app-role` (the
`setup` step of docker/entrypoint.sh); or, by the same script, a database an older deployment
migrated as the superuser. Connected as the app role, the service does all of its work, and
cannot change, remove or stop protecting an audit row.

SQLite has no roles: there the append-only triggers are the only guard (README)."""

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.auth.scopes import ALL_SCOPES
from app.auth.service import create_key
from app.cli import alembic_config
from app.models import AuditEvent
from tests.databases import create_database, drop_database, server_url
from tests.factories import add_pain, make_patient, make_procedure
from tests.notifications.receiver import Receiver
from tests.reliability.procs import (
    ROOT,
    SERVER_ENV,
    free_port,
    pain_event,
    stop_process,
    wait_for_health,
)

INIT_SCRIPT = ROOT / "docker" / "postgres-init" / "10-registry-roles.sh"
PASSWORD = uuid.uuid4().hex
pytestmark = pytest.mark.skipif(
    server_url() is None, reason="PostgreSQL only: SQLite has no roles (and no such guarantee)"
)


@dataclass(frozen=True)
class Deployment:
    owner: str
    app: str
    owner_url: str
    app_url: str


def _init_roles(database: URL, owner: str, app: str) -> None:
    """docker/postgres-init/ as the postgres image runs it, here over TCP."""
    env = {
        **os.environ,
        "PGHOST": database.host or "127.0.0.1",
        "PGPORT": str(database.port or 5432),
        "POSTGRES_USER": database.username or "postgres",
        "POSTGRES_DB": database.database or "",
        "REGISTRY_OWNER": owner,
        "REGISTRY_OWNER_PASSWORD": PASSWORD,
        "REGISTRY_APP": app,
        "REGISTRY_APP_PASSWORD": PASSWORD,
    }
    if database.password:
        env["PGPASSWORD"] = database.password
    done = subprocess.run(
        ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


async def _vertebro(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _drop_roles(*roles: str) -> None:
    admin = create_async_engine(str(server_url()), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        for role in roles:
            await conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    await admin.dispose()


@pytest.fixture(scope="module", params=["new", "adopted"])
async def deployment(request: pytest.FixtureRequest) -> AsyncIterator[Deployment]:
    """A database set up as docker-compose.yml sets up a new one; or one an older deployment
    migrated as the superuser, then adopted by the same init script."""
    if shutil.which("psql") is None:
        pytest.skip("psql (the PostgreSQL client) runs docker/postgres-init/ as the image does")
    suffix = uuid.uuid4().hex[:10]
    owner, app = f"vertebro_owner_{suffix}", f"vertebro_app_{suffix}"
    database = make_url(str(server_url())).set(database=f"vertebro_roles_{suffix}")

    def as_role(role: str) -> str:
        return database.set(username=role, password=PASSWORD).render_as_string(False)

    await create_database(database.render_as_string(False))
    try:
        if request.param == "adopted":
            superuser = database.render_as_string(False)
            await asyncio.to_thread(command.upgrade, alembic_config(superuser), "heads")
        await asyncio.to_thread(_init_roles, database, owner, app)
        await asyncio.to_thread(command.upgrade, alembic_config(as_role(owner)), "heads")
        granted = await _vertebro(as_role(owner), "db", "grant-app-role", app)
        assert granted.returncode == 0, granted.stderr
        yield Deployment(owner, app, as_role(owner), as_role(app))
    finally:
        await drop_database(database.render_as_string(False))
        await _drop_roles(app, owner)


REFUSED = [
    "UPDATE audit_events SET outcome = 'success'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
    "SET session_replication_role = replica",
    "SET LOCAL session_replication_role = replica",
    "DROP TRIGGER audit_events_no_update_delete ON audit_events",
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
    "ALTER TABLE audit_events RENAME TO audit_events_old",
    "DROP TABLE audit_events CASCADE",
    "CREATE TABLE audit_events_copy (id uuid)",
    'SET ROLE "{owner}"',
]


@pytest.mark.parametrize("statement", REFUSED)
async def test_the_app_role_cannot_change_remove_or_unprotect_audit_rows(
    deployment: Deployment, statement: str
) -> None:
    engine = create_async_engine(deployment.app_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(AuditEvent).values(
                    id=uuid.uuid4(), occurred_at=datetime.now(UTC), action="read", method="GET",
                    route="/probe", aggregate=False, outcome="success", status_code=200,
                )
            )  # fmt: skip
            before = await conn.scalar(select(func.count()).select_from(AuditEvent))
        with pytest.raises(DBAPIError) as refused:
            async with engine.begin() as conn:
                await conn.exec_driver_sql(statement.format(owner=deployment.owner))
        # refused by the privileges, before the append-only trigger would have had to
        assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(AuditEvent)) == before
            enabled = await conn.scalars(
                text(
                    "SELECT tgenabled::text FROM pg_trigger"
                    " WHERE tgrelid = 'audit_events'::regclass"
                )
            )
            assert sorted(enabled) == ["O", "O"]  # both triggers, enabled
    finally:
        await engine.dispose()


async def test_the_app_role_is_no_superuser_and_the_owner_owns_everything(
    deployment: Deployment,
) -> None:
    engine = create_async_engine(deployment.app_url)
    try:
        async with engine.connect() as conn:
            others = await conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT relowner AS owner FROM pg_class"
                    " WHERE relnamespace = 'public'::regnamespace UNION ALL"
                    " SELECT proowner FROM pg_proc WHERE pronamespace = 'public'::regnamespace)"
                    " AS o WHERE pg_get_userbyid(owner) <> :owner"
                ),
                {"owner": deployment.owner},
            )
            attributes = (
                await conn.execute(
                    text(
                        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication"
                        " FROM pg_roles WHERE rolname = current_user"
                    )
                )
            ).one()
            owned = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
                    " AND n.nspname = 'public'"
                )
            )
            audit = await conn.scalar(
                text("SELECT has_table_privilege('audit_events', 'SELECT, INSERT')")
            )
    finally:
        await engine.dispose()
    assert tuple(attributes) == (False, False, False, False, False)
    assert owned == 0 and others == 0
    assert audit is True


async def test_grants_are_refused_to_a_role_that_could_lift_the_protection(
    deployment: Deployment,
) -> None:
    refused = await _vertebro(deployment.owner_url, "db", "grant-app-role", deployment.owner)
    assert refused.returncode == 1
    assert f"{deployment.owner} is, or is a member of, {deployment.owner}" in refused.stderr


async def test_the_service_does_its_work_as_the_app_role(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Through a real server connected as the app role, with its background sweep and webhook
    worker: REST and FHIR writes, events, Idempotency-Key, triggers and their webhooks,
    statistics (a full rebuild TRUNCATEs), keys and the audit trail; then the operators'
    commands. Nothing is refused, and nothing is logged as refused."""
    engine = create_async_engine(deployment.app_url)
    async with async_sessionmaker(engine)() as session:
        _row, key = await create_key(session, name="app role", scopes=sorted(ALL_SCOPES))
        await session.commit()
    await engine.dispose()
    receiver = await Receiver().start()
    log = tmp_path / "server.log"
    port = free_port()
    env = {
        **os.environ,
        **SERVER_ENV,
        "DATABASE_URL": deployment.app_url,
        "TRIGGERS_SCHEDULER_ENABLED": "true",
        "TRIGGERS_SWEEP_INTERVAL_S": "0.5",
        "NOTIFICATIONS_WORKER_ENABLED": "true",
        "NOTIFICATIONS_POLL_INTERVAL_S": "0.2",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    }
    with log.open("wb") as output:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", cwd=ROOT, env=env,
            stdout=output, stderr=output,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_for_health(base)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
                await _ordinary_work(client, receiver)
        finally:
            await stop_process(server)
            await receiver.stop()
    for command_args in (("stats", "refresh", "--full"), ("triggers", "sweep")):
        done = await _vertebro(deployment.app_url, *command_args)
        assert done.returncode == 0, done.stderr
    written = log.read_text()
    assert "permission denied" not in written and "must be owner" not in written, written


async def _ordinary_work(client: httpx.AsyncClient, receiver: Receiver) -> None:
    subscription = await client.post(
        "/api/v1/subscriptions", json={"url": receiver.url, "events": ["imaging_trigger.opened"]}
    )
    assert subscription.status_code == 201, subscription.text
    patient = await make_patient(client)
    procedure = await make_procedure(client, patient["id"])
    for at, score in (("2019-02-09T09:00:00Z", 7), ("2019-02-22T09:00:00Z", 7)):
        await add_pain(client, patient["id"], at, score)
    patched = await client.patch(
        f"/api/v1/patients/{patient['id']}",
        json={"histology": "ewing sarcoma"},
        headers={"If-Match": f'"{patient["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    events = await client.post(
        "/api/v1/events", json={"events": [pain_event("e1", "MRN-1"), pain_event("e2", "MRN-1")]}
    )
    assert events.status_code in (200, 201, 207), events.text
    fhir = await client.post(
        "/fhir/r4/Patient",
        json={"resourceType": "Patient", "identifier": [{"system": "urn:t", "value": "F-1"}]},
        headers={"Content-Type": "application/fhir+json"},
    )
    assert fhir.status_code == 201, fhir.text
    once = {"Idempotency-Key": "app-role-1"}
    first = await client.post("/api/v1/patients", json={"sex": "male"}, headers=once)
    again = await client.post("/api/v1/patients", json={"sex": "male"}, headers=once)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    await receiver.wait_for(1)  # the sweep fired a trigger, the worker delivered it
    items = (await client.get("/api/v1/imaging-triggers")).json()["items"]
    assert len(items) == 1, [(t["rule"], t["status"], t.get("history")) for t in items]
    (trigger,) = items
    moved = await client.post(
        f"/api/v1/imaging-triggers/{trigger['id']}/transitions",
        json={"to": "acknowledged"},
        headers={"If-Match": f'"{trigger["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    new_key = await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["stats:read"]})
    assert new_key.status_code == 201, new_key.text
    revoked = await client.post(f"/api/v1/api-keys/{new_key.json()['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    for path in (
        "/api/v1/stats/outcomes",
        f"/api/v1/cases/{patient['id']}",
        f"/api/v1/procedures/{procedure['id']}",
        f"/fhir/r4/Patient/{patient['id']}/$everything",
        "/api/v1/webhook-deliveries",
        "/api/v1/audit",
        "/ready",
    ):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
    audit = (await client.get("/api/v1/audit", params={"limit": 500})).json()["items"]
    assert len(audit) >= 15
