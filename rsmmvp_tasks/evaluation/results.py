"""What an rsmmvp run records beyond lmms-eval's table, and the one reader of it.

Where things are in lmms-eval's ``<output_path>/<model>/<timestamp>_results.json``
-------------------------------------------------------------------------------------
``results.<task>`` holds, per metric, ``"<metric>,none"`` (lmms-eval appends the filter name):

- ``question_accuracy``, ``pair_accuracy``, ``unreadable_rate`` and one
  ``pair_accuracy_<pattern>`` per visual pattern present in the run: the printed table's rows;
- ``<metric>_stderr``: their standard errors, shown in the table's Stderr column;
- :data:`DETAILS_METRIC` (``rsmmvp_details_stderr``): the run's details as one JSON object (schema
  below). Its name ends in ``_stderr`` only so that lmms-eval 0.7.3 does not print it as a table
  row (its table, its W&B table and its group aggregation all treat ``*_stderr`` keys as
  companions of a metric, never as rows); it is not a standard error.

lmms-eval also writes ``<metric>_stderr_stderr``, ``*_stderr_clt`` and ``*_stderr_clustered`` keys
set to ``"N/A"`` for every metric; they mean nothing here.

The details (:func:`read_details` returns exactly this)::

    {"question_accuracy": {"value": float, "ci_low": float, "ci_high": float},
     "pair_accuracy": {"value": float, "ci_low": float, "ci_high": float},
     "unreadable_rate": float, "n_questions": int, "n_pairs": int, "incomplete_pairs": [pair_id, ...],
     "per_pattern": {pattern: {"pairs": int, "pair_accuracy": float, "ci_low": float, "ci_high": float}},
     "dataset_fingerprint": str, "rsmmvp_version": str,
     "scoring_version": str, "judge_prompt_version": str}

Intervals are 95% percentile bootstrap intervals over pairs (2000 draws, seed 0); ``n_pairs``
counts complete pairs; ``incomplete_pairs`` names the pairs with a question missing from the run
(``--limit``). A value that is undefined (no question, no complete pair) is ``None`` (JSON ``null``).
``per_pattern`` lists the patterns with at least one complete pair. ``dataset_fingerprint`` is
:func:`dataset_fingerprint` of the whole evaluated split (also under ``--limit``).

Optional entries (:data:`OPTIONAL_KEYS`, returned by :func:`read_details` when present): ``judge``
when an LLM judge read unreadable replies (:func:`rsmmvp_tasks.evaluation.judge.summarize`), and
``circular`` for the option-order tasks (:meth:`rsmmvp_tasks.evaluation.circular.Collapsed.summary`),
and ``lmms_eval_version``, the installed lmms-eval release (the results file's own ``lmms_eval_version``
is the git state of the folder lmms-eval ran in), ``records_digest`` (:func:`records_digest` of the scored
questions: what ties a samples file to its results), ``scoring_version`` (:data:`SCORING_VERSION`) and
``judge_prompt_version`` (:data:`rsmmvp_tasks.evaluation.judge.PROMPT_VERSION`, what a judge of this run
was asked with): with the task, the fingerprint, the model and the judge they make a run's identity
(:class:`rsmmvp_tasks.sharing.runs.RunIdentity`); runs written before they were recorded lack them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from rsmmvp_tasks.evaluation.scoring import Scores
from rsmmvp_tasks.values import float_or_none

__all__ = ["DETAILS_METRIC", "FINGERPRINT_FIELDS", "SCORING_VERSION", "dataset_fingerprint", "details_from_scores",
           "read_details", "records_digest"]

#: the results key (without lmms-eval's ``,none`` filter suffix) that holds the details
DETAILS_METRIC = "rsmmvp_details_stderr"

#: the version of how replies become scores (the answer reader, the pair rule, the metrics): runs scored under
#: different versions are not "the same model" on a board. Bump it whenever a change can move a score.
SCORING_VERSION = "2"

#: the row fields the fingerprint covers, in this order
FINGERPRINT_FIELDS: tuple[str, ...] = ("index", "question", "options", "answer")


def dataset_fingerprint(rows: Iterable[Mapping[str, Any]]) -> str:
    """sha256 (hex) of the rows' ``index``, ``question``, ``options`` and ``answer``, sorted by index.

    Each row contributes the compact JSON array ``[index, question, [options...], answer]`` (index
    an int, the rest strings, UTF-8, no ASCII escaping) and a newline. Images, pair ids and
    patterns are not covered: the fingerprint says which questions were asked with which right
    answers, so two runs with the same fingerprint were scored against the same key.
    """
    lines = sorted(
        (
            int(r["index"]),
            json.dumps(
                [int(r["index"]), str(r["question"]), [str(o) for o in (r["options"] or [])], str(r["answer"])],
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        )
        for r in rows
    )
    digest = hashlib.sha256()
    for _, line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()



def records_digest(records: Iterable[Mapping[str, Any]]) -> str:
    """sha256 (hex) of the scored questions: ``[index, pred]`` per question, sorted by index, one compact JSON
    array a line (a question recorded twice counts once). The details record it as ``records_digest``; a
    samples file belongs to a results file only if its records give the same digest (two runs with equal
    counts and accuracies but other answers are told apart)."""
    by_index = {}
    for r in records:
        by_index.setdefault(int(r["index"]), r.get("pred"))
    digest = hashlib.sha256()
    for index in sorted(by_index):
        pred = by_index[index]
        digest.update(json.dumps([index, None if pred is None else str(pred)], ensure_ascii=False,
                                 separators=(",", ":")).encode("utf-8") + b"\n")
    return digest.hexdigest()


def _rsmmvp_version() -> str:
    from rsmmvp_tasks import __version__

    return str(__version__)


def _lmms_eval_version() -> str | None:
    """The installed lmms-eval release (its results file records the git state of the cwd instead)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lmms-eval")
    except PackageNotFoundError:  # pragma: no cover - the tasks run inside lmms-eval
        return None


