"""``rsmmvp leaderboard collect | compare | render | submit``: a board of many runs, tested for significance.

Exit status: 0 done; 1 a run was refused (``--limit``, incomplete pairs, another dataset
fingerprint than ``--fingerprint``: listed, nothing written) or two runs share no pair; 2 unreadable
input or a bad option (``compare`` across datasets, or across protocols without ``--across-protocols``);
3 the hub could not be reached or refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rsmmvp_tasks.commands.argtypes import add_human_option


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="collect lmms-eval runs into a board, compare two models (paired tests), render it, submit a run",
        description="A leaderboard of rsmmvp runs: `collect` builds board.json from lmms-eval results, `compare` "
        "tests whether two models differ (paired bootstrap and McNemar's exact test on the same pairs), `render` "
        "writes markdown, CSV, a heat map and a static web page, `submit` opens a pull request adding a run to a "
        "hub dataset repo.",
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    c = verbs.add_parser("collect", help="read lmms-eval runs into board.json",
                         description="Read every rsmmvp task of every lmms-eval results file in SOURCES (files, "
                         "folders, globs, hf:ORG/NAME) into a board with one section per task and dataset fingerprint. "
                         "Runs made with --limit or with incomplete pairs (or on another fingerprint than "
                         "--fingerprint) are refused (each named, nothing written) unless --allow-partial. The same "
                         "run identity twice (task, dataset, model name + normalised args, judge, scoring version): "
                         "the newest run (by instant, in UTC) is kept, and a note says so.")
    c.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="lmms-eval output folder, *_results.json, a glob ('runs/**/*_results.json'), or hf:ORG/NAME")
    c.add_argument("--out", "-o", type=Path, required=True, metavar="BOARD", help="board file to write (board.json)")
    c.add_argument("--allow-partial", action="store_true",
                   help="keep refused runs on the board, marked with their caveats, instead of refusing them")
    c.add_argument("--task", default=None, metavar="T", help="only this rsmmvp task (default: every rsmmvp task found)")
    c.add_argument("--fingerprint", default=None, metavar="HEX",
                   help="keep only runs on this dataset fingerprint, refusing the others (default: every "
                   "fingerprint, one section each)")
    c.set_defaults(func=run_collect)

    k = verbs.add_parser("compare", help="is the difference between two models real? (paired tests)",
                         description="Compare rows A and B of a board on the pairs both answered: difference in pair "
                         "accuracy with its 95% paired-bootstrap interval (over pairs), and McNemar's exact test on "
                         "the pairs one got right and the other wrong. Needs both runs' samples (--log_samples). "
                         "Two rows of different sections (task/protocol) are refused unless --across-protocols; "
                         "two datasets (fingerprints) always.")
    k.add_argument("board", type=Path, metavar="BOARD", help="board file written by `rsmmvp leaderboard collect`")
    k.add_argument("a", metavar="A", help="row number, or a unique part of the model label")
    k.add_argument("b", metavar="B", help="row number, or a unique part of the model label")
    k.add_argument("--across-protocols", action="store_true",
                   help="compare rows of two protocols/tasks on one dataset (e.g. a model's plain and circular runs)")
    k.set_defaults(func=run_compare)

    r = verbs.add_parser("render", help="write leaderboard.md, .csv, a heat map and a static index.html",
                         description="Write DIR/leaderboard.md, DIR/leaderboard.csv, DIR/per_pattern_heatmap.png and "
                         "DIR/index.html: one self-contained page (sortable table, per-pattern bars with human and "
                         "chance lines, which differences are significant) that works from file:// or any static host.")
    r.add_argument("board", type=Path, metavar="BOARD", help="board file written by `rsmmvp leaderboard collect`")
    r.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="folder to write the page and files into")
    r.add_argument("--overwrite", action="store_true",
                   help="replace files in DIR that rsmmvp did not write there, or that were edited since")
    add_human_option(r, auto=True)
    r.set_defaults(func=run_render)

    s = verbs.add_parser("submit", help="open a pull request adding a run to a hub dataset repo of results",
                         description="Validate the run(s) at RESULTS as collect does, then open a pull request adding "
                         "the results JSON and samples JSONL to the hub dataset repo ORG/NAME (endpoint: HF_ENDPOINT; "
                         "token: HF_TOKEN or the hub login, never printed). --dry-run prints what would be sent.")
    s.add_argument("results", type=Path, metavar="RESULTS", help="lmms-eval output folder or *_results.json")
    s.add_argument("--repo", required=True, metavar="ORG/NAME", help="hub dataset repo holding the board's runs")
    s.add_argument("--task", default=None, metavar="T", help="only this rsmmvp task of the run")
    s.add_argument("--dry-run", action="store_true", help="print what would be sent; send nothing")
    s.set_defaults(func=run_submit)


def run_collect(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.sharing.board import collect_board
    from rsmmvp_tasks.sharing.formatting import interval, pct

    board = collect_board(args.sources, allow_partial=args.allow_partial, task=args.task, fingerprint=args.fingerprint)
    for note in board.notes:
        print(f"note: {note}", file=sys.stderr)
    path = board.save(args.out)
    sections = board.sections
    print(f"{path}: {len(board.rows)} run(s) in {len(sections)} section(s) (one per task and dataset); "
          "rows numbered as `compare` takes them")
    for section in sections:
        print(f"{section.title}:")
        for i in section.rows:
            row = board.rows[i]
            pa = row["pair_accuracy"]
            mark = " (partial)" if row["caveats"] else ""
            samples = "" if row["pair_outcomes"] is not None else "  [no samples: cannot be compared]"
            print(f"{i + 1:>3}. #{row['rank']} {row['label']}{mark}: pair accuracy {pct(pa.get('value'))} "
                  f"{interval(pa.get('ci_low'), pa.get('ci_high'))}, {row['n_pairs']} pairs{samples}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.sharing.board import Board, compare
    from rsmmvp_tasks.sharing.stats import ALPHA, N_BOOTSTRAP

    board = Board.load(args.board)
    a, b, c = compare(board, args.a, args.b, across_protocols=args.across_protocols)
    print(f"A: {a['label']} [{a['task']}, {a['protocol']}]: pair accuracy {100 * c.accuracy_a:.1f}%")
    print(f"B: {b['label']} [{b['task']}, {b['protocol']}]: pair accuracy {100 * c.accuracy_b:.1f}%")
    if a["section"] != b["section"]:
        print(f"across protocols: this compares {a['task']} ({a['protocol']}) with {b['task']} ({b['protocol']}) on "
              "the same dataset; the difference mixes the models and how each protocol scores a pair"
              + (" -- here one model, so it is how much its score depends on the protocol"
                 if a["identity"]["model"] == b["identity"]["model"] else ""))
    left_out = c.only_in_a + c.only_in_b
    print(f"on the {c.n_pairs} pairs both runs answered" + (f" ({left_out} pair(s) of only one run left out)" if left_out else ""))
    print(f"difference A - B: {100 * c.difference:+.1f} points, 95% interval [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}] "
          f"(paired bootstrap over pairs, {N_BOOTSTRAP} draws)")
    print(f"McNemar exact test: A right and B wrong on {c.only_a} pair(s), A wrong and B right on {c.only_b}: "
          f"p = {c.p_value:.4g}")
    print("significance is McNemar's exact test; the bootstrap interval shows the size of the difference "
          "(it is approximate when few pairs are discordant)")
    verdict = "significant" if c.significant else "not significant"
    print(f"{verdict} at {ALPHA:g} (this one comparison; the board's marks are Holm-adjusted per section)"
          + ("" if c.significant else " (these pairs do not show a difference beyond chance)"))
    for row in (a, b):
        for caveat in row["caveats"]:
            print(f"caveat: {row['label']}: {caveat}")
    return 0


def run_render(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.sharing.board import Board
    from rsmmvp_tasks.sharing.render import render_board

    board = Board.load(args.board)
    files = render_board(board, args.out, human=args.human, overwrite=args.overwrite)
    for path in (files.markdown, files.csv, files.heat_map):
        print(path)
    print(files.html.resolve().as_uri())
    return 0


def run_submit(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.sharing.submit import submit

    _submission, description, pr_url = submit(args.results, args.repo, dry_run=args.dry_run, task=args.task)
    print(description)
    if pr_url:
        print(f"pull request opened: {pr_url}")
    return 0
