"""The functions lmms-eval calls for the rsmmvp tasks (named by ``task_yamls/rsmmvp/utils.py``).

- ``process_docs``: before any inference, checks the split against the contract
  (:func:`rsmmvp_tasks.dataset.validate.validate_dataset`, images not decoded) and refuses it with
  the list of violations (:class:`~rsmmvp_tasks.errors.DataViolationError`); adds ``pair_size``
  (rows per pair in the whole split, so pairs cut by ``--limit`` are detected as incomplete) and
  ``dataset_fingerprint`` (:func:`rsmmvp_tasks.evaluation.results.dataset_fingerprint` of the
  whole split, so a ``--limit`` run records the full split's fingerprint).
- ``process_hub_docs``: the full benchmark's hook; converts the hub layout of ``IVUlab/RSMMVP``
  into the contract, then as ``process_docs``.
- ``process_results``: reads the chosen letter with :func:`rsmmvp_tasks.evaluation.answers.extract_choice`
  (and, only when ``RSMMVP_JUDGE_*`` configure a judge and the rules read no choice, asks it:
  :mod:`rsmmvp_tasks.evaluation.judge`; the record then keeps ``pred_rules`` and ``pred_judge`` apart).
  Each question is routed to the metrics it belongs to: the headline metrics, their ``_stderr``
  companions, the details, and the ``pair_accuracy_<pattern>`` (+ ``_stderr``) of its own visual
  pattern only -- so a pattern absent from the run has no row in lmms-eval's table. The record
  (``index``, ``pair_id``, ``pattern``, ``pair_size``, ``answer``, ``pred``, ``correct``) is the value
  of ``question_accuracy``; every other key holds a :class:`RecordRef`, which carries the same
  record in memory (and through lmms-eval's gathering across ranks) but is written to the samples
  file as the short text :data:`RecordRef.TEXT`, so each samples line holds the record once.
- :func:`metric_value`: the value of any metric of the template over its items; the template's one
  aggregation function (:func:`rsmmvp_tasks.evaluation.aggregation.aggregate`, as MMStar's one
  aggregation serves its categories) reads which metric it is aggregating from the items and calls it.
  All metrics share one scoring per task and run: :func:`rsmmvp_tasks.evaluation.scoring.score` runs
  once per distinct set of records (a content-keyed cache, so two tasks in one process never share a
  result unless their records are identical), and logs the incomplete-pair warning and the
  per-pattern table once. Adding a visual pattern is one entry in :data:`rsmmvp_tasks.schema.PATTERNS`
  plus its ``pair_accuracy_<pattern>`` lines in the template's metric list (a test keeps them equal).

What a run shows: lmms-eval's printed table has ``question_accuracy``, ``pair_accuracy``,
``unreadable_rate`` and one ``pair_accuracy_<pattern>`` row per pattern present, each with its
standard error in the Stderr column; intervals, counts and the fingerprint are in the results JSON
(:mod:`rsmmvp_tasks.evaluation.results` says where and reads them).
"""

from __future__ import annotations

import logging
import math
from collections import Counter, OrderedDict
from typing import Any, Mapping, Sequence

from rsmmvp_tasks.errors import DataViolationError
from rsmmvp_tasks.evaluation.answers import extract_choice
from rsmmvp_tasks.evaluation.judge import judge_fields
from rsmmvp_tasks.evaluation.judge import summarize as summarize_judge
from rsmmvp_tasks.evaluation.results import DETAILS_METRIC, dataset_fingerprint, details_from_scores, records_digest
from rsmmvp_tasks.evaluation.scoring import QuestionResult, Scores, format_pattern_table, score
from rsmmvp_tasks.schema import PAIR_SIZE, PATTERNS, REQUIRED_COLUMNS
from rsmmvp_tasks.values import float_or_none

try:  # lmms-eval logs through loguru; its CLI shows nothing of stdlib logging below WARNING
    from loguru import logger as _log
except ImportError:  # pragma: no cover - loguru comes with lmms-eval
    _log = logging.getLogger(__name__)  # type: ignore[assignment]

