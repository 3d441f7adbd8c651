"""Scoring people: ``rsmmvp human score EXPORT.json... --dataset DATASET --out DIR``.

Each answer file exported by the page of :mod:`rsmmvp_tasks.human.page` is checked against the
dataset (same fingerprint, known item ids, choices among the question's option letters), then scored
**with the models' scorer**: every answer goes through the rsmmvp task's own ``process_results``
(the choice is the reply; "I cannot tell" is an empty reply, so it counts as unreadable and wrong,
and no LLM judge is ever asked about it), and every metric through the task's own aggregation
(:data:`rsmmvp_tasks.evaluation.task.AGGREGATIONS`) -- question and pair accuracy, their intervals
and standard errors, the unreadable rate, per-pattern pair accuracy and the details.

Written per annotator (and, with three or more annotators, for their majority vote), in lmms-eval's
layout so that ``rsmmvp leaderboard collect DIR`` reads them as rows like any model run::

    DIR/human/<annotator>/<YYYYmmdd_HHMMSS>_results.json          # results.<task>, config.model = "human"
    DIR/human/<annotator>/<YYYYmmdd_HHMMSS>_samples_<task>.jsonl  # one line per answered question
    DIR/human/agreement.json                                      # agreement between the annotators

``config.model_args`` is ``annotator=<name>`` (``annotators=<a>+<b>+<c>,vote=majority`` for the
vote). A question an annotator did not answer is left out of their run (``n-samples`` effective <
original), so its pair is incomplete and the leaderboard says so; an unfinished annotator is
reported, never padded.

Agreement (over the questions every annotator answered; "I cannot tell" is a category of its own):
the share of questions on which all agree, Cohen's kappa for every two annotators, Fleiss' kappa
for all of them. The majority vote takes, per question answered by all, the choice of more than
half of the annotators, else "cannot tell" (wrong).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.human.page import EXPORT_FORMAT, HumanDataset
from rsmmvp_tasks.schema import option_letters

__all__ = [
    "MODEL_NAME",
    "Annotator",
    "read_export",
    "majority_vote",
    "cohen_kappa",
    "fleiss_kappa",
    "agreement",
    "results_json",
    "score_annotators",
]

log = logging.getLogger(__name__)

#: ``config.model`` of every results file written here
MODEL_NAME = "human"
#: the label of "I cannot tell" in agreement statistics
CANNOT_TELL = "cannot tell"
#: fewest annotators for a majority-vote run
MIN_VOTERS = 3


@dataclass
class Annotator:
    """One person's answers: ``choices`` maps a row index to a letter or ``None`` ("I cannot tell")."""

    name: str
    source: str
    choices: dict[int, str | None]
    seconds: dict[int, float] = field(default_factory=dict)
    model_args: str = ""

    def __post_init__(self) -> None:
        if not self.model_args:
            self.model_args = f"annotator={self.name}"


def _name_from(value: Any, path: Path) -> str:
    name = re.sub(r"[\s,=+/\\]+", "_", str(value or "").strip()).strip("_.")
    return name or re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)


