"""Hardening: rate limits per credential (429 + Retry-After), a request body limit (413),
security headers, request ids, CORS from settings, no stack traces, production refusals."""

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from starlette.types import Receive, Scope, Send

from app.common.ratelimit import TokenBucketLimiter
from app.config import DEV_SECRET_KEY, Settings, get_settings
from app.db import get_sessionmaker
from app.http.guards import require
from app.main import create_app
from app.middleware import BodySizeLimitMiddleware
from app.models import AuditEvent
from tests.conftest import make_api_key

AppWith = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, AsyncClient]]]


@pytest.fixture
def app_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWith]:
    """A fresh application built with some settings changed (as environment variables)."""

    @asynccontextmanager
    async def make(**env: str) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        app = create_app()
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client

    yield make
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_each_credential_has_its_own_rate_limit(app_with: AppWith) -> None:
    async with app_with(RATE_LIMIT_BURST="2", RATE_LIMIT_PER_MINUTE="1") as (_app, client):
        busy = {"X-API-Key": await make_api_key("cases:read")}
        calm = {"X-API-Key": await make_api_key("cases:read")}
        statuses = [(await client.get("/api/v1/cases", headers=busy)).status_code for _ in "abc"]
        assert statuses == [200, 200, 429]
        limited = await client.get("/api/v1/cases", headers=busy)
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["type"] == "/problems/rate-limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert (await client.get("/api/v1/cases", headers=calm)).status_code == 200


async def test_failed_authentications_are_limited_per_client(app_with: AppWith) -> None:
    async with app_with(AUTH_FAILURES_BURST="2", AUTH_FAILURES_PER_MINUTE="1") as (_app, client):
        bad = {"X-API-Key": "vtb_aaaaaaaa_" + "x" * 43}
        statuses = [(await client.get("/api/v1/cases", headers=bad)).status_code for _ in "abc"]
        assert statuses == [401, 401, 429]
        assert int((await client.get("/api/v1/cases")).headers["retry-after"]) >= 1


def test_token_bucket_refills_with_time() -> None:
    now = [0.0]
    bucket = TokenBucketLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [bucket.take("k"), bucket.take("k")] == [None, None]
    assert bucket.take("k") == 1
    now[0] += 1.0
    assert bucket.take("k") is None
    assert bucket.take("other") is None  # keys are independent
    now[0] += 3600
    assert [bucket.take("k"), bucket.take("k"), bucket.take("k")] == [None, None, 1]


def test_token_bucket_memory_is_bounded() -> None:
    bucket = TokenBucketLimiter(per_minute=60, burst=1, max_keys=3)
    for key in "abcdef":
        bucket.take(key)
    assert len(bucket._buckets) == 3