#: the rows of lmms-eval's table, besides the per-pattern ones
HEADLINE_METRICS: tuple[str, ...] = ("question_accuracy", "pair_accuracy", "unreadable_rate")
#: per-visual-pattern pair accuracy; only the patterns present in a run get a row
PATTERN_METRICS: tuple[str, ...] = tuple(f"pair_accuracy_{p}" for p in PATTERNS)
#: standard errors: lmms-eval shows ``<metric>_stderr`` in the Stderr column of ``<metric>``'s row
STDERR_METRICS: tuple[str, ...] = tuple(f"{m}_stderr" for m in HEADLINE_METRICS + PATTERN_METRICS)
#: every metric of the task template's metric_list, in its order
METRICS: tuple[str, ...] = HEADLINE_METRICS + PATTERN_METRICS + STDERR_METRICS + (DETAILS_METRIC,)

#: contract violations that do not make a number wrong: warned about, not refused. The hub copy of a
#: benchmark may lack the pattern column (the per-pattern table then shows its pairs as unknown).
TOLERATED_VIOLATIONS = frozenset({"unknown_pattern"})
#: how many violations a refusal lists (the rest are counted)
_SHOWN_VIOLATIONS = 50
_REFUSALS_LOGGED: set[str] = set()


# --------------------------------------------------------------------------- before inference


def _checked_rows(docs: Any) -> list[dict[str, Any]]:
    """The split's rows without image columns, after refusing any contract violation."""
    missing = [c for c in REQUIRED_COLUMNS if c not in docs.column_names]
    if missing:
        raise DataViolationError(
            f"rsmmvp: the dataset lacks the column(s) {missing} of the RSMMVP contract "
            f"(has {docs.column_names}). Convert it with `rsmmvp build --raw ...` and check it with `rsmmvp validate`."
        )
    import datasets

    from rsmmvp_tasks.dataset.validate import validate_dataset

    images = [c for c in docs.column_names if c == "image" or isinstance(docs.features[c], datasets.Image)]
    rows = docs.remove_columns(images).to_list()
    report = validate_dataset(rows, pair_size=PAIR_SIZE, check_images=False)
    # the columns were checked above: a missing_column here is only an image column left out of this view
    violations = [v for v in report.violations if v.code != "missing_column"]
    refused = [v for v in violations if v.code not in TOLERATED_VIOLATIONS]
    tolerated = [v for v in violations if v.code in TOLERATED_VIOLATIONS]
    if tolerated:
        _log.warning(
            f"rsmmvp: {len(tolerated)} row(s) break the contract in a way that does not change the scores "
            f"({sorted({v.code for v in tolerated})}); e.g. {tolerated[0].format()}"
        )
    if refused:
        shown = "\n".join("  " + v.format() for v in refused[:_SHOWN_VIOLATIONS])
        more = f"\n  ... and {len(refused) - _SHOWN_VIOLATIONS} more" if len(refused) > _SHOWN_VIOLATIONS else ""
        message = (
            f"rsmmvp: the dataset breaks the RSMMVP contract in {len(refused)} place(s); nothing was evaluated, "
            f"since its scores would be wrong. Fix the data (see `rsmmvp validate`, which lists the same "
            f"violations) and run again:\n{shown}{more}"
        )
        # lmms-eval retries the dataset download (and so this check) up to 5 times, then reports only
        # "RetryError[... DataViolationError]": log the list itself, once per process
        if message not in _REFUSALS_LOGGED:
            _REFUSALS_LOGGED.add(message)
            _log.error(message)
        raise DataViolationError(message)
    return rows


def process_docs(docs: Any) -> Any:
    """Refuse a split that breaks the contract; add ``pair_size`` and ``dataset_fingerprint``."""
    rows = _checked_rows(docs)
    counts = Counter(str(r["pair_id"]) for r in rows)
    fingerprint = dataset_fingerprint(rows)
    for column in ("pair_size", "dataset_fingerprint"):
        if column in docs.column_names:
            docs = docs.remove_columns(column)
    docs = docs.add_column("pair_size", [counts[str(r["pair_id"])] for r in rows])
    return docs.add_column("dataset_fingerprint", [fingerprint] * len(rows))


def process_hub_docs(docs: Any) -> Any:
    """``process_docs`` of the full benchmark: hub layout -> contract -> :func:`process_docs`."""
    from rsmmvp_tasks.dataset.hub import HUB_REPO_ID
    from rsmmvp_tasks.dataset.loading import process_hub_docs as to_contract

    return process_docs(to_contract(docs, HUB_REPO_ID))


