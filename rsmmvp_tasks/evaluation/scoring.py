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
  pairs too, since the two questions of a pair are not independent), fixed seed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from rsmmvp_tasks.schema import PATTERNS

logger = logging.getLogger(__name__)

__all__ = ["QuestionResult", "PairStats", "Scores", "score", "bootstrap_ci", "format_pattern_table"]

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
    """Everything a run reports. Accuracies are fractions in [0, 1]; NaN when undefined."""

    n_questions: int
    n_pairs: int
    question_accuracy: float
    pair_accuracy: float
    unreadable_rate: float
    question_accuracy_ci: tuple[float, float]
    pair_accuracy_ci: tuple[float, float]
    incomplete_pairs: list[str] = field(default_factory=list)
    per_pattern: dict[str, tuple[int, float]] = field(default_factory=dict)


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


def score(results: Iterable[QuestionResult | Mapping[str, Any]], *, warn_incomplete: bool = True) -> Scores:
    """Score a run. See the module docstring for the rules."""
    qs = _coerce(results)
    stats = pair_stats(qs)
    n_q = len(qs)
    complete = [s for s in stats if s.complete]
    incomplete = [s.pair_id for s in stats if not s.complete]
    if incomplete and warn_incomplete:
        shown = ", ".join(incomplete[:20]) + (f", ... (+{len(incomplete) - 20} more)" if len(incomplete) > 20 else "")
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
    p_ci = bootstrap_ci(np.array([float(s.all_correct) for s in complete]), np.ones(len(complete)))

    per_pattern: dict[str, tuple[int, float]] = {}
    for pattern in sorted({s.pattern for s in complete}):
        sel = [s for s in complete if s.pattern == pattern]
        per_pattern[pattern] = (len(sel), sum(s.all_correct for s in sel) / len(sel))

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
    )


def format_pattern_table(scores: Scores) -> str:
    """A markdown table: pattern, pairs, pair accuracy (every known pattern; '-' where none)."""
    lines = ["| Visual pattern | Pairs | Pair accuracy |", "|---|---:|---:|"]
    names = list(PATTERNS) + sorted(p for p in scores.per_pattern if p not in PATTERNS)
    for name in names:
        n, acc = scores.per_pattern.get(name, (0, math.nan))
        label = PATTERNS.get(name, name)
        lines.append(f"| {label} | {n} | {'-' if n == 0 else f'{acc:.4f}'} |")
    lines.append(f"| **All** | {scores.n_pairs} | {scores.pair_accuracy:.4f} |")
    return "\n".join(lines)
