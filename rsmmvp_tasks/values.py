"""Missing cell values, one definition for every module that reads tables.

A table cell is *missing* when it is ``None``, a float NaN (what pandas puts in an empty numeric
cell), or pandas' ``NA`` / ``NaT``. An empty string is *not* missing: it is text that happens to be
empty, and callers that treat both alike use :func:`text_or_empty`.

- :func:`is_missing` — the test itself;
- :func:`none_if_missing` — the value, or ``None`` when missing;
- :func:`text_or_empty` — the value as stripped text, ``""`` when missing;
- :func:`float_or_none` — a number as ``float``, ``None`` when missing (JSON has no NaN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["first_few", "is_missing", "none_if_missing", "text_or_empty", "float_or_none"]


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing cell: ``None``, a float NaN (numpy or Python), ``pd.NA`` or ``NaT``.

    >>> is_missing(None), is_missing(float("nan")), is_missing(""), is_missing(0)
    (True, True, False, False)
    """
    if value is None:
        return True
    if isinstance(value, float):  # also numpy.float64, a float subclass
        return math.isnan(value)
    kind = type(value).__name__
    if kind in ("NAType", "NaTType"):  # pandas.NA, pandas.NaT, without importing pandas
        return True
    if kind.startswith("float") and hasattr(value, "dtype"):  # numpy.float32/float16 scalars
        return bool(value != value)
    return False


def none_if_missing(value: Any) -> Any:
    """``value``, or ``None`` when :func:`is_missing` says it is missing."""
    return None if is_missing(value) else value


def text_or_empty(value: Any) -> str:
    """``value`` as stripped text; ``""`` when it is missing."""
    return "" if is_missing(value) else str(value).strip()


def float_or_none(value: Any) -> float | None:
    """``value`` as a ``float``; ``None`` when it is missing (what results files write for NaN)."""
    return None if is_missing(value) else float(value)


def first_few(items: Sequence[Any], n: int) -> str:
    """The first ``n`` items joined by ``", "``, then ``", ... (+k more)"`` when ``k`` more were left out (for messages)."""
    more = f", ... (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(map(str, items[:n])) + more
