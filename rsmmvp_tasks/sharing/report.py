"""``rsmmvp report``: one run's numbers, identity, per-pattern table, chart and the pairs it got wrong.

Writes into ``DIR``:

- ``report.md`` — headline numbers with 95% intervals (and, for a circular run, the position-bias
  rate with its interval), the run's identity (:class:`~rsmmvp_tasks.sharing.runs.RunIdentity`:
  model, task and protocol, judge or none, dataset fingerprint, scoring version; finish time in UTC),
  the per-pattern table with pair counts, and, when the samples were logged, every pair the model
  got wrong (:mod:`rsmmvp_tasks.sharing.pairview`): both images, the question, the options as
  text, the right answers, and per option order what the model chose and said (reply cut to a few lines);
- ``images/<index>.jpg`` — the wrong pairs' thumbnails that ``report.md`` shows (when the dataset is here);
- ``per_pattern.csv`` — the per-pattern table (spreadsheet-safe);
- ``per_pattern.png`` — pair accuracy per pattern with interval whiskers, chance line, and the
  human line where it applies (:func:`~rsmmvp_tasks.sharing.plots.human_reference`);
- ``report.html`` — the same in one self-contained page (chart and thumbnails embedded).

Both pages come from one jinja2 template each (``report.md.j2``, ``report.html.j2``, packaged
beside this module) filled with the same context (:func:`report_context`). The HTML template is
autoescaped; the Markdown one passes every value through
:func:`~rsmmvp_tasks.sharing.formatting.md_escape` (no raw HTML, link or table break from a model
name, its args or a reply) unless the value is :class:`markupsafe.Markup` built here.

When the images cannot be had (the dataset is not on this machine), the report says so in one
line and still shows the text. A run that does not measure the whole dataset (``--limit``,
incomplete pairs) is reported with a warning at the top, never silently.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from rsmmvp_tasks.fileio import atomic_write_bytes, atomic_write_text, owned_outputs, write_csv_safe
from rsmmvp_tasks.schema import option_letters
from rsmmvp_tasks.sharing.formatting import (
    interval,
    md_escape,
    ordered_patterns,
    pattern_title,
    pct,
)
from rsmmvp_tasks.sharing.pairview import (
    DatasetSource,
    PairView,
    locate_dataset,
    wrong_pair_views,
)
from rsmmvp_tasks.sharing.plots import (
    CHANCE,
    HUMAN,
    HUMAN_AUTO,
    human_reference,
    pattern_bars,
)
from rsmmvp_tasks.sharing.runs import Run

__all__ = [
    "HTML_TEMPLATE",
    "MD_TEMPLATE",
    "ReportFiles",
    "pattern_rows",
    "render_html",
    "render_markdown",
    "report_context",
    "write_report",
]

MD_TEMPLATE = "report.md.j2"
HTML_TEMPLATE = "report.html.j2"
#: the folder (inside the report folder) of the thumbnails report.md shows
IMAGES_DIR = "images"


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
    rows = [
        ("pair accuracy (headline)", pct(p.get("value")), interval(p.get("ci_low"), p.get("ci_high"))),
        ("question accuracy", pct(q.get("value")), interval(q.get("ci_low"), q.get("ci_high"))),
    ]
    bias = run.position_bias
    if bias is not None:
        rows.append(("position bias (same letter in every order)", pct(bias["value"]),
                     interval(bias["ci_low"], bias["ci_high"])))
    rows += [("unreadable replies", pct(d.get("unreadable_rate")), ""),
             ("pairs / questions", f"{d.get('n_pairs')} / {d.get('n_questions')}", "")]
    return rows


def _judge_text(run: Run) -> str:
    """Whether and how the run was judged, in words."""
    judge = run.details.get("judge")
    name = run.identity.judge
    if not isinstance(judge, dict):
        return "off (answers read by the rules only)"
    counts = f"{judge.get('judged', 0)} replies sent, {judge.get('failed', 0)} calls failed"
    before, after = judge.get("unreadable_rate_before"), judge.get("unreadable_rate_after")
    change = f"; unreadable {pct(before)} by the rules, {pct(after)} after the judge" if before is not None else ""
    if name == "off":
        return f"off: every judge call failed ({counts}); answers read by the rules only"
    return f"{name}: {counts}{change}"


def _finished(run: Run) -> str:
    if run.finished_at is not None:
        return run.finished_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{run.date} (time zone not recorded)"


def _meta_rows(run: Run, dataset: DatasetSource | None) -> list[tuple[str, str]]:
    ident = run.identity
    fingerprint = run.dataset_fingerprint or "-"
    rows = [
        ("model", ident.short_label), ("model args", run.shown_args or "-"),
        ("task", f"{run.task} ({ident.protocol})"), ("judge", _judge_text(run)),
        ("finished", _finished(run)), ("dataset fingerprint", fingerprint),
    ]
    if dataset is not None and dataset.found:
        rows.append(("dataset read for the images", str(dataset.where)))
    rows += [
        ("scoring version", ident.scoring_version),
        ("lmms-eval version", run.lmms_eval_version or "-"), ("rsmmvp version", run.rsmmvp_version or "-"),
        ("results file", run.source),
        ("samples file", run.samples_source or "- (run lmms-eval with --log_samples to list the wrong pairs)"),
    ]
    return rows


def _references(human: float | None) -> str:
    refs = [] if human is None else [f"human {human:g}% ({'RSMMVP paper' if human == HUMAN else '--human'})"]
    return ", ".join(refs + [f"chance {CHANCE:g}% (two two-option questions)"])


def _groups(run: Run, views: list[PairView]) -> list[dict[str, Any]]:
    totals = {k: int(v.get("pairs") or 0) for k, v in (run.details.get("per_pattern") or {}).items()}
    by_pattern: dict[str, list[PairView]] = {}
    for v in views:
        by_pattern.setdefault(v.pattern, []).append(v)
    return [{"title": pattern_title(name), "wrong": len(by_pattern[name]),
             "total": totals.get(name, len(by_pattern[name])), "pairs": by_pattern[name]}
            for name in ordered_patterns(by_pattern)]


def report_context(run: Run, *, human: float | None, dataset: DatasetSource | None,
                   views: list[PairView], chart_png: bytes) -> dict[str, Any]:
    """What both templates render: the same numbers, identity and wrong pairs (thumbnails as data URIs
    in ``thumbs``; ``report.md`` links ``images/<index>.jpg`` instead)."""
    thumbs = {q.index: "data:image/jpeg;base64," + base64.b64encode(q.jpeg).decode("ascii")
              for v in views for q in v.questions if q.jpeg is not None}
    return {
        "label": run.identity.short_label,
        "full_label": run.identity.full_label,
        "task": run.task,
        "circular": run.identity.protocol == "circular",
        "warnings": run.problems(),
        "headline": [(name, Markup(value), Markup(ci)) for name, value, ci in _headline_rows(run)],  # our numbers
        "references": _references(human),
        "meta": _meta_rows(run, dataset),
        "patterns": [dict(r, pair_accuracy_text=Markup(pct(r["pair_accuracy"])),
                          interval_text=Markup(interval(r["ci_low"], r["ci_high"]))) for r in pattern_rows(run)],
        "letters": option_letters(26),
        "has_samples": run.pairs is not None,
        "dataset_note": dataset.note if dataset is not None else None,
        "groups": _groups(run, views),
        "thumbs": thumbs,
        "images_dir": IMAGES_DIR,
        "chart_uri": "data:image/png;base64," + base64.b64encode(chart_png).decode("ascii"),
    }


def _template_source(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _md_finalize(value: Any) -> Any:
    """Every value the Markdown template prints: inert text (:func:`md_escape`) unless built here as Markup."""
    if isinstance(value, Markup):
        return str(value)
    return "" if value is None else md_escape(value)


def render_markdown(context: dict[str, Any]) -> str:
    """``report.md`` from :data:`MD_TEMPLATE` (values escaped for Markdown)."""
    env = jinja2.Environment(autoescape=False, finalize=_md_finalize, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env.from_string(_template_source(MD_TEMPLATE)).render(**context)


def render_html(context: dict[str, Any]) -> str:
    """``report.html`` from :data:`HTML_TEMPLATE` (autoescaped)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(_template_source(HTML_TEMPLATE)).render(**context)


