"""The SQL definitions evaluate exactly like the pure rules, on the database under test."""

from itertools import product

from sqlalchemy import Double, literal, select

from app.db import get_engine
from app.episodes import rules
from app.outcomes.definitions import Definitions, improved_sql, reduced_sql
from app.outcomes.dialect import Dialect

# two-decimal scores as the scales produce them (NRS, FPS-R, VAS / 10), boundaries included
SCORES = [0.0, 0.5, 1.0, 2.0, 2.1, 2.9, 3.0, 5.0, 5.01, 5.3, 6.99, 7.0, 7.3, 8.0, 9.3, 10.0]


async def test_improved_and_immpact_bands_match_the_rules() -> None:
    pairs = list(product(SCORES, SCORES))
    t = rules.Thresholds()
    defs = Definitions()
    async with get_engine().connect() as conn:
        d = Dialect(conn.dialect.name)
        columns = []
        for base, score in pairs:
            b, s = literal(base, Double), literal(score, Double)
            columns += [
                improved_sql(d, b, s, defs),
                reduced_sql(b, s, 0.3),
                reduced_sql(b, s, 0.5),
            ]
        row = (await conn.execute(select(*columns))).one()
    got = [bool(v) for v in row]
    want = []
    for base, score in pairs:
        want += [
            rules.is_improved(base, score, t),
            base > 0 and base - score >= 0.3 * base - rules.EPSILON,
            base > 0 and base - score >= 0.5 * base - rules.EPSILON,
        ]
    mismatches = [
        (pairs[i // 3], ("improved", "30%", "50%")[i % 3], got[i], want[i])
        for i in range(len(got))
        if got[i] != want[i]
    ]
    assert not mismatches
    assert rules.is_improved(7.3, 5.3, t)  # the boundary the tolerance is for
    assert sum(want) > 50  # the pairs cover both answers
