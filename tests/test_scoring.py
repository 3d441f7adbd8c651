"""Scoring: pair keying, incomplete pairs, duplicates, rank-order independence, bootstrap CIs."""

from __future__ import annotations

import logging
import math
import random

import numpy as np
import pytest

from rsmmvp_tasks.evaluation.scoring import (
    QuestionResult,
    bootstrap_ci,
    clustered_stderr,
    format_pattern_table,
    mean_stderr,
    score,
)


def q(index: int, pair: str, answer: str, pred: str | None, pattern: str = "count", size: int = 2) -> QuestionResult:
    return QuestionResult(index=index, pair_id=pair, pattern=pattern, pair_size=size, answer=answer, pred=pred)


def test_pair_counts_only_if_both_right() -> None:
    results = [
        q(1, "p1", "A", "A"), q(2, "p1", "B", "B"),  # pair right
        q(3, "p2", "A", "A"), q(4, "p2", "B", "A"),  # one wrong
        q(5, "p3", "B", None), q(6, "p3", "A", "A"),  # unreadable counts as wrong
    ]
    s = score(results)
    assert s.n_questions == 6 and s.n_pairs == 3
    assert s.question_accuracy == pytest.approx(4 / 6)
    assert s.pair_accuracy == pytest.approx(1 / 3)
    assert s.unreadable_rate == pytest.approx(1 / 6)
    assert s.incomplete_pairs == []


def test_always_a_scores_zero_pairs_on_opposite_answers() -> None:
    results = [q(2 * k + 1, f"p{k}", "A", "A") for k in range(5)] + [q(2 * k + 2, f"p{k}", "B", "A") for k in range(5)]
    s = score(results)
    assert s.question_accuracy == pytest.approx(0.5)
    assert s.pair_accuracy == 0.0


def test_pairs_keyed_by_id_not_order_across_ranks() -> None:
    """Rows of a pair split across ranks and gathered in any order score the same."""
    rng = random.Random(0)
    results = []
    for k in range(40):
        a, b = ("A", "B") if k % 2 else ("B", "A")
        results.append(q(2 * k + 1, f"pair-{k}", a, a if rng.random() < 0.8 else b, pattern="presence" if k % 3 else "count"))
        results.append(q(2 * k + 2, f"pair-{k}", b, b if rng.random() < 0.7 else a, pattern="presence" if k % 3 else "count"))
    reference = score(results)
    for world in (2, 3, 8):
        shuffled = results[:]
        rng.shuffle(shuffled)
        ranks = [shuffled[r::world] for r in range(world)]  # each rank's share, then gathered on rank 0
        gathered = [x for rank in reversed(ranks) for x in rank]
        s = score([x.to_dict() for x in gathered])  # records travel as dicts
        assert s.pair_accuracy == reference.pair_accuracy
        assert s.question_accuracy == reference.question_accuracy
        assert s.per_pattern == reference.per_pattern
        assert s.pair_accuracy_ci == reference.pair_accuracy_ci


def test_incomplete_pair_is_reported_and_left_out_loudly(caplog: pytest.LogCaptureFixture) -> None:
    results = [q(1, "p1", "A", "A"), q(2, "p1", "B", "B"), q(3, "p2", "A", "A")]  # p2 lost its second row
    with caplog.at_level(logging.WARNING, logger="rsmmvp_tasks.evaluation.scoring"):
        s = score(results)
    assert s.incomplete_pairs == ["p2"]
    assert s.n_pairs == 1 and s.pair_accuracy == 1.0
    assert s.question_accuracy == 1.0  # the lone question still counts as a question
    assert "p2" in caplog.text and "incomplete" in caplog.text


def test_duplicate_reports_count_once_and_conflicts_raise() -> None:
    a = q(1, "p1", "A", "A")
    s = score([a, a, q(2, "p1", "B", "A")])
    assert s.n_questions == 2 and s.pair_accuracy == 0.0
    with pytest.raises(ValueError, match="index 1"):
        score([a, q(1, "p1", "A", "B")])


