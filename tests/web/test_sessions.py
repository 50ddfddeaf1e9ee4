"""Web sessions without a browser (the app in process): the cookie's flags, CSRF, sign-out,
expiry, revocation, scopes, and the audit trail of page accesses."""

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.models import AuditEvent, WebSessionRow
from app.models.base import utcnow
from app.web.sessions import COOKIE, SIGN_IN_COOKIE, sign
from tests.conftest import make_api_key
from tests.factories import make_patient, make_procedure

Maker = async_sessionmaker[AsyncSession]


def _set_cookies(response: Response) -> dict[str, str]:
    """name -> the whole Set-Cookie header."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def _value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


async def _sign_in(client: AsyncClient, key: str) -> Response:
    form = await client.get("/app/sign-in")
    token = _value(_set_cookies(form)[SIGN_IN_COOKIE])
    return await client.post(
        "/app/sign-in",
        data={"api_key": key, "csrf": token},
        headers={"Cookie": f"{SIGN_IN_COOKIE}={token}"},
    )


async def _session_cookie(client: AsyncClient, *scopes: str) -> str:
    answer = await _sign_in(client, await make_api_key(*scopes))
    assert answer.status_code == 303, answer.text
    return _value(_set_cookies(answer)[COOKIE])


def _with(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={cookie}"}


async def test_the_session_cookie_is_httponly_secure_strict_and_holds_no_key(
    anonymous_client: AsyncClient,
) -> None:
    key = await make_api_key("cases:read")
    answer = await _sign_in(anonymous_client, key)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/worklist"
    header = _set_cookies(answer)[COOKIE]
    flags = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/app"} <= flags
    assert key not in header and key.split("_")[1] not in header
    page = await anonymous_client.get("/app/worklist", headers=_with(_value(header)))
    assert page.status_code == 200 and "Follow-up worklist" in page.text
    assert "'unsafe-inline'" not in page.headers["content-security-policy"].split("style-src")[0]


async def test_sign_in_without_the_form_token_is_refused(anonymous_client: AsyncClient) -> None:
    key = await make_api_key("cases:read")
    answer = await anonymous_client.post("/app/sign-in", data={"api_key": key, "csrf": "forged"})
    assert answer.status_code == 403 and COOKIE not in _set_cookies(answer)


async def test_a_wrong_key_is_refused_beside_the_field(anonymous_client: AsyncClient) -> None:
    answer = await _sign_in(anonymous_client, "vtb_abcdefgh__not-a-real-key")
    assert answer.status_code == 401 and 'id="api_key_error"' in answer.text
    assert COOKIE not in _set_cookies(answer)


async def test_sign_out_needs_the_csrf_token_and_then_ends_the_session(
    anonymous_client: AsyncClient,
) -> None:
    cookie = await _session_cookie(anonymous_client, "cases:read")
    forged = await anonymous_client.post(
        "/app/sign-out", data={"csrf": "forged"}, headers=_with(cookie)
    )
    assert forged.status_code == 303
    assert (await anonymous_client.get("/app/worklist", headers=_with(cookie))).status_code == 200
    page = await anonymous_client.get("/app/worklist", headers=_with(cookie))
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    out = await anonymous_client.post("/app/sign-out", data={"csrf": token}, headers=_with(cookie))
    assert out.status_code == 303 and out.headers["location"] == "/app/sign-in"
    after = await anonymous_client.get("/app/worklist", headers=_with(cookie))
    assert after.status_code == 303 and after.headers["location"] == "/app/sign-in"


async def test_an_expired_or_forged_cookie_leads_to_sign_in(
    anonymous_client: AsyncClient,
) -> None:
    cookie = await _session_cookie(anonymous_client, "cases:read")
    payload = json.loads(base64.urlsafe_b64decode(cookie.split(".")[0] + "=="))
    payload["e"] = int(time.time()) - 1
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    for bad in (f"{body}.{sign(body)}", f"{body}.{cookie.split('.')[1]}"):
        answer = await anonymous_client.get("/app/worklist", headers=_with(bad))
        assert answer.status_code == 303 and answer.headers["location"] == "/app/sign-in"


async def test_revoking_the_key_ends_its_sessions(
    anonymous_client: AsyncClient, sessionmaker: Maker
) -> None:
    cookie = await _session_cookie(anonymous_client, "cases:read")
    key_id = uuid.UUID(json.loads(base64.urlsafe_b64decode(cookie.split(".")[0] + "=="))["k"])
    async with sessionmaker() as session:
        await auth_service.revoke_key(session, key_id)
        await session.commit()
    answer = await anonymous_client.get("/app/worklist", headers=_with(cookie))
    assert answer.status_code == 303


async def test_a_page_needs_its_scope(anonymous_client: AsyncClient) -> None:
    cookie = await _session_cookie(anonymous_client, "stats:read")
    answer = await anonymous_client.get("/app/worklist", headers=_with(cookie))
    assert answer.status_code == 403


async def test_page_accesses_are_audited(
    anonymous_client: AsyncClient, sessionmaker: Maker
) -> None:
    cookie = await _session_cookie(anonymous_client, "cases:read")
    await anonymous_client.get("/app/worklist", headers=_with(cookie))
    await anonymous_client.get("/app/worklist")  # no session
    async with sessionmaker() as session:
        rows = (
            await session.scalars(select(AuditEvent).where(AuditEvent.route == "/app/worklist"))
        ).all()
    by_status = {row.status_code: row for row in rows}
    assert set(by_status) == {200, 303}
    assert by_status[200].credential_id is not None and by_status[303].credential_id is None
    sign_ins = (await anonymous_client.get("/app/sign-in"),)
    assert sign_ins[0].status_code == 200


async def test_the_case_page_is_audited_with_its_patient(
    client: AsyncClient, anonymous_client: AsyncClient, sessionmaker: Maker
) -> None:
    mrn = {"system": "urn:example:mrn", "value": "MRN-WEB-77"}
    created = await client.post("/api/v1/patients", json={"sex": "female", "identifiers": [mrn]})
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]
    cookie = await _session_cookie(anonymous_client, "cases:read")
    page = await anonymous_client.get(f"/app/cases/{patient_id}", headers=_with(cookie))
    assert page.status_code == 200 and 'id="case-data"' in page.text
    assert "MRN-WEB-77" not in page.text  # cases:read sees no identifier
    writer = await _session_cookie(anonymous_client, "cases:read", "cases:write")
    page = await anonymous_client.get(f"/app/cases/{patient_id}", headers=_with(writer))
    assert "MRN-WEB-77" in page.text
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.route == "/app/cases/{patient_id}")
            )
        ).all()
    assert [str(row.patient_id) for row in rows] == [patient_id, patient_id]


async def test_the_case_page_lists_the_pain_each_procedure_treats(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    patient = await make_patient(client)
    await make_procedure(client, patient["id"], target_pain_site="leg")
    cookie = await _session_cookie(anonymous_client, "cases:read")
    page = await anonymous_client.get(f"/app/cases/{patient['id']}", headers=_with(cookie))
    assert page.status_code == 200, page.text
    table = page.text.split('id="procedures-h"', 1)[1].split("</table>", 1)[0]
    assert '<th scope="col">Treats</th>' in table
    assert "<td>leg pain</td>" in table


def _status_in_another_process(cookie: str) -> int:
    """GET /app/worklist with the cookie from a separate Python process (another API worker)
    on the same database."""
    script = f"""