def read_export(path: str | Path, dataset: HumanDataset) -> Annotator:
    """Read and check one answer file against ``dataset``; raises :class:`InputError` naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable answer file ({exc})") from exc
    if not isinstance(data, Mapping) or data.get("format") != EXPORT_FORMAT or not isinstance(data.get("answers"), list):
        raise InputError(f"{path}: not an answer file of `rsmmvp human` (format {EXPORT_FORMAT!r} with an 'answers' list)")
    if data.get("dataset_fingerprint") != dataset.fingerprint:
        raise InputError(
            f"{path}: these answers were given on another dataset (fingerprint {str(data.get('dataset_fingerprint'))[:12]}..., "
            f"{dataset.source} has {dataset.fingerprint[:12]}...): score them with the dataset their page was made from"
        )
    rows = dataset.ids()
    choices: dict[int, str | None] = {}
    seconds: dict[int, float] = {}
    for number, answer in enumerate(data["answers"], start=1):
        if not isinstance(answer, Mapping) or answer.get("id") not in rows:
            raise InputError(f"{path}: answer {number} names no question of {dataset.source} ({answer!r:.80})")
        row = rows[answer["id"]]
        index = int(row["index"])
        if index in choices:
            raise InputError(f"{path}: question {answer['id']} is answered twice")
        choice = answer.get("choice")
        letters = option_letters(len(row["options"]))
        if choice is not None and choice not in letters:
            raise InputError(f"{path}: answer {number}: choice {choice!r} is none of {letters} (or null for 'cannot tell')")
        choices[index] = choice
        if isinstance(answer.get("seconds"), (int, float)) and not isinstance(answer.get("seconds"), bool):
            seconds[index] = float(answer["seconds"])
    return Annotator(name=_name_from(data.get("annotator"), path), source=str(path), choices=choices, seconds=seconds)


def majority_vote(annotators: Sequence[Annotator]) -> Annotator:
    """The choice of more than half of the annotators per question answered by all, else ``None``."""
    common = set.intersection(*(set(a.choices) for a in annotators))
    choices: dict[int, str | None] = {}
    for index in sorted(common):
        votes = Counter(a.choices[index] for a in annotators)
        choice, count = votes.most_common(1)[0]
        choices[index] = choice if count * 2 > len(annotators) else None
    names = "+".join(a.name for a in annotators)
    return Annotator(name="majority", source=", ".join(a.source for a in annotators), choices=choices,
                     model_args=f"annotators={names},vote=majority")


def _label(choice: str | None) -> str:
    return CANNOT_TELL if choice is None else choice


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels over the same items (``None`` when undefined)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[c] * cb[c] for c in set(ca) | set(cb)) / (n * n)
    return None if math.isclose(expected, 1.0) else (observed - expected) / (1.0 - expected)


def fleiss_kappa(labels: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa of ``labels[item][rater]`` (the same number of raters per item; ``None`` when undefined)."""
    if not labels or len(labels[0]) < 2:
        return None
    raters = len(labels[0])
    counts = [Counter(item) for item in labels]
    categories = set().union(*counts)
    agreement_per_item = [(sum(v * v for v in c.values()) - raters) / (raters * (raters - 1)) for c in counts]
    observed = sum(agreement_per_item) / len(labels)
    shares = [sum(c[k] for c in counts) / (len(labels) * raters) for k in categories]
    expected = sum(p * p for p in shares)
    return None if math.isclose(expected, 1.0) else (observed - expected) / (1.0 - expected)


def agreement(annotators: Sequence[Annotator]) -> dict[str, Any]:
    """Agreement between the annotators over the questions all of them answered (module docstring)."""
    common = sorted(set.intersection(*(set(a.choices) for a in annotators))) if annotators else []
    labels = [[_label(a.choices[i]) for a in annotators] for i in common]
    pairwise = []
    for x, y in itertools.combinations(range(len(annotators)), 2):
        a = [row[x] for row in labels]
        b = [row[y] for row in labels]
        pairwise.append({
            "annotators": [annotators[x].name, annotators[y].name],
            "questions": len(common),
            "agreement": (sum(p == q for p, q in zip(a, b)) / len(common)) if common else None,
            "cohen_kappa": cohen_kappa(a, b),
        })
    return {
        "annotators": [a.name for a in annotators],
        "questions_answered_by_all": len(common),
        "all_agree": (sum(len(set(row)) == 1 for row in labels) / len(labels)) if labels and len(annotators) > 1 else None,
        "fleiss_kappa": fleiss_kappa(labels) if len(annotators) > 1 else None,
        "pairwise": pairwise,
        "categories": "option letters, and 'cannot tell'",
    }


def _records(annotator: Annotator, dataset: HumanDataset) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """The task's per-metric values (lmms-eval's ``sample_metrics``) and the samples lines of one annotator."""
    from rsmmvp_tasks.evaluation import judge
    from rsmmvp_tasks.evaluation.task import process_results

    values: dict[str, list[Any]] = {}
    lines = []
    by_index = {int(r["index"]): r for r in dataset.rows}
    with judge.disabled():  # a person's "cannot tell" is final
        for doc_id, index in enumerate(sorted(annotator.choices)):
            row = by_index[index]
            reply = annotator.choices[index] or ""
            out = process_results(row, [reply])
            for key, value in out.items():
                values.setdefault(key, []).append(value)
            doc = {k: row[k] for k in ("index", "pair_id", "question", "options", "answer", "pattern")}
            lines.append({"doc_id": doc_id, "doc": doc, "target": row["answer"], "arguments": [],
                          "resps": [[reply]], "filtered_resps": [reply],
                          "seconds": annotator.seconds.get(index), **out})
    return values, lines


