"""Option-order robustness: the ``rsmmvp_circular`` and ``rsmmvp_mini_circular`` tasks.

Every question is asked once per cyclic order of its options (two options: both orders, A/B and
B/A; *n* options: the *n* rotations, as in MMBench's CircularEval), and counts as right only when
every order leads to the same option and that option is the right one. A model that always answers
"A" gets no question right here (it picks a different option in each order); a model that reads
the image is unaffected. Pairs still score by ``pair_id``: a pair is right when all its questions are.

How (functions named by ``task_yamls/rsmmvp/rsmmvp*_circular.yaml``):

- :func:`process_docs` / :func:`process_hub_docs`: the plain task's hook (contract check,
  ``pair_size``, fingerprint of the original split), then :func:`expand_options`: each row once per
  option order, with the options in that order, the answer letter recomputed, a new unique
  ``index`` (``source_index * max_options + variant``) and the fields ``source_index`` (the
  original index), ``variant`` (0 = the original order) and ``option_order`` (for each shown
  position, the original position of its option). The copies of a question are adjacent, so
  ``--limit`` cuts at most one question short.
- :func:`process_results`: the plain task's record for the reply (answer reading, judge), plus those
  three fields, plus the ``position_bias_rate`` keys.
- :func:`metric_value`: :func:`collapse` the replies into one record per original question, then the
  plain task's :func:`~rsmmvp_tasks.evaluation.task.metric_value` -- so question and pair accuracy, intervals, standard
  errors, the per-pattern rows and the details are computed exactly as for the plain task. The
  collapsed ``pred`` is the option chosen in every order (original letter), ``None`` when a reply
  is unreadable, or the choices joined by ``/`` (e.g. ``"A/B"``, wrong) when the orders disagree.
  Two numbers are per reply, not per question: ``unreadable_rate`` (share of replies stating no
  single choice, as in the plain task) and its standard error.

Reported besides the plain task's metrics:

- ``position_bias_rate``: among the questions whose replies were all readable, the share whose
  chosen *letter* is the same in every order (1.0 for always-"A", 0.0 for a model that follows the
  options), with ``position_bias_rate_stderr``;
- the details' ``circular`` entry: ``{"orders", "questions", "replies", "consistent",
  "position_biased", "all_readable", "position_bias_rate", "incomplete_questions"}`` -- questions
  some of whose orders are missing from the run (``--limit``) are left out of every number and
  listed there, which also makes their pair incomplete.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rsmmvp_tasks.evaluation import task as plain
from rsmmvp_tasks.evaluation.results import DETAILS_METRIC
from rsmmvp_tasks.evaluation.scoring import clustered_stderr, mean_stderr
from rsmmvp_tasks.schema import letter_to_index, option_letters
from rsmmvp_tasks.values import float_or_none

__all__ = [
    "VARIANT_FIELDS",
    "POSITION_BIAS_METRIC",
    "METRICS",
    "is_circular",
    "metric_value",
    "option_orders",
    "expand_options",
    "process_docs",
    "process_hub_docs",
    "process_results",
    "Collapsed",
    "collapse",
    "question_records",
]

#: what each expanded row (and its record) carries besides the contract columns
VARIANT_FIELDS: tuple[str, ...] = ("source_index", "variant", "option_order")
POSITION_BIAS_METRIC = "position_bias_rate"
#: every metric of the circular tasks' metric_list: the plain task's, then the position bias
METRICS: tuple[str, ...] = plain.METRICS + (POSITION_BIAS_METRIC, f"{POSITION_BIAS_METRIC}_stderr")


def option_orders(n: int) -> list[list[int]]:
    """The ``n`` cyclic orders of ``n`` options; order ``k`` shows original option ``(j + k) % n`` at position ``j``.

    >>> option_orders(2)
    [[0, 1], [1, 0]]
    """
    if n < 2:
        raise ValueError(f"a question needs at least two options to be asked in several orders, got {n}")
    return [[(j + k) % n for j in range(n)] for k in range(n)]


def expand_options(docs: Any) -> Any:
    """Each row of a contract split once per option order (see the module docstring for the fields)."""
    for name in VARIANT_FIELDS:
        if name in docs.column_names:
            raise ValueError(f"rsmmvp circular: the split already has a {name!r} column; was it expanded twice?")
    options_col, answer_col, index_col = docs["options"], docs["answer"], docs["index"]
    width = max((len(o) for o in options_col), default=2)
    rows: list[int] = []
    new: dict[str, list[Any]] = {"index": [], "options": [], "answer": [], "source_index": [], "variant": [],
                                 "option_order": []}
    for i, (index, options, answer) in enumerate(zip(index_col, options_col, answer_col, strict=False)):
        letters = option_letters(len(options))
        right = letter_to_index(answer)
        if not 0 <= right < len(options):
            raise ValueError(f"rsmmvp circular: row index={index}: answer {answer!r} is not one of {letters}")
        for k, order in enumerate(option_orders(len(options))):
            rows.append(i)
            new["index"].append(int(index) * width + k)
            new["options"].append([options[j] for j in order])
            new["answer"].append(letters[order.index(right)])
            new["source_index"].append(int(index))
            new["variant"].append(k)
            new["option_order"].append(order)
    out = docs.select(rows).remove_columns(["index", "options", "answer"])
    for name, values in new.items():
        out = out.add_column(name, values)
    return out


def process_docs(docs: Any) -> Any:
    """The plain task's :func:`~rsmmvp_tasks.evaluation.task.process_docs`, then :func:`expand_options`."""
    return expand_options(plain.process_docs(docs))


