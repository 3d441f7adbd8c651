"""How numbers, patterns and tables are written in reports and boards (one place for all of them)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from rsmmvp_tasks.schema import PATTERNS

__all__ = ["pct", "interval", "ordered_patterns", "pattern_title", "md_escape", "md_table", "html_table", "html_page"]


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (``0.4444 -> "44.4%"``); ``"-"`` when missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100.0 * float(x):.{digits}f}%"


def interval(low: float | None, high: float | None, digits: int = 1) -> str:
    """``"[31.2, 58.0]"`` in percent; ``"-"`` when missing."""
    if low is None or high is None or any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        return "-"
    return f"[{100.0 * low:.{digits}f}, {100.0 * high:.{digits}f}]"


def ordered_patterns(names: Iterable[str]) -> list[str]:
    """Pattern names in the contract's order (:data:`~rsmmvp_tasks.schema.PATTERNS`), unknown ones after, sorted."""
    names = set(names)
    return [p for p in PATTERNS if p in names] + sorted(n for n in names if n not in PATTERNS)


def pattern_title(name: str) -> str:
    """The readable name of a pattern (MMVP's wording), or the name itself."""
    return PATTERNS.get(name, name)


#: characters :func:`md_escape` writes as entities (raw HTML) or backslash escapes (Markdown syntax)
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_SYNTAX = frozenset("\\`*[]|")


def md_escape(value: Any) -> str:
    """``value`` as inert Markdown text, on one line: what it says is shown, nothing it holds is markup.

    ``&``, ``<`` and ``>`` become entities (so ``<img src=x onerror=...>`` is shown, never rendered as
    HTML by a renderer that allows inline HTML); backslash, backtick, ``*``, ``[``, ``]`` and ``|`` are
    backslash-escaped (no code span, bold, link or image, and a table cell is not split); line breaks
    become spaces. ``_`` is kept (``rule_vlm`` stays readable; CommonMark does not emphasise inside a
    word). Safe in table cells, headings and running text.
    """
    text = " ".join(str(value).splitlines())
    return "".join(_MD_ENTITIES.get(c) or ("\\" + c if c in _MD_SYNTAX else c) for c in text)


def _md_cell(value: Any) -> str:
    text = " ".join(str(value).splitlines())
    return "".join(_MD_ENTITIES.get(c) or ("\\|" if c == "|" else c) for c in text)


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A markdown table; ``align`` is one letter per column, ``l`` or ``r`` (default: first left, others right).

    Every body cell goes through :func:`md_escape` (the header is the caller's own text): a model name or argument holding raw HTML or Markdown is shown, never
    rendered."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], css_class: str = "") -> str:
    """An HTML table, every cell escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    cls = f' class="{html.escape(css_class)}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}
td{font-variant-numeric:tabular-nums}.meta td:first-child{color:#666}.warn{background:#fff3cd;padding:.6rem;border-left:4px solid #e0a800}
img{max-width:100%}code{background:#f3f3f3;padding:0 .2rem}.reply{color:#555;font-size:.9em}
"""


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page (inline CSS, no external resource)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
            f"<body>\n{body}\n</body></html>\n")
