#!/usr/bin/env python
"""Benchmark ``rsmmvp leaderboard collect`` and ``render`` on many synthetic runs, against a bare table render.

``--runs`` lmms-eval-shaped runs (default 500) are written into a temporary folder, each a results JSON
with the rsmmvp details (made by :func:`rsmmvp_tasks.evaluation.results.details_from_scores`, as the task
writes them) and its samples JSONL (one record per question): ``--pairs`` pairs of two questions, each
model right on a pair with its own probability, every run on one dataset fingerprint and one task (one
board section: the worst case for pairwise tests). Then, in this process:

``collect``  :func:`rsmmvp_tasks.sharing.board.collect_board` over the folder (reads, checks, ties samples).
``render``   :func:`rsmmvp_tasks.sharing.render.render_board` (markdown, CSV, heat map, index.html).
``bare``     the baseline: one markdown table of every row's label and pair accuracy with its interval
             (:func:`rsmmvp_tasks.sharing.formatting.md_table`), written to a file: what any board costs.

Printed: each time, ``collect/bare`` and ``render/bare`` ratios, the number of pairwise tests the render
computed, and the sizes of ``index.html`` and ``leaderboard.md`` (targets at 500 runs: render under 10 s,
page under 2 MB). Same-run ratios only; absolute times depend on the machine and its load.

    python scripts/bench_board.py                  # 500 runs of 150 pairs
    python scripts/bench_board.py --runs 100 --pairs 9
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rsmmvp_tasks.evaluation.results import DETAILS_METRIC, details_from_scores
from rsmmvp_tasks.evaluation.scoring import score
from rsmmvp_tasks.sharing.board import collect_board, pairwise
from rsmmvp_tasks.sharing.formatting import interval, md_table, pct
from rsmmvp_tasks.sharing.render import render_board

TASK = "rsmmvp_bench"
PATTERNS = ("presence", "count", "color", "orientation", "position", "shape", "state", "structure", "viewpoint")


def write_runs(root: Path, n_runs: int, n_pairs: int, seed: int = 0) -> None:
    """``n_runs`` results + samples files under ``root/<model>/`` (one model per run)."""
    rng = random.Random(seed)
    fingerprint = "b" * 64
    for k in range(n_runs):
        skill = rng.uniform(0.2, 0.95)
        records, lines = [], []
        for p in range(n_pairs):
            right = rng.random() < skill
            for q in range(2):
                index = 2 * p + q
                answer = "AB"[q]
                pred = answer if right or (q == 0 and rng.random() < 0.5) else "BA"[q]
                record = {"index": index, "pair_id": str(p), "pattern": PATTERNS[p % len(PATTERNS)], "pair_size": 2,
                          "answer": answer, "pred": pred, "correct": pred == answer}
                records.append(record)
                lines.append(json.dumps({"doc_id": index, "filtered_resps": pred, "question_accuracy": record,
                                         "input": f"Question {p}?\nA. Yes\nB. No"}))
        details = details_from_scores(score(records, warn_incomplete=False), fingerprint)
        metrics = {f"{DETAILS_METRIC},none": details,
                   "pair_accuracy,none": details["pair_accuracy"]["value"],
                   "question_accuracy,none": details["question_accuracy"]["value"]}
        model = f"model_{k:04d}"
        folder = root / model
        folder.mkdir(parents=True)
        stamp = f"20260101_{k // 3600:02d}{k // 60 % 60:02d}{k % 60:02d}"
        results = {"results": {TASK: metrics}, "date": stamp, "model_name": model, "model_name_sanitized": model,
                   "n-samples": {TASK: {"original": 2 * n_pairs, "effective": 2 * n_pairs}},
                   "config": {"model": "llava_hf", "model_args": f"pretrained=/data/checkpoints/{model},dtype=float16",
                              "limit": None, "offset": 0, "resolved_cli_args": {"timezone": "UTC"}}}
        (folder / f"{stamp}_results.json").write_text(json.dumps(results))
        (folder / f"{stamp}_samples_{TASK}.jsonl").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_board_") as tmp:
        root = Path(tmp)
        write_runs(root / "runs", args.runs, args.pairs)

        start = time.perf_counter()
        board = collect_board([str(root / "runs")])
        t_collect = time.perf_counter() - start

        start = time.perf_counter()
        table = md_table(["#", "model", "pair accuracy", "95% interval"],
                         [[r["rank"], r["label"], pct(r["pair_accuracy"]["value"]),
                           interval(r["pair_accuracy"]["ci_low"], r["pair_accuracy"]["ci_high"])] for r in board.rows])
        (root / "bare.md").write_text(table + "\n", encoding="utf-8")
        t_bare = time.perf_counter() - start

        start = time.perf_counter()
        files = render_board(board, root / "site", human=None)
        t_render = time.perf_counter() - start
        tests = len(pairwise(board))
        every = len(board.rows) * (len(board.rows) - 1) // 2

        print(f"{args.runs} runs of {args.pairs} pairs, one section")
        print(f"bare table render: {t_bare:.4f} s")
        print(f"collect: {t_collect:.2f} s = {t_collect / t_bare:.0f} x bare")
        print(f"render:  {t_render:.2f} s = {t_render / t_bare:.0f} x bare "
              f"({tests} pairwise tests computed of the {every} possible; target < 10 s)")
        print(f"index.html: {files.html.stat().st_size / 1e6:.2f} MB (target < 2 MB); "
              f"leaderboard.md: {files.markdown.stat().st_size / 1e6:.2f} MB; "
              f"bare table: {(root / 'bare.md').stat().st_size / 1e6:.3f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
