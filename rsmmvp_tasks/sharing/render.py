"""``rsmmvp leaderboard render``: a board as markdown, CSV, a heat map and a static web page.

Writes into ``DIR``:

- ``leaderboard.md`` — the ranked table (pair and question accuracy with 95% intervals, unreadable
  rate, pairs, date, versions), pair accuracy per visual pattern, the significant differences, and
  the board's notes (runs kept although partial are marked with a dagger);
- ``leaderboard.csv`` — one row per model, every number of the table plus one column per pattern;
- ``per_pattern_heatmap.png`` — pair accuracy per model and visual pattern;
- ``index.html`` — one self-contained page (no network: works from ``file://`` and any static host)
  with a sortable table, per-pattern bar charts with the human and chance lines, the pairwise
  significance matrix and the heat map, drawn from ``leaderboard_template.html``.

Significance: McNemar's exact test on pair outcomes, Holm-adjusted over all pairwise comparisons of
the board (:func:`rsmmvp_tasks.sharing.board.pairwise`); runs without samples are left out of it.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.fileio import atomic_write_bytes, atomic_write_text, write_csv_safe
from rsmmvp_tasks.pages import render_page
from rsmmvp_tasks.sharing.board import Board, pairwise
from rsmmvp_tasks.sharing.formatting import interval, md_table, pattern_title, pct
from rsmmvp_tasks.sharing.plots import CHANCE, HUMAN, heat_map
from rsmmvp_tasks.sharing.stats import ALPHA

__all__ = ["RenderFiles", "render_board", "page_data", "DATA_PLACEHOLDER"]

#: where the board's JSON goes in ``leaderboard_template.html``
DATA_PLACEHOLDER = "__RSMMVP_BOARD_DATA__"
TEMPLATE_NAME = "leaderboard_template.html"
HEAT_MAP_NAME = "per_pattern_heatmap.png"


@dataclass(frozen=True)
class RenderFiles:
    markdown: Path
    csv: Path
    heat_map: Path
    html: Path


def _marked(row: dict[str, Any]) -> str:
    return row["label"] + (" \u2020" if row["caveats"] else "")


def _pattern_value(row: dict[str, Any], pattern: str) -> float | None:
    entry = (row["per_pattern"] or {}).get(pattern) or {}
    return entry.get("pair_accuracy") if entry.get("pairs") else None


def _pattern_counts(board: Board) -> dict[str, int]:
    """Pairs per pattern (the most any row has: equal on a board of one dataset)."""
    return {p: max(int(((r["per_pattern"] or {}).get(p) or {}).get("pairs") or 0) for r in board.rows)
            for p in board.patterns}


def _heat_map_png(board: Board) -> bytes:
    counts = _pattern_counts(board)
    columns = [f"{pattern_title(p)} ({counts[p]})" for p in board.patterns] + ["All"]
    values = [[_pattern_value(r, p) for p in board.patterns] + [r["pair_accuracy"].get("value")] for r in board.rows]
    return heat_map([f"{i}. {r['label']}" for i, r in enumerate(board.rows, start=1)], columns, values,
                    title="Pair accuracy (%) per model and visual pattern")


def _markdown(board: Board, comparisons: list[dict[str, Any]], human: float | None) -> str:
    refs = (f"human {human:g}%, " if human is not None else "") + f"chance {CHANCE:g}%"
    intro = (f"{len(board.rows)} model(s) on the dataset with fingerprint `{board.dataset_fingerprint or 'not recorded'}`; "
             f"collected {board.created} by {board.made_by}. Pair accuracy counts a pair only when both of its "
             f"questions are right ({refs}); intervals are 95% bootstrap intervals over pairs.")
    out = ["# RSMMVP leaderboard", "", intro, ""]
    multi_task = len({r["task"] for r in board.rows}) > 1
    header = ["#", "model"] + (["task"] if multi_task else []) + [
        "pair accuracy", "95% interval", "question accuracy", "95% interval", "unreadable", "pairs", "date",
        "lmms-eval", "rsmmvp"]
    table = []
    for i, r in enumerate(board.rows, start=1):
        pa, qa = r["pair_accuracy"], r["question_accuracy"]
        table.append([i, _marked(r)] + ([r["task"]] if multi_task else []) + [
            pct(pa.get("value")), interval(pa.get("ci_low"), pa.get("ci_high")), pct(qa.get("value")),
            interval(qa.get("ci_low"), qa.get("ci_high")), pct(r["unreadable_rate"]), r["n_pairs"], r["date"],
            r["lmms_eval_version"] or "-", r["rsmmvp_version"] or "-"])
    out += [md_table(header, table, "rl" + "l" * multi_task + "rrrrrrlll"), ""]
    counts = _pattern_counts(board)
    out += ["## Pair accuracy per visual pattern", "",
            md_table(["model"] + [f"{pattern_title(p)} ({counts[p]})" for p in board.patterns],
                     [[f"{i}. {_marked(r)}"] + [pct(_pattern_value(r, p)) for p in board.patterns]
                      for i, r in enumerate(board.rows, start=1)]),
            "", f"![pair accuracy per model and visual pattern]({HEAT_MAP_NAME})", "",
            "## Which differences are real", ""]
    if not comparisons:
        out += ["Needs the per-pair outcomes (lmms-eval `--log_samples`) of at least two runs.", ""]
    else:
        method = (f"Paired on the pairs both runs answered: McNemar's exact test on the pairs one model got right and "
                  f"the other wrong (p, and Holm-adjusted over the {len(comparisons)} comparisons), and the 95% paired-"
                  f"bootstrap interval of the difference. Significant: Holm p < {ALPHA:g}.")
        out += [method, ""]
        rows = []
        for c in comparisons:
            a, b = board.rows[c["a"]], board.rows[c["b"]]
            rows.append([f"{c['a'] + 1}. {a['label']}", f"{c['b'] + 1}. {b['label']}",
                         f"{100 * c['difference']:+.1f}", f"[{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}]",
                         f"{c['only_a']} / {c['only_b']}", f"{c['p_value']:.3g}", f"{c['p_holm']:.3g}",
                         "yes" if c["significant"] else "no"])
        out += [md_table(["A", "B", "A - B (points)", "95% interval", "A only / B only right", "p", "p (Holm)",
                          "significant"], rows, "llrrrrrl"), ""]
    notes = [f"\u2020 {r['label']}: {c}" for r in board.rows for c in r["caveats"]] + list(board.notes)
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out).rstrip() + "\n"


def _csv_rows(board: Board) -> tuple[list[dict[str, Any]], list[str]]:
    columns = ["rank", "label", "model", "model_args", "task", "pair_accuracy", "pair_accuracy_ci_low",
               "pair_accuracy_ci_high", "question_accuracy", "question_accuracy_ci_low", "question_accuracy_ci_high",
               "unreadable_rate", "n_pairs", "n_questions", "date", "lmms_eval_version", "rsmmvp_version",
               "dataset_fingerprint", "caveats", "source"] + [f"pair_accuracy_{p}" for p in board.patterns]
    rows = []
    for i, r in enumerate(board.rows, start=1):
        row = {"rank": i, **{k: r[k] for k in ("label", "model", "model_args", "task", "unreadable_rate", "n_pairs",
                                                "n_questions", "date", "lmms_eval_version", "rsmmvp_version",
                                                "dataset_fingerprint", "source")}}
        for metric in ("pair_accuracy", "question_accuracy"):
            row[metric] = r[metric].get("value")
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = r[metric].get("ci_low"), r[metric].get("ci_high")
        row["caveats"] = "; ".join(r["caveats"])
        row.update({f"pair_accuracy_{p}": _pattern_value(r, p) for p in board.patterns})
        rows.append(row)
    return rows, columns


def page_data(board: Board, comparisons: list[dict[str, Any]], human: float | None,
              heat_map_png: bytes | None = None) -> dict[str, Any]:
    """The JSON object ``index.html`` is drawn from (rows without their per-pair outcomes)."""
    rows = []
    for i, r in enumerate(board.rows):
        row = {k: v for k, v in r.items() if k != "pair_outcomes"}
        row.update(rank=i + 1, index=i, has_outcomes=r.get("pair_outcomes") is not None)
        rows.append(row)
    return {
        "rows": rows,
        "patterns": [{"name": p, "title": pattern_title(p)} for p in board.patterns],
        "pairwise": comparisons,
        "alpha": ALPHA,
        "human": human,
        "chance": CHANCE,
        "dataset_fingerprint": board.dataset_fingerprint,
        "created": board.created,
        "made_by": board.made_by,
        "notes": board.notes,
        "heat_map": f"data:image/png;base64,{base64.b64encode(heat_map_png).decode()}" if heat_map_png else None,
    }


def _json_safe(value: Any) -> Any:
    """NaN -> None throughout (JSON has no NaN; the page shows "-")."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def render_board(board: Board, out_dir: str | Path, *, human: float | None = HUMAN) -> RenderFiles:
    """Write the four files of a board into ``out_dir`` (created); ``human=None`` drops the human line."""
    if not board.rows:
        raise InputError("the board has no run to render; collect some with `rsmmvp leaderboard collect`")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparisons = pairwise(board)
    files = RenderFiles(out / "leaderboard.md", out / "leaderboard.csv", out / HEAT_MAP_NAME, out / "index.html")
    png = _heat_map_png(board)
    atomic_write_bytes(files.heat_map, png)
    rows, columns = _csv_rows(board)
    write_csv_safe(files.csv, rows, columns=columns)
    atomic_write_text(files.markdown, _markdown(board, comparisons, human))
    page = render_page(__package__, TEMPLATE_NAME, DATA_PLACEHOLDER, _json_safe(page_data(board, comparisons, human, png)))
    atomic_write_text(files.html, page)
    return files
