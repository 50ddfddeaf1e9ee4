"""Each clinical definition's SQL (app.clinical.predicates, .dialect) evaluates as its pure
form does, on the database under test (SQLite by default, PostgreSQL with TEST_DATABASE_URL)."""

from itertools import product
from typing import Any

from sqlalchemy import Double, String, literal, select

from app.clinical.definitions import Definitions
from app.clinical.dialect import Dialect
from app.clinical.enums import AUGMENTATION_KINDS, FollowUpKind, PainSite, ProcedureKind
from app.clinical.levels import LEVEL_POSITION, region_of
from app.clinical.pain import is_back_pain, is_improved, is_reduced, is_worsened
from app.clinical.predicates import (
    back_pain_score,
    improved,
    is_augmentation,
    reduced,
    region_of_level,
    worsened,
)
from app.db import get_engine

# two-decimal scores as the scales produce them (NRS, FPS-R, VAS / 10), boundaries included
SCORES = [0.0, 0.5, 1.0, 2.0, 2.1, 2.9, 3.0, 5.0, 5.01, 5.3, 6.99, 7.0, 7.3, 8.0, 9.3, 10.0]
DEFS = Definitions()


async def _evaluate(columns: list[Any]) -> list[Any]:
    async with get_engine().connect() as conn:
        return list((await conn.execute(select(*columns))).one())


def _real(value: float) -> Any:
    return literal(value, Double)


async def test_improved_and_immpact_bands_match_the_rules() -> None:
    pairs = list(product(SCORES, SCORES))
    columns = []
    for base, score in pairs:
        b, s = _real(base), _real(score)
        columns += [improved(b, s, DEFS), reduced(b, s, 0.3), reduced(b, s, 0.5)]
    got = [bool(v) for v in await _evaluate(columns)]
    want = []
    for base, score in pairs:
        want += [
            is_improved(base, score, DEFS),
            is_reduced(base, score, 0.3),
            is_reduced(base, score, 0.5),
        ]
    mismatches = [
        (pairs[i // 3], ("improved", "30%", "50%")[i % 3], got[i], want[i])
        for i in range(len(got))
        if got[i] != want[i]
    ]
    assert not mismatches
    assert is_improved(7.3, 5.3, DEFS)  # the boundary the tolerance is for
    assert sum(want) > 50  # the pairs cover both answers


async def test_worsened_matches_the_rule() -> None:
    async with get_engine().connect() as conn:
        d = Dialect(conn.dialect.name)
    triples = [(s, low, b) for s, low, b in product(SCORES, SCORES[::2], SCORES[::3]) if low <= s]
    columns = [worsened(d, _real(s), _real(low), _real(b), DEFS) for s, low, b in triples]
    got = [bool(v) for v in await _evaluate(columns)]
    want = [is_worsened(s, low, b, DEFS) for s, low, b in triples]
    assert [t for t, g, w in zip(triples, got, want, strict=True) if g != w] == []
    assert is_worsened(5.3, 3.3, 9.0, DEFS)  # 1.9999999999999996 in floats: still 2 points
    assert 0 < sum(want) < len(want)


async def test_the_back_pain_scores_are_the_rules() -> None:
    cases = list(
        product(
            [kind.value for kind in FollowUpKind],
            [None, *(site.value for site in PainSite)],
            [None, 4.0],
        )
    )
    columns = [
        back_pain_score(literal(kind, String), literal(site, String), literal(score, Double))
        for kind, site, score in cases
    ]
    got = [bool(v) for v in await _evaluate(columns)]
    # what the loaders read (pain events with a score) and the rules keep (pain.back_pain)
    want = [k == "pain" and score is not None and is_back_pain(site) for k, site, score in cases]
    assert got == want
    assert sum(want) == 2  # back, and no site recorded


async def test_regions_and_augmentation_come_from_the_same_tables() -> None:
    levels = list(LEVEL_POSITION)
    kinds = [kind.value for kind in ProcedureKind]
    columns: list[Any] = [region_of_level(literal(level, String)) for level in levels]
    columns += [is_augmentation(literal(kind, String)) for kind in kinds]
    got = await _evaluate(columns)
    assert got[: len(levels)] == [region_of(level).value for level in levels]
    assert [bool(v) for v in got[len(levels) :]] == [kind in AUGMENTATION_KINDS for kind in kinds]
