"""The worklist page's CSV link: the same table the API gives a bearer key, through the
session (same service, columns and scope)."""

from httpx import AsyncClient

from tests.conftest import ScopedClient
from tests.factories import make_patient, make_procedure
from tests.web.test_sessions import _session_cookie, _with

AS_OF = "2019-02-20T12:00:00Z"  # day 8 of the factory's procedure: day 7 is due


async def test_the_worklist_csv_from_a_session_equals_the_apis(
    client: AsyncClient, anonymous_client: AsyncClient
) -> None:
    patient = await make_patient(client)
    await make_procedure(client, patient["id"])
    api = await client.get(
        "/api/v1/worklist", params={"as_of": AS_OF, "format": "csv", "limit": 200}
    )
    assert api.status_code == 200, api.text
    cookie = await _session_cookie(anonymous_client, "cases:read")
    page = await anonymous_client.get(
        "/app/worklist.csv", params={"as_of": AS_OF}, headers=_with(cookie)
    )
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/csv")
    assert page.text == api.text
    assert len(page.text.splitlines()) > 1  # a row, not only the header
    listing = await anonymous_client.get(
        "/app/worklist", params={"as_of": AS_OF}, headers=_with(cookie)
    )
    assert 'href="/app/worklist.csv?as_of=2019-02-20T12%3A00%3A00%2B00%3A00"' in listing.text


async def test_the_worklist_csv_needs_a_session(anonymous_client: AsyncClient) -> None:
    answer = await anonymous_client.get("/app/worklist.csv")
    assert answer.status_code == 303 and answer.headers["location"] == "/app/sign-in"


async def test_the_dashboards_figures_csv_equals_the_apis(
    scoped_client: ScopedClient, anonymous_client: AsyncClient
) -> None:
    async with scoped_client("stats:read") as stats:
        api = await stats.get("/api/v1/stats/outcomes", params={"sex": "female", "format": "csv"})
    assert api.status_code == 200, api.text
    cookie = await _session_cookie(anonymous_client, "stats:read")
    page = await anonymous_client.get(
        "/app/dashboard/outcomes.csv",
        params={"kind": "", "sex": "female", "age_band": "", "period": ""},
        headers=_with(cookie),
    )
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/csv")
    assert page.text == api.text
    board = await anonymous_client.get("/app/dashboard?sex=female", headers=_with(cookie))
    assert 'href="/app/dashboard/outcomes.csv?kind=&amp;sex=female' in board.text