def results_json(annotator: Annotator, dataset: HumanDataset, task: str, *, date: str,
                 extra: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``(results JSON, samples lines)`` of one annotator, in lmms-eval 0.7.3's shape (module docstring)."""
    from rsmmvp_tasks.evaluation.task import AGGREGATIONS
    from rsmmvp_tasks.evaluation import task as plain

    values, lines = _records(annotator, dataset)
    if not values:
        raise InputError(f"{annotator.source}: no answer to score")
    metrics: dict[str, Any] = {"alias": task}
    for key, items in values.items():  # lmms-eval's order: as process_results first returned them
        metrics[f"{key},none"] = getattr(plain, AGGREGATIONS[key])(items)
    higher = {m: not m.endswith("_stderr") and m != "unreadable_rate" for m in AGGREGATIONS}
    seconds = sorted(annotator.seconds.values())
    human = {
        "annotator": annotator.name,
        "answers_file": annotator.source,
        "answered": len(annotator.choices),
        "cannot_tell": sum(c is None for c in annotator.choices.values()),
        "median_seconds": seconds[len(seconds) // 2] if seconds else None,
        **(extra or {}),
    }
    results = {
        "results": {task: metrics},
        "group_subtasks": {task: []},
        "configs": {task: {"task": task, "dataset_path": dataset.source, "output_type": "human"}},
        "versions": {task: None},
        "n-shot": {task: 0},
        "higher_is_better": {task: higher},
        "n-samples": {task: {"original": len(dataset.rows), "effective": len(annotator.choices)}},
        "config": {"model": MODEL_NAME, "model_args": annotator.model_args, "batch_size": None, "limit": None,
                   "offset": 0},
        "lmms_eval_version": None,
        "date": date,
        "model_name": MODEL_NAME,
        "rsmmvp_human": human,
    }
    return results, lines


def default_task(dataset: HumanDataset, given: str) -> str:
    """The lmms-eval task whose rows the human rows join: the shipped sample and the hub benchmark are known."""
    from rsmmvp_tasks.dataset.hub import HUB_REPO_ID

    if given == HUB_REPO_ID:
        return "rsmmvp"
    try:
        from rsmmvp_tasks.human.page import load_human_dataset
        from rsmmvp_tasks.paths import mini_dataset_dir

        if load_human_dataset(mini_dataset_dir() / "rsmmvp_mini.parquet").fingerprint == dataset.fingerprint:
            return "rsmmvp_mini"
    except (OSError, InputError):  # pragma: no cover - the sample ships with the package
        pass
    raise UsageError(
        f"--task is needed: {given} is neither the shipped sample nor {HUB_REPO_ID}; name the lmms-eval task your "
        "models were evaluated on with this dataset (the task of your YAML), so the human row joins theirs"
    )


def _dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "annotator"


def score_annotators(exports: Sequence[str | Path], dataset_source: str, out_dir: str | Path, *,
                     task: str | None = None) -> list[tuple[Annotator, Path, dict[str, Any]]]:
    """Score every answer file; write the results files and ``agreement.json`` (module docstring).

    Returns ``(annotator, results path, results JSON)`` per written run, the majority vote last.
    """
    from rsmmvp_tasks.fileio import atomic_write_text
    from rsmmvp_tasks.human.page import load_human_dataset

    if not exports:
        raise UsageError("give at least one answer file (EXPORT.json) to score")
    dataset = load_human_dataset(dataset_source)
    task = task or default_task(dataset, dataset_source)
    annotators = [read_export(p, dataset) for p in exports]
    seen: Counter[str] = Counter()
    for a in annotators:  # two files of the same person, or two unnamed "answers": keep the rows apart
        seen[a.name] += 1
        if seen[a.name] > 1:
            a.name = f"{a.name}_{seen[a.name]}"
            a.model_args = f"annotator={a.name}"
    runs = list(annotators)
    if len(annotators) >= MIN_VOTERS:
        runs.append(majority_vote(annotators))
    agreed = agreement(annotators)
    root = Path(out_dir) / MODEL_NAME
    date = datetime.now().strftime("%Y%m%d_%H%M%S")
    written = []
    for a in runs:
        unanswered = len(dataset.rows) - len(a.choices)
        if unanswered:
            log.warning("%s: %d of %d questions unanswered: left out of the run, their pairs are incomplete",
                        a.name, unanswered, len(dataset.rows))
        results, lines = results_json(a, dataset, task, date=date, extra={"agreement": agreed})
        folder = root / _dir_name(a.name)
        folder.mkdir(parents=True, exist_ok=True)
        path = atomic_write_text(folder / f"{date}_results.json", json.dumps(results, indent=2, ensure_ascii=False))
        atomic_write_text(folder / f"{date}_samples_{task}.jsonl",
                          "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        written.append((a, path, results))
    atomic_write_text(root / "agreement.json", json.dumps(agreed, indent=2, ensure_ascii=False))
    return written
