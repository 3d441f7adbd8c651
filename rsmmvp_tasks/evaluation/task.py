"""The functions lmms-eval calls for the rsmmvp tasks (named by ``task_yamls/rsmmvp/utils.py``).

- ``process_docs``: checks the contract columns and adds ``pair_size`` (rows per pair in the
  whole split), so pairs cut by ``--limit`` are detected as incomplete later.
- ``process_hub_docs``: the full benchmark's hook; converts the hub layout of ``IVUlab/RSMMVP``
  (an image column plus a separate question table) into the contract, then as ``process_docs``.
- ``process_results``: reads the chosen letter with :func:`rsmmvp_tasks.evaluation.answers.extract_choice`
  and emits one small record per question under every metric key.
- ``aggregate_*``: one function per reported metric (see :data:`METRICS`); lmms-eval gathers
  the records of all ranks on rank 0 before calling them, and :mod:`rsmmvp_tasks.evaluation.scoring` keys
  pairs by ``pair_id``, so multi-process runs are scored like single-process ones.

Where the numbers appear: lmms-eval's printed table (one row per metric) and
``<output_path>/<model>/<timestamp>_results.json`` under ``results.<task>["<metric>,none"]``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Any, Callable, Mapping, Sequence

from rsmmvp_tasks.evaluation.answers import extract_choice
from rsmmvp_tasks.schema import PATTERNS, REQUIRED_COLUMNS
from rsmmvp_tasks.evaluation.scoring import Scores, format_pattern_table, score

try:  # lmms-eval logs through loguru; its CLI shows nothing of stdlib logging below WARNING
    from loguru import logger as _log
except ImportError:  # pragma: no cover - loguru comes with lmms-eval
    _log = logging.getLogger(__name__)  # type: ignore[assignment]

#: headline metrics, in the order of the task template's metric_list
HEADLINE_METRICS: tuple[str, ...] = (
    "question_accuracy",
    "question_accuracy_ci_low",
    "question_accuracy_ci_high",
    "pair_accuracy",
    "pair_accuracy_ci_low",
    "pair_accuracy_ci_high",
    "unreadable_rate",
    "incomplete_pairs",
)
#: per-visual-pattern pair accuracy metrics (None in the results where a pattern has no pair)
PATTERN_METRICS: tuple[str, ...] = tuple(f"pair_accuracy_{p}" for p in PATTERNS)
METRICS: tuple[str, ...] = HEADLINE_METRICS + PATTERN_METRICS


def process_docs(docs: Any) -> Any:
    """Check the contract columns of a split and add ``pair_size``."""
    missing = [c for c in REQUIRED_COLUMNS if c not in docs.column_names]
    if missing:
        raise ValueError(
            f"rsmmvp: the dataset lacks the column(s) {missing} of the RSMMVP contract "
            f"(has {docs.column_names}). Convert it with `rsmmvp build --raw ...` and check it with `rsmmvp validate`."
        )
    counts = Counter(str(p) for p in docs["pair_id"])
    sizes = [counts[str(p)] for p in docs["pair_id"]]
    if "pair_size" in docs.column_names:
        docs = docs.remove_columns("pair_size")
    return docs.add_column("pair_size", sizes)


def process_hub_docs(docs: Any) -> Any:
    """``process_docs`` of the full benchmark: hub layout -> contract -> :func:`process_docs`."""
    from rsmmvp_tasks.dataset.hub import HUB_REPO_ID
    from rsmmvp_tasks.dataset.loading import process_hub_docs as to_contract

    return process_docs(to_contract(docs, HUB_REPO_ID))


def process_results(doc: Mapping[str, Any], results: Sequence[str]) -> dict[str, dict[str, Any]]:
    """One record per question, the same under every metric key."""
    response = results[0] if results else ""
    pred = extract_choice(response or "", list(doc["options"]))
    record = {
        "index": int(doc["index"]),
        "pair_id": str(doc["pair_id"]),
        "pattern": str(doc["pattern"]),
        "pair_size": int(doc.get("pair_size") or 2),
        "answer": str(doc["answer"]),
        "pred": pred,
        "correct": pred is not None and pred == str(doc["answer"]),
    }
    return {name: record for name in METRICS}


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def aggregate_question_accuracy(items: list[Mapping[str, Any]]) -> float | None:
    return _nan_to_none(score(items, warn_incomplete=False).question_accuracy)


def aggregate_question_accuracy_ci_low(items: list[Mapping[str, Any]]) -> float | None:
    return _nan_to_none(score(items, warn_incomplete=False).question_accuracy_ci[0])


def aggregate_question_accuracy_ci_high(items: list[Mapping[str, Any]]) -> float | None:
    return _nan_to_none(score(items, warn_incomplete=False).question_accuracy_ci[1])


def aggregate_pair_accuracy(items: list[Mapping[str, Any]]) -> float | None:
    """Pair accuracy; also logs the incomplete-pair warning and the per-pattern table (once per run)."""
    scores: Scores = score(items, warn_incomplete=True)
    _log.info("rsmmvp pair accuracy per visual pattern:\n" + format_pattern_table(scores))
    return _nan_to_none(scores.pair_accuracy)


def aggregate_pair_accuracy_ci_low(items: list[Mapping[str, Any]]) -> float | None:
    return _nan_to_none(score(items, warn_incomplete=False).pair_accuracy_ci[0])


def aggregate_pair_accuracy_ci_high(items: list[Mapping[str, Any]]) -> float | None:
    return _nan_to_none(score(items, warn_incomplete=False).pair_accuracy_ci[1])


def aggregate_unreadable_rate(items: list[Mapping[str, Any]]) -> float | None:
    return _nan_to_none(score(items, warn_incomplete=False).unreadable_rate)


def aggregate_incomplete_pairs(items: list[Mapping[str, Any]]) -> int:
    return len(score(items, warn_incomplete=False).incomplete_pairs)


def _pattern_aggregator(pattern: str) -> Callable[[list[Mapping[str, Any]]], float | None]:
    def aggregate(items: list[Mapping[str, Any]]) -> float | None:
        n, acc = score(items, warn_incomplete=False).per_pattern.get(pattern, (0, math.nan))
        return _nan_to_none(acc) if n else None

    aggregate.__name__ = f"aggregate_pair_accuracy_{pattern}"
    aggregate.__doc__ = f"Pair accuracy over pairs of the visual pattern {PATTERNS[pattern]!r} (None if none)."
    return aggregate


for _pattern in PATTERNS:
    globals()[f"aggregate_pair_accuracy_{_pattern}"] = _pattern_aggregator(_pattern)

#: what task_yamls/rsmmvp/utils.py re-exports (every name a YAML may reference)
__all__ = ["METRICS", "process_docs", "process_hub_docs", "process_results"] + [f"aggregate_{m}" for m in METRICS]