# --------------------------------------------------------------------------- per question


class RecordRef(str):
    """A question's record, written to the samples file as :data:`TEXT` only.

    lmms-eval writes every key ``process_results`` returns into the sample's line; the record goes
    there once (under ``question_accuracy``), every other metric gets one of these. It is a ``str``
    so every serializer lmms-eval uses writes it as that text, and it pickles with its payload, so
    the aggregations on rank 0 see the full record after lmms-eval gathers the ranks.
    """

    TEXT = "see question_accuracy"

    record: dict[str, Any]
    fingerprint: str | None
    #: the metric this reference is filed under (what the one aggregation function reads)
    metric: str

    def __new__(cls, record: Mapping[str, Any], fingerprint: str | None = None, metric: str = "") -> "RecordRef":
        self = super().__new__(cls, cls.TEXT)
        self.record = dict(record)
        self.fingerprint = fingerprint
        self.metric = metric
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (RecordRef, (self.record, self.fingerprint, self.metric))


def metric_of(items: Sequence[Any]) -> str:
    """The metric a list of items belongs to: the ``metric`` of its :class:`RecordRef` items; plain records are
    ``question_accuracy``'s (the one metric whose value is the record itself)."""
    for item in items:
        if isinstance(item, RecordRef) and item.metric:
            return item.metric
    return "question_accuracy"


