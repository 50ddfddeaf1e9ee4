"""A timestamp in a query must carry its time zone and fit in UTC on every route: otherwise a
422 that names the parameter (both once failed further down with a 500)."""

from typing import Any

from httpx import AsyncClient

NAIVE = "2019-01-01T00:00:00"


def _is_timestamp(schema: dict[str, Any]) -> bool:
    return any(v.get("format") == "date-time" for v in schema.get("anyOf", [schema]))


async def test_naive_timestamps_in_queries_are_refused_by_name(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    checked: list[tuple[str, str]] = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:  # the lists: no path ids to fill in
            continue
        for param in get.get("parameters", []):
            if param["in"] != "query" or not _is_timestamp(param.get("schema", {})):
                continue
            response = await client.get(path, params={param["name"]: NAIVE})
            assert response.status_code == 422, (path, param["name"], response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in response.json()["errors"]] == [f"query.{param['name']}"]
            aware = await client.get(path, params={param["name"]: NAIVE + "Z"})
            assert aware.status_code == 200, (path, param["name"], aware.text)
            # aware, but before what UTC can hold (it overflowed converting)
            early = await client.get(path, params={param["name"]: "0001-01-01T00:00:00+14:00"})
            assert early.status_code == 422, (path, param["name"], early.text)
            assert [e["field"] for e in early.json()["errors"]] == [f"query.{param['name']}"]
            checked.append((path, param["name"]))
    # every list with a time filter: events, follow-ups, cases, procedures, triggers, audit
    assert len(checked) >= 13, checked
    assert ("/api/v1/events", "received_from") in checked


async def test_the_statistics_take_the_widest_dates(client: AsyncClient) -> None:
    for params in ({"performed_to": "9999-12-31"}, {"performed_from": "0001-01-01"}):
        response = await client.get("/api/v1/stats/outcomes", params=params)
        assert response.status_code == 200, (params, response.text)
