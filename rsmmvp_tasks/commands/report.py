"""``rsmmvp report RUN [--out DIR]``: one lmms-eval run of an rsmmvp task as a report.

Exit status: 0 written, 2 the run cannot be read (no results file, several tasks without --task,
missing metrics, samples of another run) or ``--dataset`` is not the dataset the run evaluated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rsmmvp_tasks.commands.argtypes import add_human_option
from rsmmvp_tasks.sharing.formatting import pct
from rsmmvp_tasks.sharing.report import write_report
from rsmmvp_tasks.sharing.runs import RESULTS_SUFFIX, load_single_run


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="write a report of one lmms-eval run: numbers with intervals, per-pattern table and chart, wrong pairs",
        description=(
            "Read one lmms-eval run of an rsmmvp task (its --output_path folder or its *_results.json; the "
            "samples JSONL beside it when lmms-eval ran with --log_samples) and write DIR/report.md, "
            "DIR/per_pattern.csv, DIR/per_pattern.png and DIR/report.html (self-contained). With samples, "
            "the report shows every pair the model got wrong, per visual pattern: both images (when the "
            "dataset is on this machine), the question, the options, the right answers and, per option order, "
            "what the model chose and said."
        ),
    )
    p.add_argument("run", type=Path, metavar="RUN", help="lmms-eval output folder (holding one run) or a *_results.json")
    p.add_argument("--out", "-o", type=Path, default=None, metavar="DIR",
                   help="output folder (default: <ts>_report_<task>/ beside the results file)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files in DIR that rsmmvp did not write there, or that were edited since")
    p.add_argument("--task", default=None, metavar="T", help="the rsmmvp task to report, when the run holds several")
    p.add_argument("--dataset", default=None, metavar="PATH",
                   help="the dataset the run evaluated (folder, parquet file, or a hub id in the local cache), for the "
                        "wrong pairs' images when the results file names none on this machine; checked by fingerprint")
    add_human_option(p, auto=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report_run = load_single_run(args.run, task=args.task)
    out = args.out
    if out is None:
        source = Path(report_run.source)
        out = source.parent / f"{source.name.removesuffix(RESULTS_SUFFIX)}_report_{report_run.task}"
    files = write_report(report_run, out, human=args.human, dataset=args.dataset, overwrite=args.overwrite)
    for problem in report_run.problems():
        print(f"warning: {report_run.source} [{report_run.task}]: {problem}")
    d = report_run.details
    print(f"{report_run.identity.short_label} on {report_run.task}: pair accuracy {pct(d['pair_accuracy']['value'])}, "
          f"{d['n_pairs']} pairs")
    for path in (files.markdown, files.csv, files.png, files.html):
        print(path)
    return 0

