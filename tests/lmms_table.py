"""Reading the results table lmms-eval prints (markdown, written by pytablewriter) back into rows."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def printed_rows(output: str, task_alias: str | None = None) -> list[dict[str, str]]:
    """The rows of the first results table in ``output`` (header ``| Tasks | Filter | ... |``).

    Each row maps the header's names to the stripped cell texts; unnamed columns (the arrow and the
    ``±``) are named ``_<position>``. ``task_alias`` keeps only that task's rows (continuation rows of
    a task repeat its alias in lmms-eval 0.7.3).
    """
    lines = [_ANSI.sub("", line) for line in output.splitlines()]
    start = next((i for i, line in enumerate(lines) if re.match(r"^\|\s*Tasks\s*\|", line)), None)
    if start is None:
        raise AssertionError("no results table in the output:\n" + output[-3000:])
    header = [c.strip() for c in lines[start].strip().strip("|").split("|")]
    names = [h or f"_{i}" for i, h in enumerate(header)]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        row = dict(zip(names, cells, strict=False))
        if task_alias is None or row.get("Tasks") == task_alias:
            rows.append(row)
    return rows


def as_number(cell: str) -> float | None:
    """A table cell as a float, ``None`` for ``N/A``."""
    return None if cell == "N/A" else float(cell)
