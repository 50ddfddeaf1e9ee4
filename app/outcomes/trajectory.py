"""The 97.5 % quantile of Student's t, for the 95 % confidence interval of a mean (pure)."""

import math

Z975 = 1.959963984540054

# t(0.975, df) for df = 1..30 (standard tables, 9 decimals)
_T975 = (
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836,
    2.446911851, 2.364624252, 2.306004135, 2.262157163, 2.228138852,
    2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546,
    2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447,
    2.079613845, 2.073873068, 2.068657610, 2.063898562, 2.059538553,
    2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    """Exact table values up to 30 degrees of freedom, then the Cornish-Fisher expansion
    (error below 1e-6 from 31 on)."""
    if df < 1:
        raise ValueError("at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def mean_ci(n: int, mean: float, sd: float | None) -> tuple[float, float] | None:
    """The 95 % confidence interval of a mean of n values (None for fewer than 2)."""
    if n < 2 or sd is None or math.isnan(sd):
        return None
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half
