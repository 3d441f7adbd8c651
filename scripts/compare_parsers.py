"""Compare rsmmvp's answer reader with lmms-eval's built-in mmvp parser on the labelled corpora.

    python scripts/compare_parsers.py [--corpus FILE.jsonl ...]

By default the three corpora are read: ``tests/data/answer_corpus.jsonl`` (written alongside the rules),
``tests/data/answer_corpus_unseen.jsonl`` (written before running the reader on it, plus replies of
the tiny random models the tests use) and ``tests/data/answer_corpus_heldout.jsonl`` (issue 16: written
and committed before the reader was changed). Prints, per corpus and category and overall, how
many replies each parser reads as a careful human does, how many *wrong letters* each returns (a
letter where the human reads another letter or none: worse than no reading), how many replies each
leaves unread where the human reads a letter, and the ratio ours / baseline.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from rsmmvp_tasks.evaluation.answers import extract_choice

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
DEFAULT_CORPORA = [DATA / "answer_corpus.jsonl", DATA / "answer_corpus_unseen.jsonl", DATA / "answer_corpus_heldout.jsonl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=DEFAULT_CORPORA, help="labelled JSONL files")
    args = parser.parse_args()
    from lmms_eval.tasks.mmvp.utils import _extract_answer_letter

    header = (f"{'corpus / category':34s} {'n':>4s} {'ours':>7s} {'mmvp':>7s} {'ratio':>6s} "
              f"{'wrong ours/mmvp':>16s} {'unread ours/mmvp':>17s}")
    for path in args.corpus:
        cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for c in cases:
            ours = extract_choice(c["response"], c["options"])
            theirs = _extract_answer_letter(c["response"]) or None
            for key in (c["category"], "ALL"):
                s = stats[key]
                s["n"] += 1
                for name, got in (("ours", ours), ("base", theirs)):
                    s[name] += got == c["expected"]
                    s[f"{name}_wrong"] += got is not None and got != c["expected"]
                    s[f"{name}_unread"] += got is None and c["expected"] is not None
        print(f"\n{path.name}\n{header}")
        for key in sorted(stats, key=lambda k: (k == "ALL", k)):
            s = stats[key]
            ratio = s["ours"] / s["base"] if s["base"] else float("inf")
            print(f"{key:34s} {s['n']:4d} {s['ours'] / s['n']:7.1%} {s['base'] / s['n']:7.1%} {ratio:6.2f} "
                  f"{s['ours_wrong']:>8d}/{s['base_wrong']:<7d} {s['ours_unread']:>8d}/{s['base_unread']:<8d}")


if __name__ == "__main__":
    main()