import asyncio, httpx
from app.main import create_app

async def main():
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/app/worklist", headers={{"Cookie": "{COOKIE}={cookie}"}})
            print("STATUS", answer.status_code)

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], env=dict(os.environ), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split("STATUS", 1)[1].split()[0])


async def test_signing_out_holds_in_every_api_process(anonymous_client: AsyncClient) -> None:
    cookie = await _session_cookie(anonymous_client, "cases:read")
    page = await anonymous_client.get("/app/worklist", headers=_with(cookie))
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert _status_in_another_process(cookie) == 200
    out = await anonymous_client.post("/app/sign-out", data={"csrf": token}, headers=_with(cookie))
    assert out.status_code == 303
    assert _status_in_another_process(cookie) == 303  # signed out there too


async def test_a_session_is_a_row_ended_at_sign_out_and_expired_rows_are_purged(
    anonymous_client: AsyncClient, sessionmaker: Maker
) -> None:
    cookie = await _session_cookie(anonymous_client, "cases:read")
    async with sessionmaker() as db:
        (row,) = (await db.scalars(select(WebSessionRow))).all()
        assert row.ended_at is None and row.expires_at > utcnow()
        # a session that expired long ago, left behind by some process
        db.add(
            WebSessionRow(
                id="stale",
                api_key_id=row.api_key_id,
                created_at=utcnow() - timedelta(days=3),
                expires_at=utcnow() - timedelta(days=2),
            )
        )
        await db.commit()
    page = await anonymous_client.get("/app/worklist", headers=_with(cookie))
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    await anonymous_client.post("/app/sign-out", data={"csrf": token}, headers=_with(cookie))
    await _session_cookie(anonymous_client, "cases:read")  # a sign-in purges expired rows
    async with sessionmaker() as db:
        rows = {r.id: r for r in (await db.scalars(select(WebSessionRow))).all()}
    assert "stale" not in rows
    assert rows[row.id].ended_at is not None
    assert len(rows) == 2
