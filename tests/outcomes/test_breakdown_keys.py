"""The breakdown's figures are keyed by the keys declared once (app.outcomes.figure_keys:
Breakdown, in_group): every figure a row reads is declared by the same key, and a key nothing
declared (a misspelt one, a group never counted) is an error, never a published cell."""

import pytest

from app.models import OutcomeEpisode
from app.outcomes import breakdown
from app.outcomes.figure_keys import Breakdown, BreakdownKey, in_group
from app.outcomes.queries import Aggregate, DistributionStats
from app.outcomes.sheet import Sheet, UnknownFigure

TOTAL = breakdown.TOTAL


def _sheet(k: int | None) -> Sheet:
    """A sheet with the total's row recorded as breakdown_sheet records it, from the
    breakdown's own specs."""
    counts, measures = breakdown._specs(OutcomeEpisode.__table__, 0)
    agg = Aggregate(
        {c.key: 40 for c in counts},
        {m.key: DistributionStats(40, 5.0, 1.0, 4.0, 5.0, 6.0) for m in measures},
        1,
    )
    sheet = Sheet(k)
    breakdown._record(sheet, TOTAL, agg, {c.key: 20 for c in counts})
    sheet.finish()
    return sheet


@pytest.mark.parametrize("k", [5, None])
def test_every_figure_of_a_row_is_read_by_its_declared_key(k: int | None) -> None:
    row = breakdown._row(_sheet(k), TOTAL)
    assert row.group == TOTAL
    assert row.episodes.value == 40
    assert row.clinical_success_2w.n == 40
    assert row.pain_d30.n == 40


def test_the_keys_keep_their_published_spelling() -> None:
    # the suppressed cells are listed by key (disclosure.suppressed[].cell)
    assert in_group("IX", Breakdown.patients) == "IX.patients"
    assert in_group(TOTAL, Breakdown.n(Breakdown.pain_d14)) == "total.pain_d14.n"
    assert in_group("5+", Breakdown.not_(Breakdown.success)) == "5+.success.not"


@pytest.mark.parametrize("k", [5, None])
def test_an_undeclared_breakdown_key_is_an_error(k: int | None) -> None:
    sheet = _sheet(k)
    with pytest.raises(UnknownFigure, match=r"total\.patient'"):
        sheet.figure(in_group(TOTAL, BreakdownKey("patient")))  # misspelt
    with pytest.raises(UnknownFigure):
        sheet.why(in_group(TOTAL, Breakdown.n(Breakdown.success)))  # not a distribution's n
    with pytest.raises(UnknownFigure):
        sheet.rate(in_group(TOTAL, Breakdown.success), in_group(TOTAL, Breakdown.known))
    with pytest.raises(UnknownFigure):
        sheet.distribution(
            in_group(TOTAL, BreakdownKey("pain_d15")), in_group(TOTAL, Breakdown.episodes)
        )
    with pytest.raises(UnknownFigure, match=r"'IX\.patients'"):
        breakdown._row(sheet, "IX")  # a group never counted
