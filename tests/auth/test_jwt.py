"""OAuth2 bearer JWTs from an identity provider: verified with PyJWT against the configured
issuer, audience and key set (inline, or fetched from a JWKS URL on a real local server)."""

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from httpx import AsyncClient
from jwt.algorithms import RSAAlgorithm

from app.auth.tokens import JWT_SUBJECT_NAMESPACE
from app.config import get_settings
from tests.factories import make_patient

ISSUER = "https://idp.hospital.example/realms/registry"
AUDIENCE = "vertebro-registry"


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = _private_key()
OTHER_KEY = _private_key()


def _jwks(key: rsa.RSAPrivateKey, kid: str = "k1") -> str:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return json.dumps({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]})


def token(
    scope: str = "cases:read",
    *,
    key: rsa.RSAPrivateKey = SIGNING_KEY,
    kid: str = "k1",
    **claims: Any,
) -> str:
    now = datetime.now(UTC)
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "clinician-42",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "scope": scope,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OAUTH2_ISSUER", ISSUER)
    monkeypatch.setenv("OAUTH2_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("OAUTH2_JWKS", _jwks(SIGNING_KEY))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
async def patient(client: AsyncClient) -> dict[str, Any]:
    return await make_patient(client, identifiers=[{"system": "mrn", "value": "J-1"}])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.mark.usefixtures("idp")
async def test_a_valid_token_is_a_principal_with_its_scopes(
    anonymous_client: AsyncClient, client: AsyncClient, patient: dict[str, Any]
) -> None:
    read = await anonymous_client.get(
        f"/api/v1/patients/{patient['id']}", headers=bearer(token("cases:read openid"))
    )
    assert read.status_code == 200
    write = await anonymous_client.post(
        "/api/v1/patients", json={"sex": "male"}, headers=bearer(token("cases:read"))
    )
    assert write.status_code == 403
    rows = (
        await client.get("/api/v1/audit", params={"request_id": read.headers["x-request-id"]})
    ).json()["items"]
    assert rows[0]["credential_kind"] == "jwt"
    assert rows[0]["credential_label"] == "jwt:clinician-42"
    assert rows[0]["credential_id"] == str(
        uuid.uuid5(JWT_SUBJECT_NAMESPACE, f"{ISSUER}|clinician-42")
    )


@pytest.mark.usefixtures("idp")
async def test_scp_lists_are_read_too(anonymous_client: AsyncClient) -> None:
    scp = token(scope="", scp=["cases:read", "unknown:scope"])
    assert (await anonymous_client.get("/api/v1/cases", headers=bearer(scp))).status_code == 200


@pytest.mark.usefixtures("idp")
@pytest.mark.parametrize(
    "bad",
    [
        token(aud="another-service"),
        token(iss="https://evil.example"),
        token(exp=datetime.now(UTC) - timedelta(hours=1)),
        token(key=OTHER_KEY),
        token(kid="unknown"),
        jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": 9999999999, "scope": "admin"},
            key="",
            algorithm="none",
        ),
        token()[:-8] + "AAAAAAAA",
    ],
    ids=["audience", "issuer", "expired", "signature", "kid", "alg-none", "tampered"],
)
async def test_invalid_tokens_are_refused(anonymous_client: AsyncClient, bad: str) -> None:
    response = await anonymous_client.get("/api/v1/cases", headers=bearer(bad))
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_tokens_are_refused_when_no_identity_provider_is_configured(
    anonymous_client: AsyncClient,
) -> None:
    assert not get_settings().oauth2_enabled
    response = await anonymous_client.get("/api/v1/cases", headers=bearer(token()))
    assert response.status_code == 401


class _JwksHandler(BaseHTTPRequestHandler):
    document = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def jwks_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _JwksHandler.document = _jwks(SIGNING_KEY, kid="served").encode()
    server = HTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    monkeypatch.setenv("OAUTH2_ISSUER", ISSUER)
    monkeypatch.setenv("OAUTH2_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("OAUTH2_JWKS_URL", url)
    get_settings.cache_clear()
    yield url
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_keys_are_fetched_from_the_jwks_url(
    anonymous_client: AsyncClient, jwks_server: str
) -> None:
    good = await anonymous_client.get("/api/v1/cases", headers=bearer(token(kid="served")))
    assert good.status_code == 200
    forged = await anonymous_client.get(
        "/api/v1/cases", headers=bearer(token(kid="served", key=OTHER_KEY))
    )
    assert forged.status_code == 401
