"""How the answer reader's time grows with the reply's length; and how it reads the labelled corpora.

    python scripts/bench_answers.py [--sizes 1,10,100] [--reader path/to/answers.py]
    python scripts/bench_answers.py --corpora [--before REV]

``--corpora`` prints, per labelled corpus (``tests/data/answer_corpus*.jsonl``), the number of replies
``n``, the *wrong letters* (a letter where the human reading is another letter or none) and the
agreement with the human reading, for the installed reader and, with ``--before REV``, for the
reader of git revision ``REV`` (``git show REV:rsmmvp_tasks/evaluation/answers.py`` into a temporary
module) side by side: the before/after table of a change to the reader.

Degenerate replies (a model looping on one pattern) are the worst case for a rule-based reader:
every repetition is a candidate letter, marker, negation or option text. For each kind below and
each size (KB), the reply is the pattern repeated whole to about that size (so that every size ends
alike); the script prints the time per KB and its ratio to the time per KB of the smallest size,
measured in the same run (a linear reader stays near 1.0; a quadratic one grows with the size).
A 1 KB reply can read cheaper per KB than longer ones because its last clauses are shorter than the
~200-character window read after an answer marker; ``--sizes 10,40,160`` shows the growth beyond
that edge effect. ``--reader`` times another copy of the module, e.g. an older version:
``git show REV:rsmmvp_tasks/evaluation/answers.py > /tmp/old_answers.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
CORPORA = sorted((ROOT / "tests" / "data").glob("answer_corpus*.jsonl"))

#: looping patterns, each aimed at one rule of the reader
KINDS = {
    "letters": "A B ",  # letter mentions (rule 4)
    "markers": "so ",  # answer markers, none readable (rule 3)
    "answer_is": "the answer is ",  # answer markers followed by a marker
    "mixed": "Tank B is not two. So, ",  # named letters, negations, markers
    "yes_no": "no yes ",  # yes/no interjections (rule 6)
    "options": "two four ",  # option texts (rule 6)
    "echo": "A. Two\nB. Four\n",  # echoed option lists (rule 1)
    "labels": "(a) two (b) four, not ",  # letters written with option texts (the mislabel check)
    "think": "<think>",  # unclosed reasoning blocks (rule 1)
    "garbage": "ithvisi ",  # a tiny random model's tokens
    "verdicts": "A ✗ B? no ",  # verdicts after letters, asked letters (the negation rule)
    "corrections": "wait, no, ",  # self-corrections (the reply is read after the last one)
    "json": '{"answer": ',  # unclosed JSON objects
}
OPTIONS = ["Two", "Four"]


def _reader(path: Path | None) -> Callable[[str, list[str]], object]:
    if path is None:
        from rsmmvp_tasks.evaluation.answers import extract_choice

        return extract_choice
    spec = importlib.util.spec_from_file_location("answers_under_test", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.extract_choice


def _seconds(read: Callable[[str, list[str]], object], reply: str, min_time: float = 0.2) -> float:
    """Best time of repeated calls (at least ``min_time`` seconds of calls, at least 3)."""
    best, spent, runs = float("inf"), 0.0, 0
    while runs < 3 or spent < min_time:
        start = time.perf_counter()
        read(reply, OPTIONS)
        took = time.perf_counter() - start
        best, spent, runs = min(best, took), spent + took, runs + 1
        if took > 5:  # one slow call is measurement enough
            break
    return best


def _reader_at(rev: str) -> Callable[[str, list[str]], object]:
    """The ``extract_choice`` of git revision ``rev``, imported from a temporary copy of its module."""
    shown = subprocess.run(["git", "show", f"{rev}:rsmmvp_tasks/evaluation/answers.py"], cwd=ROOT,
                           capture_output=True, text=True)
    if shown.returncode != 0:
        raise SystemExit(f"--before {rev}: no rsmmvp_tasks/evaluation/answers.py at that revision "
                         f"({shown.stderr.strip() or 'git show failed'}); pass a commit of this repository")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False, encoding="utf-8") as f:
        f.write(shown.stdout)
    try:
        return _reader(Path(f.name))
    finally:
        Path(f.name).unlink()


def _corpus_scores(read: Callable[[str, list[str]], object], cases: list[dict]) -> tuple[int, int]:
    """(wrong letters, agreements) of ``read`` on labelled ``cases``."""
    got = [read(c["response"], c["options"]) for c in cases]
    wrong = sum(g is not None and g != c["expected"] for g, c in zip(got, cases, strict=False))
    return wrong, sum(g == c["expected"] for g, c in zip(got, cases, strict=False))


def corpora_table(readers: dict[str, Callable[[str, list[str]], object]]) -> str:
    """The table of :func:`_corpus_scores` per corpus (rows) and reader (column pairs)."""
    head = f"{'corpus':24s} {'n':>4s}" + "".join(f" {name + ' wrong':>14s} {name + ' agree':>18s}" for name in readers)
    lines = [head]
    for path in CORPORA:
        cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        cells = ""
        for read in readers.values():
            wrong, agree = _corpus_scores(read, cases)
            cells += f" {wrong:14d} {f'{agree}/{len(cases)} ({agree / len(cases):.1%})':>18s}"
        lines.append(f"{path.stem:24s} {len(cases):4d}" + cells)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100", help="reply sizes in KB, comma-separated (default 1,10,100)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"which patterns (default all: {','.join(KINDS)})")
    parser.add_argument("--reader", type=Path, default=None, help="an answers.py to time instead of the installed one")
    parser.add_argument("--corpora", action="store_true", help="print wrong letters and agreement per labelled corpus")
    parser.add_argument("--before", metavar="REV", help="with --corpora: also the reader of this git revision")
    args = parser.parse_args()
    if args.corpora:
        readers = {"before": _reader_at(args.before)} if args.before else {}
        readers["after" if args.before else "reader"] = _reader(args.reader)
        print(corpora_table(readers))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    read = _reader(args.reader)
    print(f"{'kind':10s} " + " ".join(f"{f'{kb} KB ms/KB':>14s}" for kb in sizes)
          + "  " + " ".join(f"{f'ratio {kb}/{sizes[0]}':>12s}" for kb in sizes[1:]))
    worst = 0.0
    for kind in args.kinds.split(","):
        unit = KINDS[kind]
        per_kb = []
        for kb in sizes:
            reply = unit * max(1, kb * 1024 // len(unit))  # whole repetitions: every size ends alike
            per_kb.append(_seconds(read, reply) / (len(reply) / 1024) * 1000)
        ratios = [t / per_kb[0] for t in per_kb[1:]]
        worst = max([worst, *ratios])
        print(f"{kind:10s} " + " ".join(f"{t:14.3f}" for t in per_kb) + "  " + " ".join(f"{r:12.2f}" for r in ratios),
              flush=True)
    print(f"worst ratio of time per KB, largest to smallest size: {worst:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
