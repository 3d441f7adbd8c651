"""``rsmmvp leaderboard render``: a board as markdown, CSV, a heat map and a static web page.

Writes into ``DIR``:

- ``leaderboard.md`` — one part per board section (task/protocol and dataset fingerprint): the
  ranked table (pair and question accuracy with 95% intervals, unreadable rate, a circular run's
  position-bias rate with its 95% interval, the plain-vs-circular gap where a model has both runs,
  pairs, date in UTC, identity), pair accuracy per visual pattern, and the comparisons with their
  significance; then the board's notes (runs kept although partial are marked with a dagger);
- ``leaderboard.csv`` — one row per run, every number of the tables plus one column per pattern;
- ``per_pattern_heatmap.png`` — pair accuracy per model and visual pattern (the top
  :data:`HEAT_MAP_ROWS` rows of each section: a chart of 500 rows is read by nobody);
- ``index.html`` — one self-contained page (no network: works from ``file://`` and any static host)
  drawn from ``leaderboard_template.html``: per section a sortable table, bar charts with the
  human and chance lines, and the significance matrix of its top rows.

Significance: McNemar's exact test on pair outcomes, computed only where it is read
(:func:`rsmmvp_tasks.sharing.board.pairwise`: adjacent ranks and the top
:data:`~rsmmvp_tasks.sharing.board.TOP_K` of each section), Holm-adjusted within each section; any
other two rows are compared on demand by ``rsmmvp leaderboard compare``. Runs without samples are
left out of it. Dates are shown in UTC, and the files say so.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.fileio import atomic_write_bytes, atomic_write_text, owned_outputs, write_csv_safe
from rsmmvp_tasks.pages import render_page
from rsmmvp_tasks.sharing.board import TOP_K, Board, Section, pairwise
from rsmmvp_tasks.sharing.formatting import interval, md_escape, md_table, pattern_title, pct
from rsmmvp_tasks.sharing.plots import CHANCE, HUMAN_AUTO, heat_map, human_reference
from rsmmvp_tasks.sharing.stats import ALPHA

__all__ = ["RenderFiles", "render_board", "page_data", "DATA_PLACEHOLDER", "HEAT_MAP_ROWS"]

#: where the board's JSON goes in ``leaderboard_template.html``
DATA_PLACEHOLDER = "__RSMMVP_BOARD_DATA__"
TEMPLATE_NAME = "leaderboard_template.html"
HEAT_MAP_NAME = "per_pattern_heatmap.png"
#: rows per section drawn in the heat map
HEAT_MAP_ROWS = 15
#: the zone every date of a board is shown in
SHOWN_ZONE = "UTC"


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


def _patterns_of(board: Board, indices: tuple[int, ...] | list[int]) -> list[str]:
    from rsmmvp_tasks.sharing.formatting import ordered_patterns

    return ordered_patterns({p for i in indices for p, v in (board.rows[i]["per_pattern"] or {}).items()
                             if v.get("pairs")})


def _pattern_counts(board: Board, indices: tuple[int, ...] | list[int]) -> dict[str, int]:
    """Pairs per pattern (the most any row has: equal within one section's dataset)."""
    return {p: max(int(((board.rows[i]["per_pattern"] or {}).get(p) or {}).get("pairs") or 0) for i in indices)
            for p in _patterns_of(board, indices)}


def _heat_map_png(board: Board) -> bytes:
    shown = [i for s in board.sections for i in s.rows[:HEAT_MAP_ROWS]]
    patterns = _patterns_of(board, shown)
    counts = _pattern_counts(board, shown)
    columns = [f"{pattern_title(p)} ({counts[p]})" for p in patterns] + ["All"]
    values = [[_pattern_value(board.rows[i], p) for p in patterns] + [board.rows[i]["pair_accuracy"].get("value")]
              for i in shown]
    many = len(shown) < len(board.rows)
    labels = [_short((f"{board.rows[i]['protocol']} " if len(board.sections) > 1 else "")
                     + f"{board.rows[i]['rank']}. {board.rows[i]['label']}", 48) for i in shown]
    return heat_map(labels, columns, values,
                    title="Pair accuracy (%) per model and visual pattern"
                    + (f" (top {HEAT_MAP_ROWS} of each section)" if many else ""))


def _short(text: str, width: int) -> str:
    """``text`` cut on the right to ``width`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def _position_bias(row: dict[str, Any]) -> str:
    pb = row.get("position_bias")
    if not pb:
        return "-"
    return f"{pct(pb.get('value'))} {interval(pb.get('ci_low'), pb.get('ci_high'))}"


def _gap(row: dict[str, Any]) -> str:
    gap = row.get("circular_gap")
    return f"{gap['points']:+.1f}" if gap else "-"


def _human_of(section: Section, human: float | str | None) -> float | None:
    return human_reference(section.task, human)


def _section_markdown(board: Board, section: Section, comparisons: list[dict[str, Any]],
                      human: float | None) -> list[str]:
    rows = [board.rows[i] for i in section.rows]
    circular = section.protocol == "circular"
    gaps = any(r.get("circular_gap") for r in rows)
    refs = (f"human {human:g}%, " if human is not None else "") + f"chance {CHANCE:g}%"
    intro = (f"{len(rows)} run(s) of task `{section.task}` ({section.protocol} protocol) on the dataset with "
             f"fingerprint `{section.fingerprint or 'not recorded'}`; ranked by pair accuracy ({refs}).")
    out = [f"## {md_escape(section.title)}", "", intro, ""]
    header = ["#", "model", "pair accuracy", "95% interval", "question accuracy", "95% interval", "unreadable"]
    header += ["position bias [95%]"] if circular else []
    header += ["plain - circular (points)"] if gaps else []
    header += ["pairs", f"date ({SHOWN_ZONE})", "judge", "lmms-eval", "rsmmvp"]
    table = []
    for r in rows:
        pa, qa = r["pair_accuracy"], r["question_accuracy"]
        line = [r["rank"], md_escape(_marked(r)), pct(pa.get("value")), interval(pa.get("ci_low"), pa.get("ci_high")),
                pct(qa.get("value")), interval(qa.get("ci_low"), qa.get("ci_high")), pct(r["unreadable_rate"])]
        line += [_position_bias(r)] if circular else []
        line += [_gap(r)] if gaps else []
        line += [r["n_pairs"], r["date"], md_escape(r["identity"]["judge"]), md_escape(r["lmms_eval_version"] or "-"),
                 md_escape(r["rsmmvp_version"] or "-")]
        table.append(line)
    align = "rlrrrrr" + "r" * circular + "r" * gaps + "rllll"
    out += [md_table(header, table, align), ""]
    counts = _pattern_counts(board, section.rows)
    patterns = list(counts)
    out += ["### Pair accuracy per visual pattern", "",
            md_table(["model"] + [f"{pattern_title(p)} ({counts[p]})" for p in patterns],
                     [[f"{r['rank']}. {md_escape(_marked(r))}"] + [pct(_pattern_value(r, p)) for p in patterns] for r in rows]),
            "", "### Which differences are real", ""]
    mine = [c for c in comparisons if c["section"] == section.key]
    if not mine:
        out += ["Needs the per-pair outcomes (lmms-eval `--log_samples`) of at least two runs of this section.", ""]
        return out
    method = (f"Paired on the pairs both runs answered: McNemar's exact test on the pairs one model got right and the "
              f"other wrong (p, and Holm-adjusted over this section's {len(mine)} comparisons: every two adjacent ranks "
              f"and every two of the top {TOP_K}), and the 95% paired-bootstrap interval of the difference. "
              f"Significant: Holm p < {ALPHA:g}. Any other two rows: `rsmmvp leaderboard compare BOARD A B`.")
    out += [method, ""]
    lines = []
    for c in mine:
        a, b = board.rows[c["a"]], board.rows[c["b"]]
        lines.append([f"{a['rank']}. {md_escape(a['label'])}", f"{b['rank']}. {md_escape(b['label'])}", f"{100 * c['difference']:+.1f}",
                      f"[{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}]", f"{c['only_a']} / {c['only_b']}",
                      f"{c['p_value']:.3g}", f"{c['p_holm']:.3g}", "yes" if c["significant"] else "no"])
    out += [md_table(["A", "B", "A - B (points)", "95% interval", "A only / B only right", "p", "p (Holm)",
                      "significant"], lines, "llrrrrrl"), ""]
    return out


def _markdown(board: Board, comparisons: list[dict[str, Any]], human: float | str | None) -> str:
    sections = board.sections
    intro = (f"{len(board.rows)} run(s) in {len(sections)} section(s), one per task (protocol) and dataset "
             f"fingerprint: each has its own ranking and its own significance tests. Collected {board.created} by "
             f"{board.made_by}. Pair accuracy counts a pair only when both of its questions are right; intervals are "
             f"95% bootstrap intervals over pairs; dates are in {SHOWN_ZONE}.")
    out = ["# RSMMVP leaderboard", "", intro, ""]
    for section in sections:
        out += _section_markdown(board, section, comparisons, _human_of(section, human))
    out += [f"![pair accuracy per model and visual pattern]({HEAT_MAP_NAME})", ""]
    notes = [f"\u2020 {md_escape(r['label'])} [{r['task']}]: {md_escape(c)}" for r in board.rows for c in r["caveats"]] + list(board.notes)
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out).rstrip() + "\n"


def _csv_rows(board: Board) -> tuple[list[dict[str, Any]], list[str]]:
    columns = ["section", "rank", "label", "model", "model_args", "task", "protocol", "judge", "scoring_version",
               "pair_accuracy", "pair_accuracy_ci_low", "pair_accuracy_ci_high", "question_accuracy",
               "question_accuracy_ci_low", "question_accuracy_ci_high", "unreadable_rate", "position_bias_rate",
               "position_bias_ci_low", "position_bias_ci_high", "plain_minus_circular_points", "n_pairs",
               "n_questions", "date_utc", "lmms_eval_version", "rsmmvp_version", "dataset_fingerprint", "caveats",
               "source"] + [f"pair_accuracy_{p}" for p in board.patterns]
    rows = []
    for r in board.rows:
        row = {k: r[k] for k in ("section", "rank", "label", "model", "model_args", "task", "protocol", "unreadable_rate",
                                 "n_pairs", "n_questions", "lmms_eval_version", "rsmmvp_version",
                                 "dataset_fingerprint", "source")}
        row.update(judge=r["identity"]["judge"], scoring_version=r["identity"]["scoring_version"], date_utc=r["date"])
        for metric in ("pair_accuracy", "question_accuracy"):
            row[metric] = r[metric].get("value")
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = r[metric].get("ci_low"), r[metric].get("ci_high")
        pb = r.get("position_bias") or {}
        row.update(position_bias_rate=pb.get("value"), position_bias_ci_low=pb.get("ci_low"),
                   position_bias_ci_high=pb.get("ci_high"),
                   plain_minus_circular_points=(r.get("circular_gap") or {}).get("points"))
        row["caveats"] = "; ".join(r["caveats"])
        row.update({f"pair_accuracy_{p}": _pattern_value(r, p) for p in board.patterns})
        rows.append(row)
    return rows, columns


#: the row fields the page reads (the rest -- per-pair outcomes, the raw results -- stay in board.json)
_PAGE_ROW_KEYS = ("label", "model", "model_args", "task", "protocol", "section", "rank", "date", "lmms_eval_version",
                  "rsmmvp_version", "dataset_fingerprint", "source", "question_accuracy", "pair_accuracy",
                  "unreadable_rate", "n_questions", "n_pairs", "per_pattern", "position_bias", "circular_gap", "caveats")


def page_data(board: Board, comparisons: list[dict[str, Any]], human: float | str | None,
              heat_map_png: bytes | None = None) -> dict[str, Any]:
    """The JSON object ``index.html`` is drawn from: rows (without per-pair outcomes), sections (each with its
    own human line and patterns), the comparisons that were computed, references and notes."""
    rows = []
    for i, r in enumerate(board.rows):
        row = {k: r.get(k) for k in _PAGE_ROW_KEYS}
        ident = r["identity"]
        row.update(index=i, number=i + 1, has_outcomes=r.get("pair_outcomes") is not None,
                   short_label=ident["short_label"], full_label=ident["full_label"], judge=ident["judge"],
                   scoring_version=ident["scoring_version"])
        rows.append(row)
    sections = []
    for s in board.sections:
        sections.append({"key": s.key, "title": s.title, "task": s.task, "protocol": s.protocol,
                         "fingerprint": s.fingerprint, "rows": list(s.rows), "human": _human_of(s, human),
                         "patterns": [{"name": p, "title": pattern_title(p)} for p in _patterns_of(board, s.rows)]})
    return {
        "rows": rows,
        "sections": sections,
        "pairwise": [{k: v for k, v in c.items()} for c in comparisons],
        "top_k": TOP_K,
        "alpha": ALPHA,
        "chance": CHANCE,
        "zone": SHOWN_ZONE,
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


def render_board(board: Board, out_dir: str | Path, *, human: float | str | None = HUMAN_AUTO,
                 overwrite: bool = False) -> RenderFiles:
    """Write the four files of a board into ``out_dir`` (created); never over a file rsmmvp did not write
    there or one edited since (:func:`~rsmmvp_tasks.fileio.owned_outputs`; ``overwrite`` replaces them).

    ``human``: the human reference line, in percent; ``"auto"`` (default) draws the paper's line only on the
    sections of the full RSMMVP tasks (:func:`~rsmmvp_tasks.sharing.plots.human_reference`), ``None`` none.
    """
    if not board.rows:
        raise InputError("the board has no run to render; collect some with `rsmmvp leaderboard collect`")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparisons = pairwise(board)
    files = RenderFiles(out / "leaderboard.md", out / "leaderboard.csv", out / HEAT_MAP_NAME, out / "index.html")
    png = _heat_map_png(board)
    with owned_outputs(out, [files.markdown, files.csv, files.heat_map, files.html], overwrite=overwrite):
        atomic_write_bytes(files.heat_map, png)
        rows, columns = _csv_rows(board)
        write_csv_safe(files.csv, rows, columns=columns)
        atomic_write_text(files.markdown, _markdown(board, comparisons, human))
        page = render_page(__package__, TEMPLATE_NAME, DATA_PLACEHOLDER,
                           _json_safe(page_data(board, comparisons, human, png)))
        atomic_write_text(files.html, page)
    return files
