"""Every request that touches patient data leaves audit rows, written in its own transaction:
who, what, which patient, how it ended. Refused and failed requests are recorded too."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.dependencies import AuditDep
from app.db import SessionDep
from app.errors import RuleViolation
from app.http.guards import CasesWrite, require
from app.main import create_app
from app.models import AuditEvent, Patient
from app.patients import service as patients
from app.patients.schemas import PatientCreate
from tests.conftest import ScopedClient, make_api_key
from tests.factories import add_pain, make_patient, make_procedure


async def audit_of(client: AsyncClient, response: Response) -> list[dict[str, Any]]:
    """The audit rows of one earlier request (by its X-Request-ID)."""
    request_id = response.headers["x-request-id"]
    page = await client.get("/api/v1/audit", params={"request_id": request_id})
    assert page.status_code == 200, page.text
    rows: list[dict[str, Any]] = page.json()["items"]
    return rows


async def my_credential(client: AsyncClient) -> str:
    probe = await client.get("/api/v1/audit", params={"limit": 1})
    rows = await audit_of(client, probe)
    return str(rows[0]["credential_id"])


async def test_a_read_is_recorded_with_patient_credential_and_request(
    client: AsyncClient,
) -> None:
    patient = await make_patient(client)
    read = await client.get(f"/api/v1/patients/{patient['id']}", headers={"X-Request-ID": "r-1"})
    assert read.headers["x-request-id"] == "r-1"
    [row] = await audit_of(client, read)
    assert row["patient_id"] == patient["id"]
    assert row["action"] == "read" and row["method"] == "GET"
    assert row["route"] == "/api/v1/patients/{patient_id}"
    assert row["resource_type"] == "patients" and row["resource_id"] == patient["id"]
    assert row["outcome"] == "success" and row["status_code"] == 200
    assert row["credential_kind"] == "api-key"
    assert row["credential_id"] == await my_credential(client)
    assert row["credential_label"].startswith("vtb_")
    assert row["client_address"] == "127.0.0.1"
    assert row["request_id"] == "r-1"
    assert row["aggregate"] is False


async def test_a_create_records_the_new_resource_and_its_patient(client: AsyncClient) -> None:
    created = await client.post("/api/v1/patients", json={"sex": "female"})
    [row] = await audit_of(client, created)
    assert row["action"] == "create" and row["status_code"] == 201
    assert row["resource_id"] == created.json()["id"] == row["patient_id"]
    pain = await client.post(
        "/api/v1/follow-ups",
        json={
            "kind": "pain",
            "patient_id": created.json()["id"],
            "occurred_at": "2019-03-01T10:00:00Z",
            "value": 5,
        },
    )
    [row] = await audit_of(client, pain)
    assert row["resource_type"] == "follow-ups"
    assert row["resource_id"] == pain.json()["id"]
    assert row["patient_id"] == created.json()["id"]


async def test_lists_and_cases_record_each_patient_they_show(client: AsyncClient) -> None:
    first, second = await make_patient(client), await make_patient(client)
    await make_procedure(client, first["id"])
    await add_pain(client, first["id"], "2019-02-10T10:00:00Z", 7)
    listed = await client.get("/api/v1/patients")
    assert {r["patient_id"] for r in await audit_of(client, listed)} == {
        first["id"],
        second["id"],
    }
    case = await client.get(f"/api/v1/cases/{first['id']}")
    assert case.status_code == 200
    assert [r["patient_id"] for r in await audit_of(client, case)] == [first["id"]]
    cases = await client.get("/api/v1/cases")
    assert len(await audit_of(client, cases)) == 2
    procedures = await client.get("/api/v1/procedures", params={"patient_id": first["id"]})
    assert [r["patient_id"] for r in await audit_of(client, procedures)] == [first["id"]]


async def test_a_refused_request_is_recorded_although_it_rolled_back(
    client: AsyncClient,
) -> None:
    missing = uuid.uuid4()
    not_found = await client.get(f"/api/v1/patients/{missing}")
    assert not_found.status_code == 404
    [row] = await audit_of(client, not_found)
    assert row["outcome"] == "rejected" and row["status_code"] == 404
    assert row["reason"] == "not-found" and row["resource_id"] == str(missing)
    assert row["patient_id"] is None

    patient = await make_patient(client)
    stale = await client.patch(
        f"/api/v1/patients/{patient['id']}", json={"notes": "x"}, headers={"If-Match": '"7"'}
    )
    assert stale.status_code == 412
    [row] = await audit_of(client, stale)
    assert (row["outcome"], row["reason"]) == ("rejected", "version-mismatch")
    assert row["patient_id"] == patient["id"]
    assert row["action"] == "update"


async def test_failed_authentications_are_recorded(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    nothing = await anonymous_client.get("/api/v1/cases")
    [row] = await audit_of(client, nothing)
    assert (row["outcome"], row["status_code"], row["reason"]) == (
        "unauthenticated",
        401,
        "unauthenticated",
    )
    assert row["credential_id"] is None and row["route"] == "/api/v1/cases"

    created = (
        await client.post("/api/v1/api-keys", json={"name": "old", "scopes": ["cases:read"]})
    ).json()
    await client.post(f"/api/v1/api-keys/{created['id']}/revoke")
    revoked = await anonymous_client.get("/api/v1/cases", headers={"X-API-Key": created["key"]})
    [row] = await audit_of(client, revoked)
    assert row["reason"] == "revoked-credential"
    assert row["credential_id"] == created["id"]  # a known key: which one failed


async def test_forbidden_requests_are_recorded(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient = await make_patient(client)
    async with scoped_client("stats:read") as stats:
        refused = await stats.get(f"/api/v1/patients/{patient['id']}")
    assert refused.status_code == 403
    [row] = await audit_of(client, refused)
    assert (row["outcome"], row["reason"]) == ("forbidden", "insufficient-scope")
    assert row["credential_id"] is not None and row["credential_id"] != await my_credential(client)
    assert row["patient_id"] is None  # nothing was read


async def test_the_audit_is_queried_by_patient_credential_time_and_page(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    patient, other = await make_patient(client), await make_patient(client)
    async with scoped_client("cases:read") as reader:
        for _ in range(3):
            await reader.get(f"/api/v1/patients/{patient['id']}")
        await reader.get(f"/api/v1/patients/{other['id']}")
        probe = await reader.get(f"/api/v1/patients/{other['id']}")
    reader_id = (await audit_of(client, probe))[0]["credential_id"]

    by_patient = (
        await client.get("/api/v1/audit", params={"patient_id": patient["id"], "limit": 500})
    ).json()["items"]
    assert len(by_patient) == 4  # created, then read three times
    assert {r["action"] for r in by_patient} == {"create", "read"}
    assert all(r["patient_id"] == patient["id"] for r in by_patient)

    by_reader = (await client.get("/api/v1/audit", params={"credential_id": reader_id})).json()
    assert len(by_reader["items"]) == 5 and by_reader["next_cursor"] is None

    first = (
        await client.get("/api/v1/audit", params={"credential_id": reader_id, "limit": 2})
    ).json()
    second = (
        await client.get(
            "/api/v1/audit",
            params={"credential_id": reader_id, "limit": 2, "cursor": first["next_cursor"]},
        )
    ).json()
    assert len(first["items"]) == len(second["items"]) == 2
    assert first["items"][-1]["id"] < second["items"][0]["id"]

    middle = by_reader["items"][2]["occurred_at"]
    later = (
        await client.get("/api/v1/audit", params={"credential_id": reader_id, "from": middle})
    ).json()["items"]
    earlier = (
        await client.get("/api/v1/audit", params={"credential_id": reader_id, "to": middle})
    ).json()["items"]
    assert len(later) + len(earlier) == 5
    assert all(r["occurred_at"] >= middle for r in later)
    assert all(r["occurred_at"] < middle for r in earlier)
    naive = await client.get("/api/v1/audit", params={"from": "2020-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_the_audit_cannot_be_changed_through_the_api(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    audit_operations = {
        (path, method) for path, item in spec["paths"].items() if "audit" in path for method in item
    }
    assert audit_operations == {("/api/v1/audit", "get")}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, "/api/v1/audit")
        assert response.status_code == 405


async def test_only_admins_read_the_audit(scoped_client: ScopedClient) -> None:
    async with scoped_client("cases:write", "stats:research") as clinician:
        assert (await clinician.get("/api/v1/audit")).status_code == 403


# --- the mechanism, on routes made for the test ----------------------------------------------


@pytest.fixture
async def probe_app() -> AsyncIterator[AsyncClient]:
    """The application plus two routes that only tests have."""
    app: FastAPI = create_app()

    @app.get("/api/v1/stats/probe", dependencies=[require("stats:read")])
    async def aggregate(session: SessionDep) -> dict[str, int]:
        loaded = (await session.scalars(select(Patient))).all()  # patient rows, yet aggregate
        return {"patients": len(loaded)}

    @app.post("/api/v1/probe/fail-after-write")
    async def fail_after_write(principal: CasesWrite, session: SessionDep) -> None:
        await patients.create_patient(session, PatientCreate(sex="male"))
        raise RuleViolation("probe", "The probe fails after writing.")

    @app.get("/api/v1/probe/core-read", dependencies=[require("cases:read")])
    async def core_read(session: SessionDep, audit: AuditDep) -> list[str]:
        ids = (await session.execute(select(Patient.id))).scalars().all()  # no ORM objects
        for patient_id in ids:
            audit.note_patient(patient_id)
        return [str(i) for i in ids]

    key = await make_api_key("stats:read", "cases:write", "admin", name="probe")
    async with AsyncClient(
        transport=ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        yield client


async def test_aggregate_reads_are_recorded_without_patient_ids(
    client: AsyncClient, probe_app: AsyncClient
) -> None:
    await make_patient(client)
    await make_patient(client)
    response = await probe_app.get("/api/v1/stats/probe")
    assert response.json() == {"patients": 2}
    [row] = await audit_of(probe_app, response)
    assert row["aggregate"] is True and row["patient_id"] is None
    assert row["resource_type"] == "stats/probe"


async def test_audit_rows_share_the_transaction_of_the_change(
    probe_app: AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await probe_app.post("/api/v1/probe/fail-after-write")
    assert response.status_code == 422
    [row] = await audit_of(probe_app, response)
    assert row["outcome"] == "rejected" and row["patient_id"] is not None
    async with sessionmaker() as session:
        # the patient was rolled back with the request; only the failure record remains
        assert await session.get(Patient, uuid.UUID(row["patient_id"])) is None
        successes = await session.scalar(
            select(func.count()).where(
                AuditEvent.request_id == row["request_id"], AuditEvent.outcome == "success"
            )
        )
    assert successes == 0


async def test_handlers_can_name_patients_the_collector_cannot_see(
    client: AsyncClient, probe_app: AsyncClient
) -> None:
    patient = await make_patient(client)
    response = await probe_app.get("/api/v1/probe/core-read")
    assert response.json() == [patient["id"]]
    [row] = await audit_of(probe_app, response)
    assert row["patient_id"] == patient["id"]
