"""The chart endpoints (pain trajectory, breakdown) equal a brute-force recomputation."""

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from app.clinical.levels import region_of
from app.clinical.pain import PainFact, is_improved, target_pain
from app.db import get_engine
from app.outcomes.cohort import Cohort
from app.outcomes.trajectory import t_quantile_975
from tests.conftest import ScopedClient
from tests.factories.synthetic import insert_registry
from tests.outcomes.brute import Ep, distribution, in_cohort, per_session, rate
from tests.outcomes.test_brute_force import definitions, differences, reference, registry


def _per_bucket(eps: list[Ep], unit: int, max_day: int) -> dict[int, list[tuple[Any, float]]]:
    """Each bucket's episodes: (the patient, the episode's mean pain of its target site in
    the bucket)."""
    pains: dict[Any, list[PainFact]] = defaultdict(list)
    for row in registry().events:
        if row["kind"] == "pain" and row["score"] is not None:
            pains[row["patient_id"]].append(
                PainFact(row["occurred_at"], float(row["score"]), row["site"], row["id"])
            )
    buckets: dict[int, list[tuple[Any, float]]] = defaultdict(list)
    for ep in eps:
        e = ep.episode
        mine: dict[int, list[float]] = defaultdict(list)
        for s in target_pain(e, pains[ep.patient["id"]]):
            since = s.occurred_at - e.t0
            if e.contains(s.occurred_at) and since < timedelta(days=max_day + 1):
                mine[since // timedelta(days=unit)].append(s.score)
        for b, scores in mine.items():
            buckets[b].append((ep.patient["id"], statistics.fmean(scores)))
    return buckets


def _trajectory(eps: list[Ep], unit: int, max_day: int) -> list[dict[str, Any]]:
    buckets = _per_bucket(eps, unit, max_day)
    points: list[dict[str, Any]] = []
    for b in range(max_day // unit + 1):  # a regular grid: an empty bucket has n = 0
        if b not in buckets:
            points.append({"start_day": b * unit, "n": 0, "mean": None, "lower": None,
                           "upper": None, "suppressed": None})  # fmt: skip
            continue
        values = [value for _, value in buckets[b]]
        n, mean = len(values), statistics.fmean(values)
        low = high = None
        if n >= 2:
            half = t_quantile_975(n - 1) * statistics.stdev(values) / math.sqrt(n)
            low, high = mean - half, mean + half
        points.append(
            {
                "start_day": b * unit,
                "n": n,
                "mean": mean,
                "lower": low,
                "upper": high,
                "suppressed": None,
            }
        )
    return points


@pytest.mark.parametrize(
    ("unit", "days", "max_day"), [("day", 1, 60), ("week", 7, 400), ("month", 30, 400)]
)
async def test_pain_trajectory_matches_brute_force(
    client: AsyncClient, unit: str, days: int, max_day: int
) -> None:
    async with get_engine().begin() as conn:
        await insert_registry(conn, registry())
    response = await client.get(
        "/api/v1/stats/pain-trajectory", params={"unit": unit, "max_day": max_day}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    everyone = [ep for ep in reference() if in_cohort(ep, Cohort(), definitions().time_zone)]
    want = _trajectory(everyone, days, max_day)
    assert len(want) > 8
    assert not differences(body["points"], want, "points")


async def test_pain_trajectory_suppresses_the_days_of_few_patients(
    scoped_client: ScopedClient,
) -> None:
    """With suppression each bucket's patients are counted: a week scored by fewer than k
    patients is hidden, any other is published exactly. (stats:read has weeks only, issue 16;
    days are refused: test_query_space.py.)"""
    async with get_engine().begin() as conn:
        await insert_registry(conn, registry())
    async with scoped_client("stats:read") as dashboard:
        response = await dashboard.get(
            "/api/v1/stats/pain-trajectory", params={"unit": "week", "max_day": 730}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    k = body["disclosure"]["k"]
    eps = [ep for ep in reference() if in_cohort(ep, Cohort(), definitions().time_zone)]
    patients = {b * 7: len({p for p, _ in rows}) for b, rows in _per_bucket(eps, 7, 730).items()}
    exact = {point["start_day"]: point for point in _trajectory(eps, 7, 730)}
    assert {point["start_day"] for point in body["points"]} == set(exact)
    hidden = [point for point in body["points"] if point["suppressed"]]
    assert hidden and len(hidden) < len(exact)
    for point in body["points"]:
        day = point["start_day"]
        # an empty day (n = 0, the regular grid) discloses nothing: shown
        assert (point["suppressed"] is not None) == (0 < patients.get(day, 0) < k), day
        if point["suppressed"] is None:
            assert not differences(point, exact[day], f"points[{day}]")


def _row(group: str, eps: list[Ep], now: datetime) -> dict[str, Any]:
    t = definitions()
    both = [ep for ep in eps if ep["pain_base"] is not None and ep["pain_d14"] is not None]
    eligible = [ep for ep in eps if ep["window_d14"] and ep["closes_d14"] < now]
    counted = [ep for ep in eps if ep["med_d30"] and ep["at_d30"] <= now]
    known = [ep for ep in counted if ep["free_d30"] is not None]
    n = len(eps)

    def values(key: str) -> list[float]:
        return [ep[key] for ep in eps if ep[key] is not None]

    return {
        "group": group,
        "patients": {"value": len({ep.patient["id"] for ep in eps}), "suppressed": None},
        "episodes": {"value": n, "suppressed": None},
        "sessions": {"value": sum(len(ep.sessions) for ep in eps), "suppressed": None},
        "baseline_pain": distribution(values("pain_base"), n),
        "pain_d14": distribution(values("pain_d14"), n),
        "clinical_success_2w": rate(
            sum(is_improved(ep["pain_base"], ep["pain_d14"], t) for ep in both), len(both)
        ),
        "completeness_d14": rate(sum(ep["pain_d14"] is not None for ep in eligible), len(eligible)),
        "pain_d30": distribution(values("pain_d30"), n),
        "opioid_free_d30": rate(sum(ep["free_d30"] is True for ep in known), len(known)),
    }


def _group(ep: Ep, by: str) -> list[str]:
    if by == "histology":
        return [ep.patient["histology_group"] or "not_recorded"]
    if by == "level_count":
        widest = max(per_session(ep).values(), default=0)
        return [str(widest) if widest < 5 else "5+"]
    return sorted({region_of(lv["level"]).value for lv in ep.levels})


@pytest.mark.parametrize("by", ["histology", "region", "level_count"])
async def test_breakdown_matches_brute_force(client: AsyncClient, by: str) -> None:
    async with get_engine().begin() as conn:
        await insert_registry(conn, registry())
    now = datetime.now(UTC)
    response = await client.get("/api/v1/stats/breakdown", params={"by": by})
    assert response.status_code == 200, response.text
    body = response.json()
    eps = [ep for ep in reference() if in_cohort(ep, Cohort(), definitions().time_zone)]
    groups: dict[str, list[Ep]] = defaultdict(list)
    for ep in eps:
        for g in _group(ep, by):
            groups[g].append(ep)
    assert body["additive"] is (by != "region")
    assert not differences(body["total"], _row("total", eps, now), "total")
    got = {row["group"]: row for row in body["groups"]}
    assert set(got) == set(groups)
    for name, members in groups.items():
        assert not differences(got[name], _row(name, members, now), name)


async def test_breakdown_suppresses_across_groups(scoped_client: ScopedClient) -> None:
    async with get_engine().begin() as conn:
        await insert_registry(conn, registry())
    async with scoped_client("stats:read") as dashboard:
        response = await dashboard.get("/api/v1/stats/breakdown", params={"by": "histology"})
    assert response.status_code == 200, response.text
    body = response.json()
    k = body["disclosure"]["k"]
    episodes = [row["episodes"]["value"] for row in body["groups"]]
    assert all(v is None or not 1 <= v < k for v in episodes)
    assert episodes.count(None) != 1  # a lone hidden group would be the total minus the rest
