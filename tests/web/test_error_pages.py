"""Errors under /app are pages a browser can show: a 403 (a page the key's scopes do not
cover) and a 404 answer HTML in the site's layout, with what happened and where to go; an API
client asking for JSON on the same paths still gets problem+json."""

import pytest
from httpx import AsyncClient

from app.web.sessions import COOKIE
from tests.web.test_sessions import _session_cookie

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _with(cookie: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={cookie}", **headers}


async def test_a_page_the_scopes_do_not_cover_is_an_html_403(
    anonymous_client: AsyncClient,
) -> None:
    cookie = await _session_cookie(anonymous_client, "stats:read")
    answer = await anonymous_client.get("/app/worklist", headers=_with(cookie, **HTML))
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in answer.text.lower()
    assert "cases:read" in answer.text  # what is missing, in a sentence
    assert 'href="/app/dashboard"' in answer.text  # a way on: what the key can open
    assert "default-src 'none'" in answer.headers["content-security-policy"]


async def test_an_unknown_page_is_an_html_404(anonymous_client: AsyncClient) -> None:
    answer = await anonymous_client.get("/app/no-such-page", headers=HTML)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert 'href="/app/sign-in"' in answer.text or 'href="/app"' in answer.text


@pytest.mark.parametrize("path", ["/app/no-such-page", "/app/worklist"])
async def test_json_clients_still_get_problem_json(
    anonymous_client: AsyncClient, path: str
) -> None:
    cookie = await _session_cookie(anonymous_client, "stats:read")
    answer = await anonymous_client.get(path, headers=_with(cookie, Accept="application/json"))
    assert answer.status_code in (403, 404)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == answer.status_code