def process_hub_docs(docs: Any) -> Any:
    """The full benchmark's hook: :func:`~rsmmvp_tasks.evaluation.task.process_hub_docs`, then :func:`expand_options`."""
    return expand_options(plain.process_hub_docs(docs))


# --------------------------------------------------------------------------- per reply


def _record_of(item: Any) -> Mapping[str, Any]:
    return item.record if isinstance(item, plain.RecordRef) else item


def process_results(doc: Mapping[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """The plain task's output for this reply, its record extended by :data:`VARIANT_FIELDS`, plus the position-bias keys."""
    out = plain.process_results(doc, results)
    extra = {
        "source_index": int(doc["source_index"]),
        "variant": int(doc["variant"]),
        "option_order": [int(j) for j in doc["option_order"]],
    }
    record = {**_record_of(out["question_accuracy"]), **extra}
    fingerprint = next((v.fingerprint for v in out.values() if isinstance(v, plain.RecordRef)), None)
    extended = {k: (plain.RecordRef(record, fingerprint, k) if isinstance(v, plain.RecordRef)
                    else record if isinstance(v, Mapping) else v)
                for k, v in out.items()}
    for name in (POSITION_BIAS_METRIC, f"{POSITION_BIAS_METRIC}_stderr"):
        extended[name] = plain.RecordRef(record, fingerprint, name)
    return extended


def is_circular(items: Sequence[Any]) -> bool:
    """Whether these items are replies of a circular task (their records carry :data:`VARIANT_FIELDS`)."""
    return bool(items) and all(name in _record_of(items[0]) for name in VARIANT_FIELDS)


# --------------------------------------------------------------------------- aggregation


@dataclass
class Collapsed:
    """Replies gathered into questions. ``items``: one per complete question, of the input's kind
    (a record, or a :class:`~rsmmvp_tasks.evaluation.task.RecordRef` when the input held those)."""

    items: list[Any] = field(default_factory=list)
    replies: list[Mapping[str, Any]] = field(default_factory=list)
    orders: int = 0
    consistent: int = 0
    all_readable: int = 0
    position_biased: list[bool] = field(default_factory=list)
    incomplete_questions: list[int] = field(default_factory=list)

    @property
    def position_bias_rate(self) -> float:
        return sum(self.position_biased) / len(self.position_biased) if self.position_biased else math.nan

    def summary(self) -> dict[str, Any]:
        """The details' ``circular`` entry."""
        rate = self.position_bias_rate
        return {
            "orders": self.orders,
            "questions": len(self.items),
            "replies": len(self.replies),
            "consistent": self.consistent,
            "position_biased": sum(self.position_biased),
            "all_readable": self.all_readable,
            "position_bias_rate": float_or_none(rate),
            "incomplete_questions": self.incomplete_questions,
        }


def _original_letter(pred: str | None, order: Sequence[int]) -> str | None:
    """The original letter of the option shown at ``pred``'s position (``None`` if unreadable)."""
    if pred is None:
        return None
    position = letter_to_index(pred)
    return option_letters(len(order))[order[position]]


def collapse(items: Sequence[Any]) -> Collapsed:
    """Gather the replies of a circular run into one record per original question (module docstring).

    Raises ``ValueError`` for a record without :data:`VARIANT_FIELDS` (a task whose ``process_docs``
    did not expand the options).
    """
    groups: dict[int, dict[int, Any]] = {}
    replies: dict[int, Mapping[str, Any]] = {}
    for item in items:
        record = _record_of(item)
        if any(name not in record for name in VARIANT_FIELDS):
            raise ValueError(
                "rsmmvp circular: a record without source_index/variant/option_order; the circular aggregations "
                "need rsmmvp_tasks.evaluation.circular.process_docs and process_results in the task YAML"
            )
        groups.setdefault(int(record["source_index"]), {}).setdefault(int(record["variant"]), item)
        replies.setdefault(int(record["index"]), record)
    out = Collapsed(replies=list(replies.values()))
    for source_index in sorted(groups):
        variants = groups[source_index]
        first = _record_of(next(iter(variants.values())))
        n = len(first["option_order"])
        out.orders = max(out.orders, n)
        if sorted(variants) != list(range(n)):
            out.incomplete_questions.append(source_index)
            continue
        records = [_record_of(variants[k]) for k in range(n)]
        shown = [r["pred"] for r in records]
        choices = [_original_letter(r["pred"], r["option_order"]) for r in records]
        answer = _original_letter(first["answer"], first["option_order"])
        if any(c is None for c in choices):
            pred = None
        else:
            out.all_readable += 1
            out.position_biased.append(len(set(shown)) == 1)
            if len(set(choices)) == 1:
                out.consistent += 1
                pred = choices[0]
            else:
                pred = "/".join(str(c) for c in choices)
        question = {
            "index": source_index,
            "pair_id": first["pair_id"],
            "pattern": first["pattern"],
            "pair_size": first["pair_size"],
            "answer": answer,
            "pred": pred,
            "correct": pred is not None and pred == answer,
            "variant_preds": shown,
        }
        item = variants[0]
        out.items.append(plain.RecordRef(question, item.fingerprint) if isinstance(item, plain.RecordRef) else question)
    return out


def question_records(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The per-question records of a samples file: a circular run's replies collapsed (:func:`collapse`), any
    other run's records as they are. Each collapsed record's ``reply`` joins its orders' replies and its
    ``prompt`` is the original order's (when given), so the question is still there to show."""
    records = [dict(r) for r in records]
    if not records or not all(all(name in r for name in VARIANT_FIELDS) for r in records):
        return records
    replies: dict[int, dict[int, str]] = {}
    prompts: dict[int, str] = {}
    for r in records:
        replies.setdefault(int(r["source_index"]), {})[int(r["variant"])] = str(r.get("reply", ""))
        if int(r["variant"]) == 0 and "prompt" in r:
            prompts[int(r["source_index"])] = str(r["prompt"])
    questions = [dict(q) for q in collapse(records).items]
    for q in questions:
        if any("reply" in r for r in records):
            by_order = replies[q["index"]]
            q["reply"] = "\n".join(f"[order {k}] {by_order[k]}" for k in sorted(by_order))
        if q["index"] in prompts:
            q["prompt"] = prompts[q["index"]]
    return questions



def aggregate_unreadable_rate(items: list[Any]) -> float | None:
    """Share of replies (all orders) stating no single choice."""
    replies = collapse(items).replies
    return float_or_none(sum(r["pred"] is None for r in replies) / len(replies)) if replies else None


def aggregate_unreadable_rate_stderr(items: list[Any]) -> float | None:
    """Standard error of the reply-level unreadable rate, clustered by pair."""
    replies = collapse(items).replies
    return float_or_none(clustered_stderr([float(r["pred"] is None) for r in replies], [r["pair_id"] for r in replies]))


def aggregate_position_bias_rate(items: list[Any]) -> float | None:
    """Share of questions (all replies readable) whose chosen letter is the same in every order."""
    return float_or_none(collapse(items).position_bias_rate)


def aggregate_position_bias_rate_stderr(items: list[Any]) -> float | None:
    """Standard error of the position-bias rate (questions as units)."""
    return float_or_none(mean_stderr([float(b) for b in collapse(items).position_biased]))


def aggregate_details(items: list[Any]) -> dict[str, Any]:
    """The plain task's details over the collapsed questions, with the reply-level unreadable rate,
    the ``circular`` entry and, when a judge was used, its ``judge`` entry over the replies."""
    from rsmmvp_tasks.evaluation.judge import summarize

    collapsed = collapse(items)
    details = dict(plain.aggregate_details(collapsed.items))
    details["unreadable_rate"] = aggregate_unreadable_rate(items)
    details["circular"] = collapsed.summary()
    judged = summarize(collapsed.replies)
    if judged is not None:
        details["judge"] = judged
    return details


_OWN: dict[str, Callable[[list[Any]], Any]] = {
    "unreadable_rate": aggregate_unreadable_rate,
    "unreadable_rate_stderr": aggregate_unreadable_rate_stderr,
    POSITION_BIAS_METRIC: aggregate_position_bias_rate,
    f"{POSITION_BIAS_METRIC}_stderr": aggregate_position_bias_rate_stderr,
    DETAILS_METRIC: aggregate_details,
}


def metric_value(metric: str, items: Sequence[Any]) -> Any:
    """The value of ``metric`` over a circular task's replies: the reply-level and position-bias metrics and the
    details here, every other metric the plain task's over the collapsed questions (every order right and the
    same option)."""
    if metric in _OWN:
        return _OWN[metric](list(items))
    return plain.metric_value(metric, collapse(items).items)
