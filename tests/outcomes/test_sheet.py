"""A figure is read by the key it was declared by; a key nothing declared (a misspelt one) is
an error, never a cell published without its suppression decision."""

import pytest

from app.outcomes.queries import DistributionStats
from app.outcomes.sheet import Sheet, UnknownFigure


def _sheet(k: int | None = 5) -> Sheet:
    sheet = Sheet(k)
    sheet.put("counts.patients", 3, 3)  # from fewer than k patients: suppressed
    sheet.put("counts.episodes", 40, 20)
    sheet.ratio("counts.patients", "counts.episodes")
    sheet.put_distribution("pain.base", DistributionStats(3, 5.0, 1.0, 4.0, 5.0, 6.0))
    sheet.finish()
    return sheet


def test_a_declared_figure_is_read_with_its_suppression() -> None:
    sheet = _sheet()
    assert sheet.why("counts.patients") is not None
    assert sheet.figure("counts.patients").value is None
    assert sheet.figure("counts.episodes").value == 40
    assert sheet.why("counts.episodes") is None
    assert sheet.rate("counts.patients", "counts.episodes").suppressed is not None
    assert sheet.distribution("pain.base", "counts.episodes").mean is None


@pytest.mark.parametrize("k", [5, None])
def test_a_misspelt_key_is_an_error(k: int | None) -> None:
    sheet = _sheet(k)
    with pytest.raises(UnknownFigure, match=r"counts\.patient'"):
        sheet.why("counts.patient")
    with pytest.raises(UnknownFigure):
        sheet.why("counts.episodes", "counts.episode")  # a later key too
    with pytest.raises(UnknownFigure):
        sheet.figure("counts.patinets")
    with pytest.raises(UnknownFigure):
        sheet.value("counts.sesions")
    with pytest.raises(UnknownFigure):
        sheet.rate("counts.episodes", "counts.patients")  # a ratio never declared
    with pytest.raises(UnknownFigure):
        sheet.distribution("pain.bsae", "counts.episodes")
