"""Scoring RSMMVP runs: question accuracy, pair accuracy, unreadable rate, per-pattern table, CIs.

Input: one :class:`QuestionResult` (or a mapping with the same keys) per answered question, in
any order and possibly gathered from several processes. Pairs are keyed by ``pair_id``, never
by row order, so a pair whose questions were answered on different ranks is still scored.

Rules
-----
- ``question_accuracy``: correct answers / questions. An unreadable reply (no single choice
  stated, ``pred is None``) is wrong; ``unreadable_rate`` reports how often that happened.
- ``pair_accuracy``: a pair counts as right only if *all* of its questions are right
  (MMVP: both questions; chance is 25% for two 2-option questions). Only *complete* pairs --
  all ``pair_size`` questions present -- enter the denominator. Incomplete pairs (e.g. a run
  with ``--limit``) are listed in :attr:`Scores.incomplete_pairs` and logged as a warning that
  names them; they still count in question accuracy.
- A question reported twice (same ``index``) counts once; a conflicting duplicate raises.
- Confidence intervals: percentile bootstrap over pairs (question accuracy resamples whole
  pairs too, since the two questions of a pair are not independent), fixed seed; per visual
  pattern too, over that pattern's complete pairs.
- Standard errors (what lmms-eval's table shows in its Stderr column): pair accuracy and the
  per-pattern pair accuracies are means over independent pairs, ``std(ddof=1) / sqrt(n)``;
  question accuracy and the unreadable rate are means over questions clustered by pair, with the
  cluster-robust (sandwich) standard error by ``pair_id`` (:func:`clustered_stderr`): the two
  questions of a pair are not independent, so this is what the pair bootstrap measures. Undefined
  (NaN) with fewer than two pairs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from rsmmvp_tasks.schema import PATTERNS
from rsmmvp_tasks.values import first_few

logger = logging.getLogger(__name__)

__all__ = [
    "QuestionResult",
    "PairStats",
    "Scores",
    "score",
    "bootstrap_ci",
    "mean_stderr",
    "clustered_stderr",
    "format_pattern_table",
]

#: bootstrap resamples and seed used for every reported interval
N_BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class QuestionResult:
    """The outcome of one question, as produced per document during evaluation."""

    index: int
    pair_id: str
    pattern: str
    pair_size: int
    answer: str
    pred: str | None

    @property
    def correct(self) -> bool:
        return self.pred is not None and self.pred == self.answer

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> "QuestionResult":
        pred = m.get("pred")
        return cls(
            index=int(m["index"]),
            pair_id=str(m["pair_id"]),
            pattern=str(m.get("pattern", "")),
            pair_size=int(m.get("pair_size", 2)),
            answer=str(m["answer"]),
            pred=None if pred is None else str(pred),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["correct"] = self.correct
        return d


@dataclass(frozen=True)
class PairStats:
    """Per-pair tallies: questions present, questions right, questions expected."""

    pair_id: str
    pattern: str
    n_present: int
    n_correct: int
    n_expected: int

    @property
    def complete(self) -> bool:
        return self.n_present == self.n_expected

    @property
    def all_correct(self) -> bool:
        return self.complete and self.n_correct == self.n_present


@dataclass
class Scores:
    """Everything a run reports. Accuracies are fractions in [0, 1]; NaN when undefined.

    ``per_pattern`` maps a visual pattern to ``(complete pairs, pair accuracy)``;
    ``per_pattern_ci`` and ``per_pattern_se`` hold its 95% bootstrap interval and standard error.
    ``*_se`` are standard errors (see the module docstring), ``*_ci`` 95% bootstrap intervals.
    """

    n_questions: int
    n_pairs: int
    question_accuracy: float
    pair_accuracy: float
    unreadable_rate: float
    question_accuracy_ci: tuple[float, float]
    pair_accuracy_ci: tuple[float, float]
    incomplete_pairs: list[str] = field(default_factory=list)
    per_pattern: dict[str, tuple[int, float]] = field(default_factory=dict)
    question_accuracy_se: float = math.nan
    pair_accuracy_se: float = math.nan
    unreadable_rate_se: float = math.nan
    per_pattern_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    per_pattern_se: dict[str, float] = field(default_factory=dict)


def _coerce(results: Iterable[QuestionResult | Mapping[str, Any]]) -> list[QuestionResult]:
    by_index: dict[int, QuestionResult] = {}
    duplicates = 0
    for r in results:
        q = r if isinstance(r, QuestionResult) else QuestionResult.from_mapping(r)
        seen = by_index.get(q.index)
        if seen is not None:
            if seen != q:
                raise ValueError(
                    f"question index {q.index} was scored twice with different outcomes ({seen} vs {q}); "
                    "each question must be evaluated once per run"
                )
            duplicates += 1
            continue
        by_index[q.index] = q
    if duplicates:
        logger.warning("rsmmvp: %d question(s) reported more than once were counted once", duplicates)
    return list(by_index.values())


def pair_stats(results: Iterable[QuestionResult | Mapping[str, Any]]) -> list[PairStats]:
    """Group question results by ``pair_id`` (order-independent)."""
    groups: dict[str, list[QuestionResult]] = {}
    for q in _coerce(results):
        groups.setdefault(q.pair_id, []).append(q)
    stats = []
    for pid, qs in sorted(groups.items()):
        expected = max(q.pair_size for q in qs)
        patterns = {q.pattern for q in qs}
        stats.append(
            PairStats(
                pair_id=pid,
                pattern=sorted(patterns)[0],
                n_present=len(qs),
                n_correct=sum(q.correct for q in qs),
                n_expected=expected,
            )
        )
    return stats


def bootstrap_ci(
    per_unit_num: np.ndarray,
    per_unit_den: np.ndarray,
    *,
    n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``sum(num) / sum(den)`` resampling units with replacement.

    Units are pairs: ``num``/``den`` are per-pair counts (e.g. correct questions / questions).
    Returns ``(nan, nan)`` with no units.
    """
    num = np.asarray(per_unit_num, dtype=np.float64)
    den = np.asarray(per_unit_den, dtype=np.float64)
    if num.size == 0 or den.sum() == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num.size, size=(n_boot, num.size))
    nums = num[idx].sum(axis=1)
    dens = den[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = nums / dens
    stats = stats[np.isfinite(stats)]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def mean_stderr(values: Any) -> float:
    """Standard error of the mean of independent values: ``std(ddof=1) / sqrt(n)``; NaN for n < 2."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return math.nan
    return float(x.std(ddof=1) / math.sqrt(x.size))


def clustered_stderr(values: Any, clusters: Any) -> float:
    """Cluster-robust standard error of the mean of ``values``; NaN with fewer than 2 clusters.

    ``SE = sqrt(C / (C - 1) * sum_c (sum_{i in c} (x_i - m))^2) / n`` over ``C`` clusters and ``n``
    values: the usual sandwich estimator with the small-sample factor ``C / (C - 1)``. With one
    value per cluster it is :func:`mean_stderr`; for the two questions of a pair it measures what
    resampling whole pairs (the bootstrap intervals) measures.
    """
    x = np.asarray(values, dtype=np.float64)
    _, inverse = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    n_clusters = int(inverse.max()) + 1 if x.size else 0
    if n_clusters < 2:
        return math.nan
    sums = np.bincount(inverse, weights=x - x.mean())
    return float(math.sqrt(n_clusters / (n_clusters - 1) * float((sums * sums).sum())) / x.size)


def score(results: Iterable[QuestionResult | Mapping[str, Any]], *, warn_incomplete: bool = True) -> Scores:
    """Score a run. See the module docstring for the rules."""
    qs = _coerce(results)
    stats = pair_stats(qs)
    n_q = len(qs)
    complete = [s for s in stats if s.complete]
    incomplete = [s.pair_id for s in stats if not s.complete]
    if incomplete and warn_incomplete:
        shown = first_few(incomplete, 20)
        logger.warning(
            "rsmmvp: %d incomplete pair(s) left out of pair_accuracy (not all of their questions were "
            "evaluated, e.g. because of --limit): %s",
            len(incomplete),
            shown,
        )

    q_acc = sum(q.correct for q in qs) / n_q if n_q else math.nan
    unreadable = sum(q.pred is None for q in qs) / n_q if n_q else math.nan
    p_acc = sum(s.all_correct for s in complete) / len(complete) if complete else math.nan

    q_ci = bootstrap_ci(np.array([s.n_correct for s in stats]), np.array([s.n_present for s in stats]))
    pair_right = np.array([float(s.all_correct) for s in complete])
    p_ci = bootstrap_ci(pair_right, np.ones(len(complete)))
    clusters = [q.pair_id for q in qs]

    per_pattern: dict[str, tuple[int, float]] = {}
    per_pattern_ci: dict[str, tuple[float, float]] = {}
    per_pattern_se: dict[str, float] = {}
    for pattern in sorted({s.pattern for s in complete}):
        right = np.array([float(s.all_correct) for s in complete if s.pattern == pattern])
        per_pattern[pattern] = (int(right.size), float(right.mean()))
        per_pattern_ci[pattern] = bootstrap_ci(right, np.ones(right.size))
        per_pattern_se[pattern] = mean_stderr(right)

    return Scores(
        n_questions=n_q,
        n_pairs=len(complete),
        question_accuracy=q_acc,
        pair_accuracy=p_acc,
        unreadable_rate=unreadable,
        question_accuracy_ci=q_ci,
        pair_accuracy_ci=p_ci,
        incomplete_pairs=incomplete,
        per_pattern=per_pattern,
        question_accuracy_se=clustered_stderr([float(q.correct) for q in qs], clusters),
        pair_accuracy_se=mean_stderr(pair_right),
        unreadable_rate_se=clustered_stderr([float(q.pred is None) for q in qs], clusters),
        per_pattern_ci=per_pattern_ci,
        per_pattern_se=per_pattern_se,
    )


def _interval(ci: tuple[float, float]) -> str:
    lo, hi = ci
    return "-" if math.isnan(lo) or math.isnan(hi) else f"[{lo:.4f}, {hi:.4f}]"


def format_pattern_table(scores: Scores) -> str:
    """A markdown table: pattern, complete pairs, pair accuracy, its 95% bootstrap interval.

    Every known pattern is listed ('-' where the run has no complete pair of it), then any other
    pattern found, then the whole run.
    """
    lines = ["| Visual pattern | Pairs | Pair accuracy | 95% CI |", "|---|---:|---:|---:|"]
    names = list(PATTERNS) + sorted(p for p in scores.per_pattern if p not in PATTERNS)
    for name in names:
        n, acc = scores.per_pattern.get(name, (0, math.nan))
        label = PATTERNS.get(name, name or "(no pattern)")
        if n == 0:
            lines.append(f"| {label} | 0 | - | - |")
        else:
            interval = _interval(scores.per_pattern_ci.get(name, (math.nan, math.nan)))
            lines.append(f"| {label} | {n} | {acc:.4f} | {interval} |")
    overall = "-" if math.isnan(scores.pair_accuracy) else f"{scores.pair_accuracy:.4f}"
    lines.append(f"| **All** | {scores.n_pairs} | {overall} | {_interval(scores.pair_accuracy_ci)} |")
    return "\n".join(lines)