def process_results(doc: Mapping[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """The question's record under ``question_accuracy``, a :class:`RecordRef` under its other metrics.

    Order matters to lmms-eval 0.7.3: it aggregates metrics in the order they were first returned,
    and aggregating ``<m>`` overwrites ``<m>_stderr`` with "N/A"; so every ``_stderr`` key comes
    after its metric.
    """
    response = results[0] if results else ""
    pred = extract_choice(response or "", list(doc["options"]))
    # only with RSMMVP_JUDGE_* set, and only for a reply the rules cannot read (rsmmvp_tasks.evaluation.judge)
    pred, judged = judge_fields(str(doc.get("question", "")), list(doc["options"]), response or "", pred)
    record = {
        "index": int(doc["index"]),
        "pair_id": str(doc["pair_id"]),
        "pattern": str(doc["pattern"]),
        "pair_size": int(doc.get("pair_size") or PAIR_SIZE),
        "answer": str(doc["answer"]),
        "pred": pred,
        "correct": pred is not None and pred == str(doc["answer"]),
        **judged,
    }
    fingerprint = doc.get("dataset_fingerprint")
    pattern_metric = f"pair_accuracy_{record['pattern']}"
    routed = ["pair_accuracy", "unreadable_rate"]
    if pattern_metric in PATTERN_METRICS:
        routed.append(pattern_metric)
    names = [*routed, *(f"{name}_stderr" for name in ["question_accuracy", *routed]), DETAILS_METRIC]
    return {"question_accuracy": record, **{name: RecordRef(record, fingerprint, name) for name in names}}


# --------------------------------------------------------------------------- aggregation


def _question(item: Any) -> QuestionResult:
    return QuestionResult.from_mapping(item.record if isinstance(item, RecordRef) else item)


#: (kind, records) -> Scores; kind is "run" (all records of a task) or "pattern:<p>" (one pattern's)
_CACHE: "OrderedDict[tuple[str, frozenset[QuestionResult]], Scores]" = OrderedDict()
_CACHE_SIZE = 64


def _remember(key: tuple[str, frozenset[QuestionResult]], scores: Scores) -> None:
    _CACHE[key] = scores
    _CACHE.move_to_end(key)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def reset_caches() -> None:
    """Forget every cached scoring and every logged refusal (for a long-lived process, or a test that counts
    scorings): the next aggregation scores from scratch."""
    _CACHE.clear()
    _REFUSALS_LOGGED.clear()


def _scores_of_run(items: Sequence[Any]) -> Scores:
    """Scores of a task's records, computed once per distinct set of records (then cached).

    The first computation also logs the incomplete-pair warning and the per-pattern table, and
    files each pattern's records, so the ``pair_accuracy_<pattern>`` aggregations (which see only
    their pattern's records) reuse this scoring.
    """
    questions = [_question(x) for x in items]
    key = ("run", frozenset(questions))
    if key in _CACHE:
        return _CACHE[key]
    scores = score(questions, warn_incomplete=True)
    _log.info("rsmmvp pair accuracy per visual pattern:\n" + format_pattern_table(scores))
    _remember(key, scores)
    by_pattern: dict[str, set[QuestionResult]] = {}
    for q in questions:
        by_pattern.setdefault(q.pattern, set()).add(q)
    for pattern, subset in by_pattern.items():
        _remember((f"pattern:{pattern}", frozenset(subset)), scores)
    return scores


def _scores_of_pattern(items: Sequence[Any], pattern: str) -> Scores:
    """Scores holding ``pattern``'s pair accuracy: the run's (cached), or these records' own."""
    questions = [_question(x) for x in items]
    key = (f"pattern:{pattern}", frozenset(questions))
    if key not in _CACHE:  # not seen as part of a run yet: score these records alone (same numbers)
        _remember(key, score(questions, warn_incomplete=False))
    return _CACHE[key]



def metric_value(metric: str, items: Sequence[Any]) -> Any:
    """The value of ``metric`` (any name of :data:`METRICS`) over a task's items (records or :class:`RecordRef`).

    ``question_accuracy``: share of questions answered right (an unreadable reply is wrong);
    ``pair_accuracy``: share of complete pairs with every question right; ``unreadable_rate``: share of
    replies stating no single choice; ``pair_accuracy_<pattern>``: pair accuracy over that pattern's complete
    pairs (``None`` if none); ``<metric>_stderr``: its standard error (question-level rates clustered by pair,
    pairs independent); :data:`DETAILS_METRIC`: :func:`aggregate_details`. Undefined values are ``None``.
    """
    if metric == DETAILS_METRIC:
        return aggregate_details(items)
    base, se = (metric[: -len("_stderr")], True) if metric.endswith("_stderr") else (metric, False)
    if base in HEADLINE_METRICS:
        return float_or_none(getattr(_scores_of_run(items), f"{base}_se" if se else base))
    if base in PATTERN_METRICS:
        pattern = base[len("pair_accuracy_"):]
        scores = _scores_of_pattern(items, pattern)
        if se:
            return float_or_none(scores.per_pattern_se.get(pattern, math.nan))
        n, acc = scores.per_pattern.get(pattern, (0, math.nan))
        return float_or_none(acc) if n else None
    raise KeyError(f"rsmmvp: {metric!r} is not a metric of the rsmmvp task template ({', '.join(METRICS)})")


def aggregate_details(items: list[Any]) -> dict[str, Any]:
    """The run's details (intervals, counts, incomplete pairs, fingerprint).

    Schema: :mod:`rsmmvp_tasks.evaluation.results`.
    """
    fingerprints = {x.fingerprint for x in items if isinstance(x, RecordRef) and x.fingerprint}
    if len(fingerprints) > 1:  # pragma: no cover - one task evaluates one split
        raise ValueError(f"rsmmvp: one run mixes records of several datasets {sorted(fingerprints)}")
    details = details_from_scores(_scores_of_run(items), next(iter(fingerprints), None))
    details["records_digest"] = records_digest(x.record if isinstance(x, RecordRef) else x for x in items)
    judge = summarize_judge(x.record if isinstance(x, RecordRef) else x for x in items)
    if judge is not None:  # a judge read some replies: say which, how many, and the rate before it
        details["judge"] = judge
        _log.info(
            f"rsmmvp judge {judge['model']}: {judge['judged']} unreadable repl(ies) judged ({judge['answered']} read, "
            f"{judge['none']} no choice, {judge['unreadable']} unreadable verdicts, {judge['failed']} failed); "
            f"unreadable rate {judge['unreadable_rate_before']:.4f} before, {judge['unreadable_rate_after']:.4f} after"
        )
    return details


#: what task_yamls/rsmmvp/utils.py re-exports (every name a YAML may reference)
__all__ = ["METRICS", "RecordRef", "metric_of", "metric_value", "process_docs", "process_hub_docs", "process_results",
           "reset_caches"]