async def test_bodies_above_the_limit_are_refused(app_with: AppWith) -> None:
    async with app_with(MAX_REQUEST_BODY_BYTES="2048") as (_app, client):
        headers = {"X-API-Key": await make_api_key("cases:write")}
        big = {"sex": "male", "notes": "x" * 3000}
        declared = await client.post("/api/v1/patients", json=big, headers=headers)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"
        assert declared.json()["type"] == "/problems/content-too-large"

        async def stream() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            yield b'{"sex": "male", "notes": "'
            for _ in range(4):
                yield b"y" * 1000
            yield b'"}'

        streamed = await client.post(
            "/api/v1/patients",
            content=stream(),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        assert streamed.headers["content-type"] == "application/problem+json"
        small = await client.post("/api/v1/patients", json={"sex": "male"}, headers=headers)
        assert small.status_code == 201


async def test_security_headers_on_every_response(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    for response in (
        await client.get("/api/v1/cases"),
        await anonymous_client.get("/api/v1/cases"),
        await anonymous_client.get("/health"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
    docs = await anonymous_client.get("/docs")
    assert "default-src 'self'" in docs.headers["content-security-policy"]
    assert "http" not in docs.headers["content-security-policy"]  # tests/test_docs_offline.py


async def test_request_ids_are_echoed_or_made(anonymous_client: AsyncClient) -> None:
    echoed = await anonymous_client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    unsafe = await anonymous_client.get("/health", headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["x-request-id"] != "a b\tc" and len(unsafe.headers["x-request-id"]) == 32


async def test_cors_allows_only_the_configured_origins(app_with: AppWith) -> None:
    origin = "https://dashboard.hospital.example"
    async with app_with(CORS_ORIGINS=f"{origin}, https://other.example") as (_app, client):
        preflight = await client.options(
            "/api/v1/cases",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        stranger = await client.options(
            "/api/v1/cases",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in stranger.headers
        simple = await client.get("/health", headers={"Origin": origin})
        assert "etag" in simple.headers["access-control-expose-headers"].lower()


async def test_no_stack_trace_or_exception_text_reaches_the_client(app_with: AppWith) -> None:
    async with app_with() as (app, client):

        @app.get("/api/v1/probe/boom", dependencies=[require("cases:read")])
        async def boom() -> None:
            raise RuntimeError("patient MRN-0042 Jane Doe")

        key = await make_api_key("cases:read")
        response = await client.get("/api/v1/probe/boom", headers={"X-API-Key": key})
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"
    assert "MRN-0042" not in response.text and "Traceback" not in response.text


def test_production_refuses_default_or_weak_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert Settings(environment="development").production_problems() == []
    default = Settings(environment="production", _env_file=None)
    assert any("SECRET_KEY" in p for p in default.production_problems())
    weak = Settings(environment="production", secret_key="short")
    assert any("SECRET_KEY" in p for p in weak.production_problems())
    strong = Settings(
        environment="production",
        secret_key="Wq3v-8ZbN0r_Tf5kLx2pYc7HsJ9mEaGd4uVi1oQe6Rw",
    )
    assert strong.production_problems() == []
    echo = Settings(
        environment="production",
        secret_key="Wq3v-8ZbN0r_Tf5kLx2pYc7HsJ9mEaGd4uVi1oQe6Rw",
        database_echo=True,
    )
    assert echo.production_problems()
    assert DEV_SECRET_KEY not in repr(default)  # the secret never shows in a repr


def test_the_service_does_not_start_in_production_with_the_default_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app()
        monkeypatch.setenv("SECRET_KEY", "Wq3v-8ZbN0r_Tf5kLx2pYc7HsJ9mEaGd4uVi1oQe6Rw")
        get_settings.cache_clear()
        assert create_app().title
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


# --- nothing answered before the credential is checked, nothing refused unaudited ----------
BAD_KEY = "vtb_aaaaaaaa_" + "x" * 43
JSON = {"Content-Type": "application/json"}


async def _audit_rows() -> list[AuditEvent]:
    async with get_sessionmaker()() as session:
        return list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


async def test_a_malformed_body_is_refused_only_after_authentication(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    for path in ("/api/v1/patients", "/api/v1/events"):
        stranger = await anonymous_client.post(
            path, content=b"{bad", headers={**JSON, "X-API-Key": BAD_KEY}
        )
        assert stranger.status_code == 401, (path, stranger.text)
        malformed = await client.post(path, content=b"{bad", headers=JSON)
        assert malformed.status_code == 400
        assert malformed.json()["type"] == "/problems/malformed-json"
        page = await client.get(
            "/api/v1/audit", params={"request_id": malformed.headers["x-request-id"]}
        )
        [row] = page.json()["items"]
        assert (row["outcome"], row["status_code"]) == ("rejected", 400)
        assert row["reason"] == "malformed-json"
        assert row["credential_id"] is not None and row["route"] == path
        page = await client.get(
            "/api/v1/audit", params={"request_id": stranger.headers["x-request-id"]}
        )
        [row] = page.json()["items"]
        assert (row["outcome"], row["status_code"]) == ("unauthenticated", 401)


async def test_throttled_failed_authentications_are_recorded_once_a_minute(
    app_with: AppWith,
) -> None:
    async with app_with(AUTH_FAILURES_BURST="2", AUTH_FAILURES_PER_MINUTE="1") as (_app, client):
        bad = {"X-API-Key": BAD_KEY}
        statuses = [(await client.get("/api/v1/cases", headers=bad)).status_code for _ in "abcdefg"]
    assert statuses == [401, 401, 429, 429, 429, 429, 429]
    rows = await _audit_rows()
    assert [r.status_code for r in rows if r.status_code == 401] == [401, 401]
    throttled = [r for r in rows if r.status_code == 429]
    assert len(throttled) == 1, [(r.status_code, r.reason) for r in rows]  # not five
    assert throttled[0].outcome == "unauthenticated"
    assert throttled[0].reason == "too-many-failed-authentications"
    assert throttled[0].client_address == "127.0.0.1"
    assert throttled[0].route == "/api/v1/cases"


async def test_a_streamed_body_over_the_limit_is_413_with_an_idempotency_key(
    app_with: AppWith,
) -> None:
    async with app_with(MAX_REQUEST_BODY_BYTES="2048") as (_app, client):
        key = await make_api_key("cases:write", "events:write", "admin")
        headers = {"X-API-Key": key, **JSON}

        async def stream() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            yield b'{"sex": "male", "notes": "'
            for _ in range(4):
                yield b"y" * 1000
            yield b'"}'

        for path in ("/api/v1/patients", "/api/v1/events", "/api/v1/api-keys"):
            response = await client.post(
                path, content=stream(), headers={**headers, "Idempotency-Key": "big-1"}
            )
            assert response.status_code == 413, (path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "/problems/content-too-large"
            assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_body_limit_answers_whoever_reads_the_body() -> None:
    """Whatever reads the body first (a middleware, outside the routes' error handlers), the
    answer is a 413 problem+json, not an error escaping to the server."""

    async def reads_everything(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = BodySizeLimitMiddleware(reads_everything, max_bytes=1024)
    transport = ASGITransport(app=limited, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:

        async def stream() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"z" * 1000

        response = await client.post("/anything", content=stream())
        small = await client.post("/anything", content=b"z" * 10)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert small.status_code == 204


async def test_a_trailing_slash_is_not_redirected_to_the_requests_host(
    client: AsyncClient,
) -> None:
    response = await client.get("/api/v1/cases/", headers={"Host": "evil.example"})
    assert "evil.example" not in response.headers.get("location", "")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