def _judge_prompt_version() -> str:
    from rsmmvp_tasks.evaluation.judge import PROMPT_VERSION

    return str(PROMPT_VERSION)


def details_from_scores(scores: Scores, fingerprint: str | None) -> dict[str, Any]:
    """The details object of a scored run (the schema in the module docstring)."""
    return {
        "question_accuracy": {
            "value": float_or_none(scores.question_accuracy),
            "ci_low": float_or_none(scores.question_accuracy_ci[0]),
            "ci_high": float_or_none(scores.question_accuracy_ci[1]),
        },
        "pair_accuracy": {
            "value": float_or_none(scores.pair_accuracy),
            "ci_low": float_or_none(scores.pair_accuracy_ci[0]),
            "ci_high": float_or_none(scores.pair_accuracy_ci[1]),
        },
        "unreadable_rate": float_or_none(scores.unreadable_rate),
        "n_questions": int(scores.n_questions),
        "n_pairs": int(scores.n_pairs),
        "incomplete_pairs": list(scores.incomplete_pairs),
        "per_pattern": {
            pattern: {
                "pairs": int(n),
                "pair_accuracy": float_or_none(acc),
                "ci_low": float_or_none(scores.per_pattern_ci.get(pattern, (math.nan, math.nan))[0]),
                "ci_high": float_or_none(scores.per_pattern_ci.get(pattern, (math.nan, math.nan))[1]),
            }
            for pattern, (n, acc) in scores.per_pattern.items()
        },
        "dataset_fingerprint": fingerprint or "",
        "rsmmvp_version": _rsmmvp_version(),
        "lmms_eval_version": _lmms_eval_version(),
        "scoring_version": SCORING_VERSION,
        "judge_prompt_version": _judge_prompt_version(),
    }


_KEYS = (
    "question_accuracy",
    "pair_accuracy",
    "unreadable_rate",
    "n_questions",
    "n_pairs",
    "incomplete_pairs",
    "per_pattern",
    "dataset_fingerprint",
    "rsmmvp_version",
)

#: entries present only in some runs (see the module docstring)
OPTIONAL_KEYS = ("judge", "circular", "lmms_eval_version", "scoring_version", "judge_prompt_version", "records_digest")


def read_details(results_json: dict[str, Any], task: str) -> dict[str, Any]:
    """The details of ``task`` in a parsed lmms-eval results file (schema: the module docstring).

    Raises ``KeyError`` naming what is missing: the task (``results.<task>``), or the details entry
    (a results file written by an rsmmvp version before the details existed, or not an rsmmvp task),
    or one of its keys.
    """
    per_task = results_json.get("results", {})
    if task not in per_task:
        raise KeyError(f"task {task!r} is not in this results file (it has {sorted(per_task)})")
    entry = per_task[task]
    key = next((k for k in entry if k.split(",", 1)[0] == DETAILS_METRIC), None)
    if key is None or not isinstance(entry[key], Mapping):
        raise KeyError(
            f"task {task!r} has no {DETAILS_METRIC!r} entry: not an rsmmvp task, or written by an rsmmvp "
            "version older than 0.2"
        )
    details = dict(entry[key])
    missing = [k for k in _KEYS if k not in details]
    if missing:
        raise KeyError(f"task {task!r}: the {DETAILS_METRIC!r} entry lacks {missing}")
    return {**{k: details[k] for k in _KEYS}, **{k: details[k] for k in OPTIONAL_KEYS if k in details}}
