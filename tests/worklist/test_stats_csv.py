"""The statistics routes as CSV: each one tidy table of what the JSON answer holds."""

import csv
import io
from typing import Any

from httpx import AsyncClient

from app.auth.scopes import STATS_READ
from app.config import get_settings
from app.db import get_engine
from app.demo.load import load_demo
from tests.conftest import ScopedClient


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def resolve(data: Any, path: str) -> Any:
    """The JSON value at a CSV figure's path (list items by day, start_day or group)."""
    for part in path.split("."):
        if isinstance(data, list):
            data = next(
                item
                for i, item in enumerate(data)
                if str(item.get("day", item.get("start_day", item.get("group", i)))) == part
            )
        else:
            data = data[part]
    return data


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def number(text: str) -> float | None:
    return float(text) if text else None


async def test_outcomes_trajectory_and_breakdown_as_csv(
    client: AsyncClient, scoped_client: ScopedClient
) -> None:
    await load_demo(get_engine(), get_settings(), 80)
    async with scoped_client(STATS_READ) as dashboard:
        as_json = (await dashboard.get("/api/v1/stats/outcomes")).json()
        response = await dashboard.get("/api/v1/stats/outcomes", headers={"Accept": "text/csv"})
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/csv"
        )
        figures = {r["figure"]: r for r in table(response.text)}
        assert number(figures["counts.patients"]["value"]) == as_json["counts"]["patients"]["value"]
        success = as_json["pain"]["clinical_success_2w"]
        row = figures["pain.clinical_success_2w"]
        assert (number(row["n"]), number(row["denominator"])) == (
            success["n"],
            success["denominator"],
        )
        day14 = as_json["pain"]["time_points"][1]
        assert day14["day"] == 14
        assert number(figures["pain.time_points.14.score"]["mean"]) == day14["score"]["mean"]
        assert figures["pain.time_points.14.score"]["unit"] == "pain score 0-10"
        assert figures["analgesia.0.ome_mg_day"]["unit"] == "OME mg/day"
        # every figure, suppressed or not, is the JSON answer's own
        for path, csv_row in figures.items():
            found = resolve(as_json, path)
            figure = found if isinstance(found, dict) else {"value": found}
            for key, text in csv_row.items():
                if key in ("figure", "unit"):
                    continue
                expected = figure.get(key)
                assert (text or None) == (None if expected is None else _text(expected)), (
                    path,
                    key,
                )
        named = {c["cell"] for c in as_json["disclosure"]["suppressed"]}
        assert named and any(r["suppressed"] for r in figures.values())  # withheld in both
        trajectory: dict[str, Any] = (
            await dashboard.get("/api/v1/stats/pain-trajectory", params={"unit": "week"})
        ).json()
        rows = table(
            (
                await dashboard.get(
                    "/api/v1/stats/pain-trajectory", params={"unit": "week", "format": "csv"}
                )
            ).text
        )
        assert [int(r["start_day"]) for r in rows] == [p["start_day"] for p in trajectory["points"]]
        assert [number(r["mean"]) for r in rows] == [p["mean"] for p in trajectory["points"]]
        breakdown = await dashboard.get(
            "/api/v1/stats/breakdown", params={"by": "region", "format": "csv"}
        )
        assert breakdown.status_code == 200
        paths = [r["figure"] for r in table(breakdown.text)]
        assert "total.patients" in paths and any(p.startswith("groups.thoracic.") for p in paths)
    docs = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/v1/stats/outcomes", "/api/v1/stats/pain-trajectory", "/api/v1/worklist"):
        assert "text/csv" in docs[path]["get"]["responses"]["200"]["content"], path
