"""``rsmmvp report``: one run's numbers, per-pattern table, chart and (with samples) the pairs it got wrong.

Writes into ``DIR``:

- ``report.md`` — headline numbers with 95% intervals, the run's identity (model, args, task, date,
  versions, dataset fingerprint), the per-pattern table with pair counts, and, when the samples
  were logged, every pair the model got wrong, per pattern, with its replies;
- ``per_pattern.csv`` — the per-pattern table (spreadsheet-safe);
- ``per_pattern.png`` — pair accuracy per pattern with interval whiskers, human and chance lines;
- ``report.html`` — the same as ``report.md`` in one self-contained page (the chart embedded).

A run that does not measure the whole dataset (``--limit``, incomplete pairs) is reported with a
warning at the top, never silently.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.fileio import atomic_write_bytes, atomic_write_text, write_csv_safe
from rsmmvp_tasks.sharing.formatting import (
    html_page,
    html_table,
    interval,
    md_table,
    ordered_patterns,
    pattern_title,
    pct,
)
from rsmmvp_tasks.sharing.plots import CHANCE, HUMAN, pattern_bars
from rsmmvp_tasks.sharing.runs import PairOutcome, Run

__all__ = ["ReportFiles", "pattern_rows", "write_report"]

#: longest reply shown in the list of wrong pairs
REPLY_CHARS = 160


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    csv: Path
    png: Path
    html: Path


def pattern_rows(run: Run) -> list[dict[str, Any]]:
    """One row per visual pattern of the run: pairs, pair accuracy, interval (and wrong pairs with samples)."""
    per_pattern = run.details.get("per_pattern") or {}
    wrong: dict[str, int] = {}
    for p in run.wrong_pairs():
        wrong[p.pattern] = wrong.get(p.pattern, 0) + 1
    rows = []
    for name in ordered_patterns(per_pattern):
        entry = per_pattern[name]
        row = {"pattern": name, "description": pattern_title(name), "pairs": int(entry.get("pairs") or 0),
               "pair_accuracy": entry.get("pair_accuracy"), "ci_low": entry.get("ci_low"),
               "ci_high": entry.get("ci_high")}
        if run.pairs is not None:
            row["wrong_pairs"] = wrong.get(name, 0)
        rows.append(row)
    return rows


def _headline_rows(run: Run) -> list[tuple[str, str, str]]:
    d = run.details
    q, p = d.get("question_accuracy") or {}, d.get("pair_accuracy") or {}
    return [
        ("pair accuracy (headline)", pct(p.get("value")), interval(p.get("ci_low"), p.get("ci_high"))),
        ("question accuracy", pct(q.get("value")), interval(q.get("ci_low"), q.get("ci_high"))),
        ("unreadable replies", pct(d.get("unreadable_rate")), ""),
        ("pairs / questions", f"{d.get('n_pairs')} / {d.get('n_questions')}", ""),
    ]


def _meta_rows(run: Run) -> list[tuple[str, str]]:
    return [
        ("model", run.model), ("model args", run.shown_args or "-"),
        ("task", run.task), ("date", run.date),
        ("lmms-eval version", run.lmms_eval_version or "-"), ("rsmmvp version", run.rsmmvp_version or "-"),
        ("dataset fingerprint", run.dataset_fingerprint or "-"), ("results file", run.source),
        ("samples file", run.samples_source or "- (run lmms-eval with --log_samples to list the wrong pairs)"),
    ]


def _short(reply: str) -> str:
    text = " ".join(str(reply).split())
    return text if len(text) <= REPLY_CHARS else text[: REPLY_CHARS - 1] + "\u2026"


def _question_rows(pair: PairOutcome) -> list[tuple[str, str, str, str, str, str]]:
    question = _short(pair.question)
    return [(pair.pair_id, question if n == 0 else "", str(q["index"]), q["answer"],
             q["pred"] if q["pred"] is not None else "unreadable", _short(q.get("reply", "")))
            for n, q in enumerate(pair.questions)]


def _wrong_by_pattern(run: Run) -> dict[str, list[PairOutcome]]:
    groups: dict[str, list[PairOutcome]] = {}
    for p in run.wrong_pairs():
        groups.setdefault(p.pattern, []).append(p)
    return {name: groups[name] for name in ordered_patterns(groups)}


def _pairs_per_pattern(run: Run) -> dict[str, int]:
    return {k: int(v.get("pairs") or 0) for k, v in (run.details.get("per_pattern") or {}).items()}


_WRONG_HEADER = ("pair", "question", "row", "answer", "read as", "reply")


def _markdown(run: Run, rows: list[dict[str, Any]], human: float | None) -> str:
    out = [f"# RSMMVP report: {run.label} on {run.task}", ""]
    for problem in run.problems():
        out.append(f"> **Warning:** {problem}. These numbers do not measure the whole dataset.")
    if out[-1]:
        out.append("")
    out += [md_table(("", "value", "95% interval"), _headline_rows(run)), ""]
    refs = [f"human {human:g}% (RSMMVP paper)"] if human is not None else []
    out += [f"Reference pair accuracy: {', '.join(refs + [f'chance {CHANCE:g}% (two two-option questions)'])}.",
            "Intervals: 95% percentile bootstrap over pairs.", ""]
    out += [md_table(("run", ""), _meta_rows(run), "ll"), "", "## Pair accuracy per visual pattern", ""]
    header = ["visual pattern", "pairs", "pair accuracy", "95% interval"] + (["wrong pairs"] if run.pairs is not None else [])
    out.append(md_table(header, ([r["description"], r["pairs"], pct(r["pair_accuracy"]), interval(r["ci_low"], r["ci_high"])]
                                 + ([r["wrong_pairs"]] if "wrong_pairs" in r else []) for r in rows)))
    out += ["", "![pair accuracy per visual pattern](per_pattern.png)", ""]
    if run.pairs is not None:
        groups = _wrong_by_pattern(run)
        out += ["## Pairs the model got wrong", ""]
        if not groups:
            out += ["None: every complete pair is right.", ""]
        totals = _pairs_per_pattern(run)
        for name, pairs in groups.items():
            out += [f"### {pattern_title(name)} ({len(pairs)} of {totals.get(name, len(pairs))} pairs wrong)", ""]
            out += [md_table(_WRONG_HEADER, [r for p in pairs for r in _question_rows(p)], "llrlll"), ""]
    return "\n".join(out).rstrip() + "\n"


def _html(run: Run, rows: list[dict[str, Any]], png: bytes, human: float | None) -> str:
    parts = [f"<h1>RSMMVP report: {html.escape(run.label)} on {html.escape(run.task)}</h1>"]
    for problem in run.problems():
        parts.append(f'<p class="warn"><b>Warning:</b> {html.escape(problem)}. '
                     "These numbers do not measure the whole dataset.</p>")
    parts.append(html_table(("", "value", "95% interval"), _headline_rows(run)))
    ref = f"human {human:g}% (RSMMVP paper), " if human is not None else ""
    parts.append(f"<p>Reference pair accuracy: {html.escape(ref)}chance {CHANCE:g}%. "
                 "Intervals: 95% percentile bootstrap over pairs.</p>")
    parts.append(html_table(("run", ""), _meta_rows(run), "meta"))
    parts.append("<h2>Pair accuracy per visual pattern</h2>")
    header = ["visual pattern", "pairs", "pair accuracy", "95% interval"] + (["wrong pairs"] if run.pairs is not None else [])
    parts.append(html_table(header, ([r["description"], r["pairs"], pct(r["pair_accuracy"]), interval(r["ci_low"], r["ci_high"])]
                                     + ([r["wrong_pairs"]] if "wrong_pairs" in r else []) for r in rows)))
    parts.append(f'<img alt="pair accuracy per visual pattern" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    if run.pairs is not None:
        parts.append("<h2>Pairs the model got wrong</h2>")
        groups = _wrong_by_pattern(run)
        if not groups:
            parts.append("<p>None: every complete pair is right.</p>")
        totals = _pairs_per_pattern(run)
        for name, pairs in groups.items():
            parts.append(f"<h3>{html.escape(pattern_title(name))} ({len(pairs)} of {totals.get(name, len(pairs))} pairs wrong)</h3>")
            parts.append(html_table(_WRONG_HEADER, [r for p in pairs for r in _question_rows(p)], "wrong"))
    return html_page(f"RSMMVP report: {run.label}", "\n".join(parts))


def write_report(run: Run, out_dir: str | Path, *, human: float | None = HUMAN) -> ReportFiles:
    """Write the four report files of ``run`` into ``out_dir`` (created); ``human=None`` drops that line."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = pattern_rows(run)
    p = run.details.get("pair_accuracy") or {}
    labels = [r["description"] + f" ({r['pairs']})" for r in rows] + [f"All ({run.details.get('n_pairs')})"]
    png = pattern_bars(
        labels,
        [r["pair_accuracy"] for r in rows] + [p.get("value")],
        [r["ci_low"] for r in rows] + [p.get("ci_low")],
        [r["ci_high"] for r in rows] + [p.get("ci_high")],
        title=f"{run.label} on {run.task}: pair accuracy per visual pattern (95% intervals)",
        human=human,
    )
    files = ReportFiles(out / "report.md", out / "per_pattern.csv", out / "per_pattern.png", out / "report.html")
    atomic_write_bytes(files.png, png)
    columns = ["pattern", "description", "pairs", "pair_accuracy", "ci_low", "ci_high"]
    write_csv_safe(files.csv, rows, columns=columns + (["wrong_pairs"] if run.pairs is not None else []))
    atomic_write_text(files.markdown, _markdown(run, rows, human))
    atomic_write_text(files.html, _html(run, rows, png, human))
    return files
