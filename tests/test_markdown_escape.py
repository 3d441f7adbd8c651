"""Markdown written for people (leaderboard.md, report.md) never carries raw HTML or markup from the data."""

from __future__ import annotations

from rsmmvp_tasks.sharing.formatting import md_escape, md_table

HOSTILE = "<img src=x onerror=alert(1)> [click](javascript:x) `code` | **bold**"


def test_md_table_never_holds_raw_html_or_splits_a_cell() -> None:
    table = md_table(["model", "pair accuracy"], [[HOSTILE, "50.0"]])
    assert "<img" not in table and "&lt;img src=x onerror=alert(1)&gt;" in table
    assert table.splitlines()[2].count(" | ") == 1  # the | in the cell does not split it


def test_md_escape_leaves_no_markup() -> None:
    text = md_escape(HOSTILE)
    assert "<img" not in text and "\\](javascript" in text and "\\`code\\`" in text and "\\*\\*bold\\*\\*" in text
