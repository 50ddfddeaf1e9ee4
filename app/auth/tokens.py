"""OAuth2 bearer JWTs from the hospital's identity provider, verified with PyJWT.

Enabled when OAUTH2_ISSUER, OAUTH2_AUDIENCE and a key set (OAUTH2_JWKS_URL, fetched and cached
by PyJWKClient, or an inline OAUTH2_JWKS document) are configured. The token must be signed
with one of OAUTH2_ALGORITHMS by a key of the set, carry `exp`, `iss`, `aud` and `sub`, and
its scopes are the known ones in `scope` (space-separated) or `scp` (a list or a string).
"""

import asyncio
import uuid
from functools import lru_cache
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet

from app.auth.principal import Principal
from app.auth.scopes import ALL_SCOPES
from app.auth.service import CredentialRejected
from app.config import Settings, get_settings

# uuid5(namespace, "issuer|subject") gives a token's subject a stable credential id.
JWT_SUBJECT_NAMESPACE = uuid.UUID("6b1f3c52-9d0e-4f6a-8a57-3f0c2d7e9b41")


@lru_cache(maxsize=4)
def _jwk_client(url: str) -> PyJWKClient:
    return PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


@lru_cache(maxsize=4)
def _inline_key_set(document: str) -> PyJWKSet:
    return PyJWKSet.from_json(document)


def _inline_key(token: str, document: str) -> PyJWK:
    kid = jwt.get_unverified_header(token).get("kid")
    for key in _inline_key_set(document).keys:
        if kid is None or key.key_id == kid:
            return key
    raise jwt.InvalidKeyError("no key in the configured set matches the token")


def _verify(token: str, settings: Settings) -> dict[str, Any]:
    if settings.oauth2_jwks:
        key = _inline_key(token, settings.oauth2_jwks)
    else:
        assert settings.oauth2_jwks_url
        key = _jwk_client(settings.oauth2_jwks_url).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=settings.oauth2_algorithms,
        audience=settings.oauth2_audience,
        issuer=settings.oauth2_issuer,
        leeway=settings.oauth2_leeway_s,
        options={"require": ["exp", "iss", "aud", "sub"]},
    )
    return claims


def token_scopes(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("scope") or claims.get("scp") or []
    values = raw.split() if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    return sorted({str(v) for v in values} & ALL_SCOPES)


async def authenticate_jwt(token: str) -> Principal:
    settings = get_settings()
    if not settings.oauth2_enabled:
        raise CredentialRejected("unknown-credential", "The credential is not valid.")
    try:
        # the key set may be fetched over the network: not on the event loop
        claims = await asyncio.to_thread(_verify, token, settings)
    except jwt.PyJWTError as exc:
        raise CredentialRejected("invalid-token", "The bearer token is not valid.") from exc
    subject = str(claims["sub"])[:180]
    return Principal.build(
        id=uuid.uuid5(JWT_SUBJECT_NAMESPACE, f"{settings.oauth2_issuer}|{claims['sub']}"),
        kind="jwt",
        name=subject,
        label=f"jwt:{subject}",
        scopes=token_scopes(claims),
    )
