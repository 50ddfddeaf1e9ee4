"""/docs and /redoc work with no internet (issue 21): every script, style and icon they load
comes from the app itself, and their Content-Security-Policy names no other host."""

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from httpx import AsyncClient

from app.docs import STATIC_DIR

PAGES = ("/docs", "/redoc")
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}
# CSP source expressions that name no host
LOCAL_SOURCES = {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}


class _Page(HTMLParser):
    """The URLs a page loads (script src, link href, ReDoc's spec-url) and its inline
    scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href", "spec-url"):
            if attributes.get(name):
                self.urls.append(str(attributes[name]))
        self._in_inline_script = tag == "script" and not attributes.get("src")
        if self._in_inline_script:
            self.inline_scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


async def _page(client: AsyncClient, path: str) -> _Page:
    response = await client.get(path)
    assert response.status_code == 200, path
    assert response.headers["content-type"].startswith("text/html")
    page = _Page()
    page.feed(response.text)
    return page


def _csp(header: str) -> dict[str, list[str]]:
    directives = (d.split() for d in header.split(";") if d.strip())
    return {d[0]: d[1:] for d in directives}


@pytest.mark.parametrize("path", PAGES)
async def test_pages_load_nothing_from_another_host(
    anonymous_client: AsyncClient, path: str
) -> None:
    page = await _page(anonymous_client, path)
    assert page.urls, path
    for url in page.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{path} loads {url}"
    js = [url for url in page.urls if url.endswith(".js")]
    assert js and all(url.startswith("/static/vendor/") for url in js)


@pytest.mark.parametrize("path", PAGES)
async def test_every_asset_is_served_with_its_content_type(
    anonymous_client: AsyncClient, path: str
) -> None:
    page = await _page(anonymous_client, path)
    for url in page.urls:
        response = await anonymous_client.get(url)
        assert response.status_code == 200, url
        if url == "/openapi.json":
            assert response.headers["content-type"] == "application/json"
            continue
        suffix = re.search(r"\.[a-z]+$", url)
        assert suffix, url
        media = response.headers["content-type"].split(";")[0]
        assert media in CONTENT_TYPES[suffix.group()], f"{url}: {media}"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert len(response.content) > 100
        # vendored assets hold no patient data: a ward PC keeps them (3 MB per load otherwise)
        assert response.headers["cache-control"] == "public, max-age=3600", url


async def test_only_the_vendored_assets_may_be_cached(anonymous_client: AsyncClient) -> None:
    assert (await anonymous_client.get("/docs")).headers["cache-control"] == "no-store"
    assert (await anonymous_client.get("/openapi.json")).headers["cache-control"] == "no-store"
    assert (await anonymous_client.get("/static/nothing.js")).headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", [*PAGES, "/docs/oauth2-redirect"])
async def test_csp_allows_no_other_host(anonymous_client: AsyncClient, path: str) -> None:
    response = await anonymous_client.get(path)
    policy = _csp(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    for directive, sources in policy.items():
        for source in sources:
            assert source in LOCAL_SOURCES or source.startswith("'sha256-"), (
                f"{path}: {directive} allows {source}"
            )


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect"])
async def test_swagger_inline_scripts_are_allowed_by_hash(
    anonymous_client: AsyncClient, path: str
) -> None:
    """A browser runs Swagger UI's init snippet only if the policy names its hash."""
    response = await anonymous_client.get(path)
    page = _Page()
    page.feed(response.text)
    allowed = set(_csp(response.headers["content-security-policy"])["script-src"])
    assert page.inline_scripts
    for script in page.inline_scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed


async def test_swagger_ui_keeps_authorize(anonymous_client: AsyncClient) -> None:
    """Authorize (ApiKey or Bearer) is remembered across reloads; the OAuth2 redirect page is
    served; no validator badge is fetched from swagger.io."""
    html = (await anonymous_client.get("/docs")).text
    assert '"persistAuthorization": true' in html
    assert '"validatorUrl": null' in html
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in html
    redirect = await anonymous_client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "swaggerUIRedirectOauth2" in redirect.text


async def test_openapi_is_still_served(anonymous_client: AsyncClient) -> None:
    response = await anonymous_client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert "/api/v1/patients" in spec["paths"]
    assert not any(path.startswith(("/docs", "/redoc", "/static")) for path in spec["paths"])


def test_vendor_json_records_the_files_on_disk() -> None:
    """vendor.json (written by `make vendor`) matches the vendored files, byte for byte, and
    no source map is shipped."""
    vendor = STATIC_DIR / "vendor"
    record = json.loads((vendor / "vendor.json").read_text())
    assert set(record) == {"swagger-ui-dist", "redoc"}
    for name, package in record.items():
        assert package["version"] and package["license"] in {"Apache-2.0", "MIT"}
        on_disk = {p.name for p in (vendor / name).iterdir()}
        assert on_disk == set(package["files"]), name
        for filename, facts in package["files"].items():
            data = (vendor / name / filename).read_bytes()
            assert len(data) == facts["bytes"], filename
            assert hashlib.sha256(data).hexdigest() == facts["sha256"], filename
    assert not list(vendor.rglob("*.map"))
