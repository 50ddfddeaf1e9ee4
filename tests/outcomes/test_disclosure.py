"""The cell-key perturbation (app/outcomes/disclosure.py): the ptable and the sum noise have the
stated shape, the noise is a fixed function of the secret and the rows, and two cells that
differ by one record get independent noises (docs/disclosure-control-design.md 3.1-3.5)."""

import statistics

import pytest

from app.outcomes import disclosure as d

SECRET = b"a test secret of no importance at all"


@pytest.mark.parametrize("row", sorted(d.PTABLE))
def test_each_ptable_row_is_a_distribution_with_mean_zero(row: int) -> None:
    entries = d.PTABLE[row]
    assert sum(p for _, p in entries) == pytest.approx(1.0, abs=0.002)
    assert sum(noise * p for noise, p in entries) == pytest.approx(0.0, abs=0.005)
    assert all(abs(noise) <= d.COUNT_MAX_NOISE for noise, _ in entries)
    assert all(row + noise not in d.NEVER_SHOWN and row + noise >= 0 for noise, _ in entries)


def test_the_ptable_of_counts_from_6_has_variance_1_5() -> None:
    assert sum(n * n * p for n, p in d.PTABLE[6]) == pytest.approx(d.COUNT_VARIANCE, abs=0.005)


def test_published_counts_are_within_3_never_1_or_2_and_zero_stays_zero() -> None:
    draws = [i / 997 for i in range(997)]
    assert {d.perturb_count(0, u) for u in draws} == {0}
    for n in range(1, 40):
        published = {d.perturb_count(n, u) for u in draws}
        assert all(abs(p - n) <= 3 for p in published), n
        assert not published & {1, 2}, n
    assert {d.perturb_count(1, u) for u in draws} == {0, 3}
    assert len({d.perturb_count(50, u) for u in draws}) == 7  # every noise -3..3 occurs


def test_the_sum_noise_is_bounded_with_sd_one() -> None:
    assert min(d.SUM_Z) == pytest.approx(-2.0) and max(d.SUM_Z) == pytest.approx(2.0)
    draws = [d.sum_noise((i + 0.5) / 20_000) for i in range(20_000)]
    assert statistics.fmean(draws) == pytest.approx(0.0, abs=0.01)
    assert statistics.pstdev(draws) == pytest.approx(d.SUM_NOISE_SD_BOUNDS, abs=0.02)


def test_record_keys_are_22_bits_never_zero_and_differ_by_episode() -> None:
    keys = [d.record_key(123456789, f"episode-{i}") for i in range(2000)]
    assert all(1 <= k < d.KEY_MODULUS for k in keys)
    assert len(set(keys)) > 1990
    assert d.record_key(1, "x") == d.record_key(1, "x")
    assert d.record_key(1, "x") != d.record_key(2, "x")


def test_the_same_cell_always_gets_the_same_noise() -> None:
    """Repeating a query gains nothing (P4): the seed is fixed by secret, statistic and rows."""
    key = d.cell_key([11, 22, 33])
    first = d.seed(SECRET, "count", key, 3)
    assert all(d.seed(SECRET, "count", key, 3) == first for _ in range(5))
    assert d.seed(SECRET, "count", key, 4) != first  # n in the seed
    assert d.seed(SECRET, "sum:pain_d14", key, 3) != first  # the statistic in the seed
    assert d.seed(b"another secret entirely, rotated", "count", key, 3) != first
    assert d.seed(SECRET, "sum:pain", key, 3, 20.0) != d.seed(SECRET, "sum:pain", key, 3, 21.0)


def test_differencing_two_cells_one_record_apart_gives_the_value_plus_noise() -> None:
    """The girl of issue 16: the 6-patient cell minus the 5-boy cell. Over many secrets the
    difference of two perturbed means-times-n scatters widely around her true score 9 (two
    independent sum noises of SD 10 each), and the noises of the two cells do not correlate."""
    boys = [d.record_key(1000 + i, "episode") for i in range(5)]
    girl = d.record_key(2000, "episode")
    all_six, five = d.cell_key([*boys, girl]), d.cell_key(boys)
    estimates, pairs = [], []
    for r in range(400):
        secret = f"secret {r}".encode()
        noise = d.Noise(secret)
        m6 = noise.mean("pain_base", all_six, 6, 41.0, 10.0, 10.0)
        m5 = noise.mean("pain_base", five, 5, 32.0, 10.0, 10.0)
        assert m6 is not None and m5 is not None
        estimates.append(6 * m6 - 5 * m5)
        pairs.append(
            (d.sum_noise(d.seed(secret, "sum:pain_base", all_six, 6, 41.0)),
             d.sum_noise(d.seed(secret, "sum:pain_base", five, 5, 32.0)))
        )  # fmt: skip
    within_one = sum(abs(e - 9) <= 1 for e in estimates) / len(estimates)
    assert within_one < 0.25  # the design's bound P1 for the linear estimate
    assert abs(statistics.correlation(*zip(*pairs, strict=True))) < 0.15


def test_means_and_rates_are_clipped_to_their_scale() -> None:
    assert d.mean(130.0, 10, 0.0, 10.0) == 10.0
    assert d.mean(-4.0, 10, 0.0, 10.0) == 0.0
    assert d.mean(5.0, 0, 0.0, 10.0) is None
    assert d.rate(12, 10) == 1.0
    assert d.rate(3, 0) is None
    assert d.rate(3, 12) == 0.25
