"""The rsmmvp tasks' metric list and their one aggregation function (what the task YAMLs name).

lmms-eval calls a metric's aggregation with that metric's items only. :func:`process_results
<rsmmvp_tasks.evaluation.task.process_results>` files each question under the metrics it belongs to
as a :class:`~rsmmvp_tasks.evaluation.task.RecordRef` that names its metric, so one function,
:func:`aggregate`, serves every metric (as MMStar's one aggregation serves its categories): it reads
the metric from the items, and the task kind from the records (a circular task's records carry the
option-order fields).

:data:`METRIC_LIST` is the template's ``metric_list`` (``metric_list: !function utils.metric_list``:
lmms-eval's ``!function`` tag imports any attribute): the headline metrics, one
``pair_accuracy_<pattern>`` per entry of :data:`rsmmvp_tasks.schema.PATTERNS`, their ``_stderr``
companions (shown in the Stderr column, after their metric: lmms-eval 0.7.3 aggregates in the order
the metrics are first returned and overwrites ``<m>_stderr`` when it aggregates ``<m>``), the
details, and ``position_bias_rate`` (+ ``_stderr``), which only the circular tasks return -- a metric
no question is filed under gets no row. So adding a visual pattern is one line in ``schema``.
"""

from __future__ import annotations

from typing import Any

from rsmmvp_tasks.evaluation import circular, task

__all__ = ["METRICS", "METRIC_LIST", "aggregate", "higher_is_better"]

#: every metric of the task template, in the order lmms-eval must see them
METRICS: tuple[str, ...] = task.METRICS + (circular.POSITION_BIAS_METRIC, f"{circular.POSITION_BIAS_METRIC}_stderr")


def higher_is_better(metric: str) -> bool:
    """Accuracies are better high; rates of unreadable or position-biased replies, standard errors and the
    details are not."""
    return metric.startswith(("question_accuracy", "pair_accuracy")) and not metric.endswith("_stderr")


def aggregate(items: list[Any]) -> Any:
    """The aggregation of every metric of the rsmmvp tasks (see the module docstring)."""
    metric = task.metric_of(items)
    if circular.is_circular(items):
        return circular.metric_value(metric, items)
    return task.metric_value(metric, items)


def _metric_list() -> list[dict[str, Any]]:
    return [{"metric": m, "aggregation": aggregate, "higher_is_better": higher_is_better(m)} for m in METRICS]


#: the template's ``metric_list``
METRIC_LIST: list[dict[str, Any]] = _metric_list()
