"""The statistics' per-episode summary (SQL) against the pure definitions, episode by episode,
with the registry's clock in UTC and in Toronto: episodes and their end, baseline, the score
nearest each time point, improved, the windows, analgesia, rule B and the Kaplan-Meier days
(clinical days), age at the first session (a clinical date)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from sqlalchemy import select

from app.clinical.days import clinical_date
from app.clinical.definitions import TIME_POINTS, Definitions
from app.clinical.pain import is_improved
from app.db import get_engine
from app.models import OutcomeEpisode
from app.outcomes import summary
from tests.factories.synthetic import Registry, generate, insert_registry
from tests.outcomes.brute import POINTS, Ep, episodes_of, rules_age

TORONTO = "America/Toronto"


@cache
def registry() -> Registry:
    return generate(120, seed=20240310)


def expected(ep: Ep, defs: Definitions) -> dict[str, Any]:
    base = ep["pain_base"]
    born = ep.patient["birth_date"]
    first_day = clinical_date(ep.episode.first_at, defs.time_zone)
    want: dict[str, Any] = {
        "ended_at": ep.episode.ended_at,
        "age": None if born is None else rules_age(born, first_day),
        "pain_base": base,
        "recurrence_day": None if ep["rec"] is None else ep["rec"][0],
        "recurrence_event": ep["rec"] is not None and ep["rec"][1],
        "survival_day": ep["surv"][0],
        "survival_event": ep["surv"][1],
    }
    for day in TIME_POINTS:
        score = ep[f"pain_d{day}"]
        want[f"pain_d{day}"] = score
        both = base is not None and score is not None
        want[f"improved_d{day}"] = is_improved(base, score, defs) if both else None
        want[f"window_d{day}"] = ep[f"window_d{day}"]
    for name, _day in POINTS:
        want[f"med_{name}"] = ep[f"med_{name}"]
        if ep[f"med_{name}"]:
            want[f"ome_{name}"] = ep[f"ome_{name}"]
            want[f"opioid_free_{name}"] = ep[f"free_{name}"]
    return want


def found(row: Any, keys: list[str]) -> dict[str, Any]:
    got = {key: getattr(row, key) for key in keys}
    return {
        key: None if value is None else round(value, 6) if isinstance(value, float) else value
        for key, value in got.items()
    }


def rounded(want: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in want.items()}


@pytest.mark.parametrize("zone", ["UTC", TORONTO])
async def test_every_episode_as_the_pure_definitions_have_it(zone: str) -> None:
    defs = replace(Definitions(), time_zone=zone)
    async with get_engine().begin() as conn:
        await insert_registry(conn, registry())
    async with get_engine().begin() as conn:
        await summary.refresh(conn, defs, full=True)
    async with get_engine().connect() as conn:
        rows = {r.episode_key: r for r in (await conn.execute(select(OutcomeEpisode))).all()}
    reference = episodes_of(registry(), defs)
    assert len(rows) == len(reference) > 120
    # episodes for leg pain are among them: their figures read leg pain, their recurrence back
    legs = [ep for ep in reference if ep.episode.target_site == "leg"]
    assert [rows[ep.episode.key].target_pain_site for ep in legs] == ["leg"] * len(legs)
    assert any(ep["pain_base"] is not None for ep in legs)
    assert any(ep["rec"] is not None and ep["rec"][1] for ep in legs)
    differences = []
    for ep in reference:
        want = rounded(expected(ep, defs))
        got = found(rows[ep.episode.key], list(want))
        differences += [(ep.episode.key, k, got[k], v) for k, v in want.items() if got[k] != v]
    assert differences == []
    if zone != "UTC":  # the clock does move days here
        in_utc = episodes_of(registry(), Definitions())
        moved = [a for a, b in zip(reference, in_utc, strict=True) if a["surv"] != b["surv"]]
        assert moved


async def test_a_worsening_at_21h_local_counts_on_its_own_day() -> None:
    """t0 on March 8, 15:00 EST; the worsening at 21:00 EDT on March 10 (01:00 UTC on the
    11th): day 2 in Toronto, day 3 by UTC's calendar."""
    from tests.clinical.histories import one_patient

    t0 = datetime(2024, 3, 8, 20, 0, tzinfo=UTC)
    scores = [(t0 - timedelta(days=2), 8.0), (t0 + timedelta(hours=20), 4.0)]
    scores.append((datetime(2024, 3, 11, 1, 0, tzinfo=UTC), 8.0))
    key = await one_patient(t0, scores, died=date(2024, 3, 20))
    days = {}
    for zone in ("UTC", TORONTO):
        async with get_engine().begin() as conn:
            await summary.refresh(conn, replace(Definitions(), time_zone=zone), full=True)
        async with get_engine().connect() as conn:
            row = (
                await conn.execute(select(OutcomeEpisode).where(OutcomeEpisode.episode_key == key))
            ).one()
        days[zone] = (row.recurrence_day, row.recurrence_event, row.survival_day)
    assert days == {"UTC": (3, True, 12), TORONTO: (2, True, 12)}
