"""Every figure of the outcomes endpoint equals a brute-force recomputation in plain Python,
over a seeded synthetic registry, for many cohorts, on whichever database the suite runs on."""

import math
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clinical.definitions import Definitions
from app.clinical.pain import is_improved
from app.config import get_settings
from app.db import get_engine
from app.outcomes.cohort import AgeBand, Cohort
from app.outcomes.service import CACHE
from tests.factories.synthetic import Registry, generate, insert_registry
from tests.outcomes.brute import Ep, episodes_of
from tests.outcomes.expected import expected

PATIENTS = 400
COMPARED = (
    "counts", "pain", "analgesia", "performance", "function_odi", "complications",
    "recurrence", "survival", "imaging_triggers",
)  # fmt: skip

# (query parameters, the same cohort as the service sees it)
COHORTS: list[tuple[dict[str, Any], Cohort]] = [
    ({}, Cohort()),
    (
        {"kind": ["vertebroplasty", "kyphoplasty", "cryoablation", "radiotherapy"]},
        Cohort(kinds=("vertebroplasty", "kyphoplasty", "cryoablation", "radiotherapy")),
    ),
    (
        {"histology": ["VIII", "XI"]},
        Cohort(histology_groups=("VIII", "XI")),
    ),
    ({"age_band": "paediatric"}, Cohort(age_bands=(AgeBand.paediatric,))),
    (
        {"age_band": ["40-64", "65-79"], "sex": "female"},
        Cohort(age_bands=(AgeBand.a40_64, AgeBand.a65_79), sex=("female",)),
    ),
    ({"staged": "true"}, Cohort(staged=True)),
    ({"repeat": "true"}, Cohort(repeat=True)),
    ({"region": "lumbar", "levels_min": 2}, Cohort(regions=("lumbar",), levels_min=2)),
    (
        {"performed_from": "2019-03-01", "performed_to": "2021-12-31"},
        Cohort(performed_from=date(2019, 3, 1), performed_to=date(2021, 12, 31)),
    ),
    (
        {"indication": "pain_palliation", "levels_max": 1, "staged": "false", "repeat": "false"},
        Cohort(indications=("pain_palliation",), levels_max=1, staged=False, repeat=False),
    ),
    ({"kind": "cryoablation"}, Cohort(kinds=("cryoablation",))),
    ({"region": ["cervical", "sacral"]}, Cohort(regions=("cervical", "sacral"))),
]


@cache
def registry() -> Registry:
    return generate(PATIENTS, seed=11)


def definitions() -> Definitions:
    return Definitions.from_settings(get_settings())


@cache
def reference() -> list[Ep]:
    return episodes_of(registry(), definitions())


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path}: got {got!r}, want an object"]
        out = []
        for key in want:
            out += differences(got.get(key), want[key], f"{path}.{key}")
        return out
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: got {got!r}, want {want!r}"]
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True)) for d in
                differences(g, w, f"{path}[{i}]")]  # fmt: skip
    if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        tolerance = 1e-5 if path.endswith(".sd") else 1e-9
        if math.isclose(got, want, rel_tol=tolerance, abs_tol=tolerance):
            return []
    if got == want and type(got) is type(want):
        return []
    if isinstance(want, int) and isinstance(got, float) and got == want:
        return []
    return [f"{path}: got {got!r}, want {want!r}"]


async def _problems(client: AsyncClient, cohorts: list[tuple[dict[str, Any], Cohort]]) -> list[str]:
    problems: list[str] = []
    for params, cohort in cohorts:
        now = datetime.now(UTC)
        response = await client.get("/api/v1/stats/outcomes", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["disclosure"]["exact"] is True
        want = expected(reference(), registry(), cohort, now, definitions())
        found = [d for key in COMPARED for d in differences(body[key], want[key], key)]
        problems += [f"{params}: {d}" for d in found]
    return problems


async def test_every_figure_matches_brute_force(
    client: AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with get_engine().begin() as conn:
        await insert_registry(conn, registry())
    problems = await _problems(client, COHORTS)
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:60])
    # PostgreSQL splits the episode figures over STATS_SCAN_SPLIT statements: any split gives
    # the same figures (SQLite runs one statement whatever the setting)
    for split in (1, 3):
        monkeypatch.setattr(get_settings(), "stats_scan_split", split)
        CACHE.clear()
        problems = await _problems(client, COHORTS[:3])
        assert not problems, f"split {split}:\n" + "\n".join(problems[:60])


def test_the_synthetic_registry_exercises_every_definition() -> None:
    """Else agreeing with the brute force would prove little."""
    eps = reference()
    both = [ep for ep in eps if ep["pain_base"] is not None and ep["pain_d30"] is not None]
    improved = [is_improved(ep["pain_base"], ep["pain_d30"], definitions()) for ep in both]
    assert len(eps) > PATIENTS
    assert sum(ep.episode.key not in ep.episode.procedure_ids for ep in eps) >= 5  # staged
    assert sum(lv["repeat"] for ep in eps for lv in ep.levels) >= 10
    assert sum(ep.episode.ended_at is not None for ep in eps) >= 10
    assert sum(ep["pain_base"] is None for ep in eps) >= 20
    assert sum(ep["pain_d14"] is None for ep in eps) >= 50  # never scored at day 14
    assert sum(improved) > 0.6 * len(improved)  # most improve
    assert sum(ep["surv"][1] and ep["surv"][0] <= 30 for ep in eps) >= 3  # early deaths
    assert sum(ep["rec"] is not None and ep["rec"][1] for ep in eps) >= 10  # recurrences
    assert sum(ep["med_base"] and ep["ome_base"] is None for ep in eps) >= 3  # no OME
    assert sum(ep["med_base"] and ep["omekg_base"] is not None for ep in eps) >= 20
    assert sum(ep["free_d90"] is True for ep in eps) >= 20
