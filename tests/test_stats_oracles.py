"""The statistics against independent implementations (scipy, scikit-learn: test extras only)."""

from __future__ import annotations

import random

import pytest
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score

from rsmmvp_tasks.human.scoring import cohen_kappa
from rsmmvp_tasks.sharing.stats import mcnemar_exact, wilson_interval


@pytest.mark.parametrize("b, c", [(0, 0), (0, 1), (1, 0), (3, 3), (6, 0), (2, 9), (17, 30), (0, 40), (101, 77)])
def test_mcnemar_exact_is_scipys_two_sided_binomial_test(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_cohen_kappa_is_sklearns() -> None:
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(2, 40)
        labels = rng.sample(["A", "B", "none", "C"], rng.randint(2, 4))
        a = [rng.choice(labels) for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice(labels) for x in a]
        ours = cohen_kappa(a, b)
        if len(set(a) | set(b)) < 2 or ours is None:
            continue
        assert ours == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (3, 9), (45, 100)])
def test_wilson_interval_is_scipys(k: int, n: int) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)
