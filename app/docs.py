"""/docs (Swagger UI) and /redoc with no internet: their scripts and styles are served by the
app from app/static/vendor (`make vendor` refreshes them from npm; vendor.json records
versions and licences), never from a CDN, so the docs work in a hospital with no way out.

Each page carries its own Content-Security-Policy (the security-headers middleware only fills
in a policy a response lacks): 'self' only, no other host. Swagger UI starts from an inline
snippet, allowed by its sha256 hash rather than 'unsafe-inline' for scripts; styles keep
'unsafe-inline' (Swagger UI and ReDoc set styles at run time).
"""

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"
SWAGGER_UI = f"{STATIC_PATH}/vendor/swagger-ui-dist"
REDOC = f"{STATIC_PATH}/vendor/redoc"
FAVICON = f"{SWAGGER_UI}/favicon-32x32.png"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
# no badge fetched from validator.swagger.io
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"persistAuthorization": True, "validatorUrl": None}

_BASE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# ReDoc runs its search index in a worker built from a blob: URL (local content, no host)
REDOC_CSP = f"{_BASE_CSP}; script-src 'self'; worker-src 'self' blob:"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _with_script_hashes(response: HTMLResponse) -> HTMLResponse:
    """Sets a CSP that allows 'self' and exactly the page's inline scripts, by hash."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(bytes(response.body).decode())
    ]
    response.headers["Content-Security-Policy"] = (
        f"{_BASE_CSP}; script-src 'self' {' '.join(hashes)}".rstrip()
    )
    return response


class VendoredFiles(StaticFiles):
    """The vendored docs assets: no patient data, so browsers may keep them (every other
    response is no-store); an hour, since their names carry no version."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
        return response


def install_docs(app: FastAPI) -> None:
    """Mounts the static files and adds /docs, its OAuth2 redirect page and /redoc; the app
    is built with docs_url=None and redoc_url=None."""
    app.mount(STATIC_PATH, VendoredFiles(directory=STATIC_DIR), name="static")
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    redirect_url = app.swagger_ui_oauth2_redirect_url

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _with_script_hashes(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
                swagger_favicon_url=root + FAVICON,
                oauth2_redirect_url=root + redirect_url if redirect_url else None,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
            )
        )

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return _with_script_hashes(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        response = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{REDOC}/redoc.standalone.js",
            redoc_favicon_url=root + FAVICON,
            with_google_fonts=False,
        )
        response.headers["Content-Security-Policy"] = REDOC_CSP
        return response
