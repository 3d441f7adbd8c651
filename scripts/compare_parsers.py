"""Compare rsmmvp's answer reader with lmms-eval's built-in mmvp parser on the labelled corpus.

    python scripts/compare_parsers.py [--corpus tests/data/answer_corpus.jsonl]

Prints, per category and overall, how many replies each parser reads as a careful human does, how
many choices each *invents* (a letter where the reply states none), and the ratio ours / baseline.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from rsmmvp_tasks.evaluation.answers import extract_choice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parent.parent / "tests/data/answer_corpus.jsonl")
    args = parser.parse_args()
    from lmms_eval.tasks.mmvp.utils import _extract_answer_letter

    cases = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in cases:
        ours = extract_choice(c["response"], c["options"])
        theirs = _extract_answer_letter(c["response"]) or None
        for key in (c["category"], "ALL"):
            s = stats[key]
            s["n"] += 1
            s["ours"] += ours == c["expected"]
            s["base"] += theirs == c["expected"]
            s["ours_invented"] += c["expected"] is None and ours is not None
            s["base_invented"] += c["expected"] is None and theirs is not None
    print(f"{'category':20s} {'n':>4s} {'ours':>7s} {'mmvp':>7s} {'ratio':>6s} {'invented ours/mmvp':>19s}")
    for key in sorted(stats, key=lambda k: (k == "ALL", k)):
        s = stats[key]
        ratio = s["ours"] / s["base"] if s["base"] else float("inf")
        print(f"{key:20s} {s['n']:4d} {s['ours'] / s['n']:7.1%} {s['base'] / s['n']:7.1%} {ratio:6.2f} "
              f"{s['ours_invented']:>9d}/{s['base_invented']:<9d}")


if __name__ == "__main__":
    main()
