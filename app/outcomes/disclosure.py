"""Cell-key perturbation for `stats:read` (issue 16; pure: no database, no HTTP).

docs/disclosure-control-design.md section 3. Every patient has a permanent random secret
(`patients.disclosure_key`); each episode a 22-bit record key derived from it; a cell (the rows
a figure is computed from) has as key the sum of its members' record keys mod 2^22. A figure's
noise is drawn from HMAC-SHA256(secret, statistic, cell key, n, sum): the same rows always get
the same noise (repeating a query gains nothing), two cells that differ by one record get
independent noises (a difference is the target's value plus two noises).

- Counts: the maximum-entropy ptable of section 3.3 (noise in [-3, 3], mean 0, variance 1.5,
  never published as 1 or 2, zero stays zero).
- Sums: S + B*z with B the most one record can contribute and z on a 0.05 grid in [-2, 2],
  maximum-entropy shape with SD 1 (section 3.4). Means: S'/n clipped to the scale.
- Rates: x'/d' of two perturbed counts, clipped to [0, 1] (section 3.5).
"""

import hashlib
import hmac
import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

VERSION = "ckp-1"
METHOD = "cell-key-perturbation"
KEY_BITS = 22
KEY_MODULUS = 1 << KEY_BITS
COUNT_MAX_NOISE = 3
COUNT_VARIANCE = 1.5
NEVER_SHOWN = (1, 2)
SUM_MAX_NOISE_BOUNDS = 2.0
SUM_NOISE_SD_BOUNDS = 1.0
SUM_GRID = 0.05

# section 3.3: true count -> (noise, probability); the last row serves every count >= 6
PTABLE: dict[int, tuple[tuple[int, float], ...]] = {
    1: ((-1, 0.667), (2, 0.333)),
    2: ((-2, 0.333), (1, 0.667)),
    3: ((-3, 0.115), (0, 0.595), (1, 0.239), (2, 0.046), (3, 0.004)),
    4: ((-1, 0.484), (0, 0.238), (1, 0.133), (2, 0.084), (3, 0.061)),
    5: ((-2, 0.115), (-1, 0.245), (0, 0.304), (1, 0.220), (2, 0.093), (3, 0.023)),
    6: ((-3, 0.018), (-2, 0.089), (-1, 0.233), (0, 0.321), (1, 0.233), (2, 0.089), (3, 0.018)),
}


def record_key(disclosure_key: int, episode_key: str) -> int:
    """An episode's (or, with episode_key 'patient', a patient's) record key: the low 22 bits
    of md5 of both, never 0 (so a cell and the same cell less one record never share a key)."""
    digest = hashlib.md5(f"{disclosure_key}|{episode_key}".encode(), usedforsecurity=False)
    return int.from_bytes(digest.digest()[-4:], "big") % KEY_MODULUS or 1


def cell_key(record_keys: Iterable[int]) -> int:
    return sum(record_keys) % KEY_MODULUS


def seed(secret: bytes, statistic: str, key: int, n: int, total: float = 0.0) -> float:
    """A uniform draw in [0, 1), fixed by what is computed (`statistic`: 'count', 'sum:pain_d14',
    ...) and from which rows (their cell key, count and sum: a corrected value redraws it)."""
    message = f"{VERSION}|{statistic}|{key}|{n}|{round(total, 3):.3f}".encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") / 2**64


def _cumulative(row: Sequence[tuple[int, float]]) -> tuple[list[int], list[float]]:
    total = sum(p for _, p in row)
    return [d for d, _ in row], [c / total for c in accumulate(p for _, p in row)]


_COUNT_ROWS = {n: _cumulative(row) for n, row in PTABLE.items()}


def count_noise(n: int, u: float) -> int:
    if n <= 0:
        return 0
    noises, cumulative = _COUNT_ROWS[min(n, 6)]
    return noises[min(bisect_right(cumulative, u), len(noises) - 1)]


def perturb_count(n: int, u: float) -> int:
    """The published count: within +-3 of n, 0 when n is 0, never 1 or 2."""
    return n + count_noise(n, u)


def _sum_grid() -> tuple[list[float], list[float]]:
    """z on the 0.05 grid in [-2, 2] with p(z) ~ exp(-l z^2) (maximum entropy for a given
    variance on a bounded support), l found so that the variance is 1."""
    steps = round(SUM_MAX_NOISE_BOUNDS / SUM_GRID)
    grid = [i * SUM_GRID for i in range(-steps, steps + 1)]

    def variance(lam: float) -> float:
        weights = [math.exp(-lam * z * z) for z in grid]
        return sum(w * z * z for w, z in zip(weights, grid, strict=True)) / sum(weights)

    low, high = 0.0, 10.0  # variance(0) = 1.34 > 1 > variance(10)
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if variance(middle) > SUM_NOISE_SD_BOUNDS**2 else (low, middle)
    weights = [math.exp(-low * z * z) for z in grid]
    total = sum(weights)
    return grid, [c / total for c in accumulate(weights)]


SUM_Z, _SUM_CUMULATIVE = _sum_grid()


def sum_noise(u: float) -> float:
    """z in [-2, 2], SD 1: the noise of a sum in units of its bound."""
    return SUM_Z[min(bisect_right(_SUM_CUMULATIVE, u), len(SUM_Z) - 1)]


def perturb_sum(total: float, bound: float, u: float) -> float:
    return total + bound * sum_noise(u)


def clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def mean(perturbed_sum: float, n: int, low: float, high: float) -> float | None:
    """S'/n with the true n (S' is never published), clipped to the scale."""
    return clip(perturbed_sum / n, low, high) if n > 0 else None


def rate(numerator: int, denominator: int) -> float | None:
    """x'/d' of two published (perturbed) counts, clipped to [0, 1]."""
    return clip(numerator / denominator, 0.0, 1.0) if denominator > 0 else None


@dataclass(frozen=True)
class Noise:
    """The noise of one request: the secret and the cohort's rows."""

    secret: bytes

    def count(self, statistic: str, key: int, n: int) -> int:
        return perturb_count(n, seed(self.secret, statistic, key, n))

    def mean(
        self, statistic: str, key: int, n: int, total: float, bound: float, scale: float
    ) -> float | None:
        """A mean of n values in [0, scale], each contributing at most `bound` to the sum."""
        if n <= 0:
            return None
        u = seed(self.secret, f"sum:{statistic}", key, n, total)
        return mean(perturb_sum(total, bound, u), n, 0.0, scale)
