"""Is the difference between two models real? Paired tests on the same pairs.

Both models answered the same pairs, so the tests pair them instead of comparing two independent
accuracies (which would ignore that the pairs are shared and be far too conservative):

- :func:`paired_bootstrap`: the difference in pair accuracy (A - B) and its percentile interval,
  resampling *pairs* with replacement -- each draw takes both models' outcomes on the same pairs
  (drawn as the multinomial counts of the three kinds of pair, which is the same distribution);
- :func:`mcnemar_exact`: McNemar's exact test on the discordant pairs (A right and B wrong: ``b``;
  A wrong and B right: ``c``). Under "no difference" each discordant pair is a fair coin, so the
  two-sided p-value is ``min(1, 2 * P(X <= min(b, c)))`` for ``X ~ Binomial(b + c, 1/2)``,
  computed exactly with integers;
- :func:`holm`: Holm's step-down adjustment, for the pairwise matrix of a board (with k models,
  k(k-1)/2 tests are made at once).

Only pairs that are complete in both runs enter (:func:`compare_outcomes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from rsmmvp_tasks.errors import DataViolationError

__all__ = [
    "N_BOOTSTRAP",
    "BOOTSTRAP_SEED",
    "ALPHA",
    "Comparison",
    "paired_bootstrap",
    "mcnemar_exact",
    "holm",
    "compare_outcomes",
    "wilson_interval",
]

#: resamples and seed of the paired bootstrap (fixed: the same board always prints the same interval)
N_BOOTSTRAP = 10_000
BOOTSTRAP_SEED = 0
#: significance level of every "significant" mark
ALPHA = 0.05


def paired_bootstrap(
    a: Sequence[bool] | np.ndarray,
    b: Sequence[bool] | np.ndarray,
    *,
    n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``(mean(a) - mean(b), low, high)``: the difference and its percentile bootstrap interval over pairs.

    ``a[i]`` and ``b[i]`` are the two models' outcomes on the same pair ``i``.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired_bootstrap: outcomes must be two vectors of one length (got {x.shape}, {y.shape})")
    if x.size == 0:
        raise ValueError("paired_bootstrap: no pair to compare")
    d = x - y
    # A resampled mean of d is (#(+1) - #(-1)) / n over n draws with replacement: a multinomial draw of the
    # three kinds of pair (A only right, B only right, neither or both) -- the same distribution as resampling
    # pair by pair, in O(n_boot) instead of O(n_boot * n).
    n = d.size
    rng = np.random.default_rng(seed)
    if np.isin(d, (-1.0, 0.0, 1.0)).all():
        probs = [float((d > 0).sum()) / n, float((d < 0).sum()) / n]
        probs.append(max(0.0, 1.0 - probs[0] - probs[1]))
        counts = rng.multinomial(n, probs, size=n_boot)
        draws = (counts[:, 0] - counts[:, 1]) / n
    else:  # outcomes that are not right/wrong (scores): resample pair by pair
        draws = np.empty(n_boot)
        chunk = max(1, 2_000_000 // n)  # bound the index matrix's memory on large benchmarks
        for start in range(0, n_boot, chunk):
            stop = min(n_boot, start + chunk)
            draws[start:stop] = d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return float(d.mean()), float(low), float(high)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c`` (1.0 when both are 0).

    >>> mcnemar_exact(1, 6)   # 2 * (C(7,0) + C(7,1)) / 2**7 = 16/128
    0.125
    """
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar_exact: counts must be >= 0 (got {b}, {c})")
    n = b + c
    if n == 0:
        return 1.0
    tail = Fraction(sum(math.comb(n, i) for i in range(min(b, c) + 1)), 2**n)
    return float(min(Fraction(1), 2 * tail))


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a proportion ``successes / n`` (``n >= 1``).

    >>> [round(v, 4) for v in wilson_interval(0, 10)]
    [0.0, 0.2775]
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n and n >= 1 (got {successes}, {n})")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (same order as given): reject ``i`` at level a iff ``adjusted[i] <= a``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of two runs on the pairs complete in both."""

    n_pairs: int
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_a - accuracy_b
    ci_low: float
    ci_high: float
    both_right: int
    only_a: int  # A right, B wrong
    only_b: int  # A wrong, B right
    both_wrong: int
    p_value: float
    only_in_a: int = 0  # pairs complete in A's run only (left out)
    only_in_b: int = 0

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_outcomes(a: Mapping[str, bool], b: Mapping[str, bool], *, n_boot: int = N_BOOTSTRAP,
                     seed: int = BOOTSTRAP_SEED) -> Comparison:
    """Compare per-pair outcomes ``{pair_id: right?}`` of two runs on their common pairs.

    Raises :class:`DataViolationError` when the runs share no pair (different datasets).
    """
    common = sorted(set(a) & set(b))
    if not common:
        raise DataViolationError(
            f"the two runs share no pair ({len(a)} and {len(b)} pairs, none in common): they were not made on "
            "the same dataset, so they cannot be compared pair by pair"
        )
    x = np.array([bool(a[p]) for p in common])
    y = np.array([bool(b[p]) for p in common])
    diff, low, high = paired_bootstrap(x, y, n_boot=n_boot, seed=seed)
    only_a, only_b = int((x & ~y).sum()), int((~x & y).sum())
    return Comparison(
        n_pairs=len(common),
        accuracy_a=float(x.mean()),
        accuracy_b=float(y.mean()),
        difference=diff,
        ci_low=low,
        ci_high=high,
        both_right=int((x & y).sum()),
        only_a=only_a,
        only_b=only_b,
        both_wrong=int((~x & ~y).sum()),
        p_value=mcnemar_exact(only_a, only_b),
        only_in_a=len(set(a) - set(b)),
        only_in_b=len(set(b) - set(a)),
    )