def test_per_pattern_and_table() -> None:
    results = [q(1, "p1", "A", "A", "count"), q(2, "p1", "B", "B", "count"),
               q(3, "p2", "A", "A", "presence"), q(4, "p2", "B", "A", "presence")]
    s = score(results)
    assert s.per_pattern == {"count": (1, 1.0), "presence": (1, 0.0)}
    table = format_pattern_table(s)
    assert "| Quantity and Count | 1 | 1.0000 | [1.0000, 1.0000] |" in table
    assert "| Presence of Specific Features | 1 | 0.0000 | [0.0000, 0.0000] |" in table
    assert "| Texts | 0 | - | - |" in table
    assert table.splitlines()[-1] == f"| **All** | 2 | 0.5000 | [{s.pair_accuracy_ci[0]:.4f}, {s.pair_accuracy_ci[1]:.4f}] |"


def test_pair_of_three_questions_needs_all_three() -> None:
    results = [q(1, "p", "A", "A", size=3), q(2, "p", "B", "B", size=3), q(3, "p", "A", "B", size=3)]
    assert score(results).pair_accuracy == 0.0


def test_empty_run_is_nan_not_crash() -> None:
    s = score([])
    assert math.isnan(s.question_accuracy) and math.isnan(s.pair_accuracy)
    assert all(math.isnan(x) for x in s.pair_accuracy_ci)


def test_bootstrap_ci_is_seeded_brackets_estimate_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    small = rng.random(30) < 0.6
    large = rng.random(3000) < 0.6
    lo_s, hi_s = bootstrap_ci(small.astype(float), np.ones(small.size))
    assert (lo_s, hi_s) == bootstrap_ci(small.astype(float), np.ones(small.size))  # fixed seed
    assert lo_s <= small.mean() <= hi_s
    lo_l, hi_l = bootstrap_ci(large.astype(float), np.ones(large.size))
    assert lo_l <= large.mean() <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 3
    # roughly the normal-approximation width for a proportion
    se = math.sqrt(large.mean() * (1 - large.mean()) / large.size)
    assert (hi_l - lo_l) == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_all_correct_degenerate() -> None:
    assert bootstrap_ci(np.ones(10), np.ones(10)) == (1.0, 1.0)


def test_standard_errors_pairs_independent_questions_clustered_by_pair() -> None:
    rng = random.Random(3)
    results = []
    for k in range(60):
        a, b = ("A", "B") if k % 2 else ("B", "A")
        pattern = "presence" if k % 3 else "count"
        results.append(q(2 * k + 1, f"p{k}", a, a if rng.random() < 0.7 else b, pattern))
        results.append(q(2 * k + 2, f"p{k}", b, b if rng.random() < 0.6 else (None if k % 5 == 0 else a), pattern))
    s = score(results)
    stats = {}
    for r in results:
        stats.setdefault(r.pair_id, []).append(r)
    pair_right = np.array([float(all(x.correct for x in v)) for v in stats.values()])
    assert s.pair_accuracy_se == pytest.approx(pair_right.std(ddof=1) / math.sqrt(pair_right.size))
    # question accuracy: the sandwich SE over pairs, close to the spread of the pair bootstrap
    per_pair_correct = np.array([sum(x.correct for x in v) for v in stats.values()], dtype=float)
    boot = np.random.default_rng(0).integers(0, 60, size=(4000, 60))
    boot_means = per_pair_correct[boot].sum(axis=1) / 120
    assert s.question_accuracy_se == pytest.approx(boot_means.std(), rel=0.1)
    for pattern, (n, acc) in s.per_pattern.items():
        right = np.array([float(all(x.correct for x in stats[p])) for p in sorted(stats) if stats[p][0].pattern == pattern])
        assert (n, acc) == (right.size, pytest.approx(right.mean()))
        assert s.per_pattern_se[pattern] == pytest.approx(mean_stderr(right))
        lo, hi = s.per_pattern_ci[pattern]
        assert lo <= acc <= hi and (lo, hi) == bootstrap_ci(right, np.ones(right.size))
    assert 0 < s.unreadable_rate_se < 1


def test_clustered_stderr_reduces_to_mean_stderr_and_sees_balanced_pairs() -> None:
    x = np.random.default_rng(2).random(40) < 0.4
    assert clustered_stderr(x, range(40)) == pytest.approx(mean_stderr(x))
    # always-A on opposite answers: every pair has exactly one right question, nothing varies across pairs
    assert clustered_stderr([1, 0] * 9, [i // 2 for i in range(18)]) == 0.0
    # the same values, positively correlated within pairs: wider than if they were independent
    same = [1, 1, 0, 0] * 5
    assert clustered_stderr(same, [i // 2 for i in range(20)]) > mean_stderr(same)
    assert math.isnan(clustered_stderr([1, 0], ["p", "p"])) and math.isnan(mean_stderr([1]))
