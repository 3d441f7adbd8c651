"""``rsmmvp human``: a human baseline on any RSMMVP dataset.

Two forms (the first word after ``human`` decides)::

    rsmmvp human DATASET --out DIR [--seed N] [--max-side PX] [--title TEXT]
    rsmmvp human score EXPORT.json [EXPORT.json ...] --dataset DATASET --out DIR [--task NAME]

The first writes ``DIR/index.html`` (:mod:`rsmmvp_tasks.human.page`); the second scores answer files
into lmms-eval results files (:mod:`rsmmvp_tasks.human.scoring`) and prints one line per annotator.
A dataset folder literally named ``score`` is given as ``./score``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rsmmvp_tasks.commands.argtypes import nonnegative_int, positive_int
from rsmmvp_tasks.errors import UsageError

USAGE = (
    "rsmmvp human DATASET --out DIR [--seed N] [--max-side PX] [--title TEXT]\n"
    "       rsmmvp human score EXPORT.json [EXPORT.json ...] --dataset DATASET --out DIR [--task NAME]"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "human",
        usage=USAGE,
        help="human baseline: a page to answer the questions, and scoring of the answers",
        description=(
            "Form 1 writes DIR/index.html: an offline page showing one image and its question at a time, in a "
            "shuffled order in which the two images of a pair never follow each other, without the answers. Give "
            "it to each annotator (a different --seed per annotator varies the order); they answer, then click "
            "'Download answers (JSON)'. Form 2 ('score') scores those files with the models' scorer and writes "
            "DIR/human/<annotator>/<date>_results.json (lmms-eval's format, model 'human'; a majority-vote run "
            "too with three or more annotators) and DIR/human/agreement.json (Cohen's and Fleiss' kappa)."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="DATASET | score EXPORT.json",
                   help="the dataset (folder, parquet file, save_to_disk folder, raw layout or hub id), or the word "
                        "'score' followed by answer files")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                   help="folder for index.html (form 1) or for the results files (form 2)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="form 1: seed of the shuffled order (default 0)")
    p.add_argument("--max-side", type=positive_int, default=768, metavar="PX",
                   help="form 1: longest side of the embedded images in pixels (default 768)")
    p.add_argument("--title", default=None, help="form 1: the page's title")
    p.add_argument("--dataset", default=None, metavar="DATASET", help="form 2: the dataset the page was made from")
    p.add_argument("--task", default=None, metavar="NAME",
                   help="form 2: the lmms-eval task name of the results (default: rsmmvp_mini for the shipped sample, "
                        "rsmmvp for IVUlab/RSMMVP; needed for any other dataset)")
    p.set_defaults(func=run)


def _fmt(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def run(args: argparse.Namespace) -> int:
    if args.inputs[0] == "score":
        return _score(args, args.inputs[1:])
    if len(args.inputs) != 1:
        raise UsageError(f"one DATASET to make a page for, got {len(args.inputs)} ({' '.join(args.inputs)}); "
                         "to score answer files: rsmmvp human score EXPORT.json... --dataset DATASET --out DIR")
    if args.dataset is not None or args.task is not None:
        raise UsageError("--dataset and --task belong to `rsmmvp human score`")
    from rsmmvp_tasks.human.page import write_human_page

    page = write_human_page(args.inputs[0], args.out, seed=args.seed, max_side=args.max_side, title=args.title)
    print(page.resolve().as_uri())
    return 0


@contextlib.contextmanager
def _quiet_task_log() -> Iterator[None]:
    try:
        from loguru import logger
    except ImportError:  # pragma: no cover - loguru comes with lmms-eval
        yield
        return
    logger.disable("rsmmvp_tasks.evaluation")
    try:
        yield
    finally:
        logger.enable("rsmmvp_tasks.evaluation")


def _score(args: argparse.Namespace, exports: list[str]) -> int:
    if args.dataset is None:
        raise UsageError("rsmmvp human score needs --dataset DATASET: the dataset the answered page was made from")
    if not exports:
        raise UsageError("rsmmvp human score needs at least one answer file (EXPORT.json)")
    from rsmmvp_tasks.evaluation.results import read_details
    from rsmmvp_tasks.human.scoring import score_annotators

    with _quiet_task_log():  # the task logs its per-pattern table per run; the summary below replaces it
        written = score_annotators(exports, args.dataset, args.out, task=args.task)
    print(f"{'annotator':<20} {'answered':>9} {'question acc':>13} {'pair acc':>9} {'95% CI':>18}  results")
    for annotator, path, results in written:
        task = next(iter(results["results"]))
        details = read_details(results, task)
        pair = details["pair_accuracy"]
        total = results["n-samples"][task]["original"]
        print(f"{annotator.name:<20} {len(annotator.choices):>4}/{total:<4} {_fmt(details['question_accuracy']['value']):>13} "
              f"{_fmt(pair['value']):>9} {'[' + _fmt(pair['ci_low']) + ', ' + _fmt(pair['ci_high']) + ']':>18}  {path}")
    agreement = written[0][2]["rsmmvp_human"]["agreement"]
    if len(agreement["annotators"]) > 1:
        print(f"agreement over {agreement['questions_answered_by_all']} questions answered by all: all agree "
              f"{_fmt(agreement['all_agree'])}, Fleiss' kappa {_fmt(agreement['fleiss_kappa'])}")
    return 0