def write_report(run: Run, out_dir: str | Path, *, human: Any = HUMAN_AUTO,
                 dataset: str | Path | None = None, overwrite: bool = False) -> ReportFiles:
    """Write the report files of ``run`` into ``out_dir`` (created); never over a file rsmmvp did not write
    there or one edited since (:func:`~rsmmvp_tasks.fileio.owned_outputs`; ``overwrite`` replaces them).

    ``human``: a percentage, ``None`` (no human line) or :data:`~rsmmvp_tasks.sharing.plots.HUMAN_AUTO`
    (the paper's line on the full RSMMVP tasks only). ``dataset``: where the run's dataset is, when
    the results file does not name a local one (for the thumbnails; see :func:`locate_dataset`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    human = human_reference(run.task, human)
    rows = pattern_rows(run)
    p = run.details.get("pair_accuracy") or {}
    labels = [r["description"] + f" ({r['pairs']})" for r in rows] + [f"All ({run.details.get('n_pairs')})"]
    ident = run.identity
    png = pattern_bars(
        labels,
        [r["pair_accuracy"] for r in rows] + [p.get("value")],
        [r["ci_low"] for r in rows] + [p.get("ci_low")],
        [r["ci_high"] for r in rows] + [p.get("ci_high")],
        title=f"{ident.short_label} on {run.task} ({ident.protocol}): pair accuracy per visual pattern, 95% intervals",
        human=human,
    )
    source = locate_dataset(run, dataset) if run.wrong_pairs() or dataset is not None else None
    views = wrong_pair_views(run, source)
    files = ReportFiles(out / "report.md", out / "per_pattern.csv", out / "per_pattern.png", out / "report.html")
    jpegs = {f"{IMAGES_DIR}/{q.index}.jpg": q.jpeg for v in views for q in v.questions if q.jpeg is not None}
    with owned_outputs(out, [files.markdown, files.csv, files.png, files.html, *jpegs], overwrite=overwrite):
        atomic_write_bytes(files.png, png)
        for name, jpeg in jpegs.items():
            (out / IMAGES_DIR).mkdir(exist_ok=True)
            atomic_write_bytes(out / name, jpeg)
        columns = ["pattern", "description", "pairs", "pair_accuracy", "ci_low", "ci_high"]
        write_csv_safe(files.csv, rows, columns=columns + (["wrong_pairs"] if run.pairs is not None else []))
        context = report_context(run, human=human, dataset=source, views=views, chart_png=png)
        atomic_write_text(files.markdown, render_markdown(context))
        atomic_write_text(files.html, render_html(context))
    return files
