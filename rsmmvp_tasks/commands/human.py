"""``rsmmvp human``: a human baseline on any RSMMVP dataset, two verbs::

    rsmmvp human page DATASET --out DIR [--seed N] [--max-side PX] [--title TEXT]
    rsmmvp human score EXPORT.json [EXPORT.json ...] --key DIR_OR_KEY [--key ...] --dataset DATASET --out DIR [--task NAME]

``page`` writes ``DIR/index.html`` and its private key file (:mod:`rsmmvp_tasks.human.page`);
``score`` scores answer files with the keys of their pages into lmms-eval results files
(:mod:`rsmmvp_tasks.human.scoring`) and prints one line per annotator. DATASET is anything
:func:`~rsmmvp_tasks.dataset.loading.load_rsmmvp` reads, or a shipped task name (``rsmmvp_mini``).

The earlier form ``rsmmvp human DATASET --out DIR`` (no verb) still writes a page, after a one-line
deprecation notice on stderr; a dataset folder literally named ``page`` or ``score`` is given as
``./page``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rsmmvp_tasks.commands.argtypes import nonnegative_int, positive_int

VERBS = ("page", "score")


class _AnyWord(Mapping[str, argparse.ArgumentParser]):
    """The verb parsers by name, as argparse's ``choices``: every word passes its check (the old form has no verb)."""

    def __init__(self, parsers: dict[str, argparse.ArgumentParser]) -> None:
        self._parsers = parsers

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str)

    def __getitem__(self, name: str) -> argparse.ArgumentParser:
        return self._parsers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsers)

    def __len__(self) -> int:
        return len(self._parsers)


class _VerbAction(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The verbs of ``rsmmvp human``; a first word that is no verb is the old form: ``page`` with a notice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _AnyWord(self._name_parser_map)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str] | str | None, option_string: str | None = None) -> None:
        values = [values] if isinstance(values, str) else list(values or [])
        if values and values[0] not in self._name_parser_map:
            print(f"rsmmvp human: `rsmmvp human {values[0]} ...` is deprecated: write `rsmmvp human page "
                  f"{values[0]} ...`", file=sys.stderr)
            values = ["page", *values]
        super().__call__(parser, namespace, values, option_string)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "human",
        help="human baseline: a page to answer the questions, and scoring of the answers",
        description=(
            "`page` writes DIR/index.html: an offline page showing one image and its question at a time, in a "
            "shuffled order in which the two images of a pair never follow each other, without the answers and "
            "without anything that maps its items to the dataset; and, next to it, the page's private key file "
            "(DO-NOT-PUBLISH.human-key.<page id>.json): hand out index.html only. The annotators answer, then "
            "click 'Download answers (JSON)'. `score` scores those files with the models' scorer (the key "
            "files map the answers back) and writes DIR/human/<annotator>/<date>_results.json (lmms-eval's "
            "format, model 'human'; a majority-vote run too with three or more annotators) and "
            "DIR/human/agreement.json (Cohen's and Fleiss' kappa)."
        ),
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True, action=_VerbAction)
    page = verbs.add_parser("page", help="write the answering page and its private key file",
                            description="Write DIR/index.html (for the annotators) and its key file (for you).")
    page.add_argument("dataset", metavar="DATASET",
                      help="the dataset: folder, parquet file, save_to_disk folder, raw layout, hub id, or a shipped "
                           "task name (rsmmvp_mini)")
    page.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                      help="folder for index.html and its key file")
    page.add_argument("--overwrite", action="store_true",
                      help="replace an index.html in DIR that rsmmvp did not write there, or one edited since")
    page.add_argument("--seed", type=nonnegative_int, default=None,
                      help="seed of the shuffled order (default: a fresh secret one per page). Whoever knows it and "
                           "the dataset can rebuild the order: keep it private")
    page.add_argument("--max-side", type=positive_int, default=768, metavar="PX",
                      help="longest side of the embedded images in pixels (default 768)")
    page.add_argument("--title", default=None, help="the page's title")
    page.set_defaults(func=run)

    score = verbs.add_parser("score", help="score answer files into lmms-eval results files",
                             description="Score the answer files exported by the pages into results files that "
                                         "`rsmmvp leaderboard collect` reads.")
    score.add_argument("exports", nargs="+", metavar="EXPORT.json", help="answer files downloaded from the pages")
    score.add_argument("--key", action="append", default=[], metavar="DIR_OR_KEY",
                       help="the key file of a page answered, or the folder `rsmmvp human page` wrote it into; "
                            "repeat for several pages (needed for every page but those of the first format)")
    score.add_argument("--dataset", required=True, metavar="DATASET", help="the dataset the pages were made from")
    score.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="folder for the results files")
    score.add_argument("--overwrite", action="store_true",
                       help="replace files in DIR that rsmmvp did not write there, or that were edited since")
    score.add_argument("--task", default=None, metavar="NAME",
                       help="the lmms-eval task name of the results (default: rsmmvp_mini for the shipped sample, "
                            "rsmmvp for IVUlab/RSMMVP; needed for any other dataset)")
    score.set_defaults(func=_score)


def _fmt(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def run(args: argparse.Namespace) -> int:
    """``rsmmvp human page``: write the page and its key; print the page's URI (stdout) and where the key is."""
    from rsmmvp_tasks.human.page import write_human_page

    files = write_human_page(args.dataset, args.out, seed=args.seed, max_side=args.max_side, title=args.title,
                             overwrite=getattr(args, "overwrite", False))
    print(files.page.resolve().as_uri())
    print(f"rsmmvp human: keep {files.key} private (it maps the page to the dataset); give annotators index.html "
          "only, and the key to `rsmmvp human score --key`", file=sys.stderr)
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


def _score(args: argparse.Namespace) -> int:
    """``rsmmvp human score``: write the results files; print one line per annotator and the agreement."""
    from rsmmvp_tasks.evaluation.results import read_details
    from rsmmvp_tasks.human.scoring import score_annotators

    with _quiet_task_log():  # the task logs its per-pattern table per run; the summary below replaces it
        written = score_annotators(args.exports, args.dataset, args.out, task=args.task, keys=args.key,
                                   overwrite=args.overwrite)
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
