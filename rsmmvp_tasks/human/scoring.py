"""Scoring people: ``rsmmvp human score EXPORT.json... --key PAGE_DIR --dataset DATASET --out DIR``.

Each answer file exported by the page of :mod:`rsmmvp_tasks.human.page` is mapped back to the
dataset by its page's key file and checked (a key made from this dataset, known item ids of the
right type, choices among the question's option letters, finite ``seconds``), then scored
**with the models' scorer**: every answer goes through the rsmmvp task's own ``process_results``
(the choice is the reply; "I cannot tell" is an empty reply, so it counts as unreadable and wrong,
and no LLM judge is ever asked about it), and every metric through the task's own aggregation
(:func:`rsmmvp_tasks.evaluation.aggregation.aggregate`) -- question and pair accuracy, their intervals
and standard errors, the unreadable rate, per-pattern pair accuracy and the details.

Written per annotator (and, with three or more annotators, for their majority vote), in lmms-eval's
layout so that ``rsmmvp leaderboard collect DIR`` reads them as rows like any model run::

    DIR/human/<annotator>/<YYYYmmdd_HHMMSS>_results.json          # results.<task>, config.model = "human", UTC
    DIR/human/<annotator>/<YYYYmmdd_HHMMSS>_samples_<task>.jsonl  # one line per answered question
    DIR/human/agreement.json                                      # agreement between the annotators

``config.model_args`` is ``annotator=<name>`` (``annotators=<a>+<b>+<c>,vote=majority`` for the
vote); ``<annotator>`` is :func:`annotator_name` made unique by :func:`unique_names`, and ``date``
the UTC instant in ISO 8601 with its offset. Every JSON written refuses NaN and infinity
(:func:`dump_json`). A question an annotator did not answer is left out of their run (``n-samples`` effective <
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
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rsmmvp_tasks.dataset.hub import HUB_REPO_ID
from rsmmvp_tasks.dataset.tasknames import task_dataset
from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.evaluation import judge
from rsmmvp_tasks.evaluation.aggregation import METRICS, aggregate, higher_is_better
from rsmmvp_tasks.evaluation.task import process_results
from rsmmvp_tasks.fileio import atomic_write_text, owned_outputs
from rsmmvp_tasks.human.page import (
    EXPORT_FORMAT,
    LEGACY_EXPORT_FORMAT,
    HumanDataset,
    PageKey,
    load_human_dataset,
    read_page_keys,
)
from rsmmvp_tasks.paths import mini_dataset_dir
from rsmmvp_tasks.schema import option_letters

__all__ = [
    "MODEL_NAME",
    "RESERVED_NAMES",
    "Annotator",
    "annotator_name",
    "unique_names",
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
#: the folder of the majority vote
MAJORITY = "majority"
#: names no annotator's folder takes (compared case-insensitively): the vote's folder and the agreement file
RESERVED_NAMES = frozenset({MAJORITY, "agreement.json"})
#: the longest annotator name kept (characters)
MAX_NAME_CHARS = 64


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


def annotator_name(value: Any, fallback: str = "") -> str:
    """A name safe as a folder and as a ``model_args`` value, keeping every script's letters.

    NFC-normalised; every character that is not a letter, digit, ``-`` or ``.`` of any script (so
    ``张伟`` stays ``张伟``) becomes ``_``; no leading or trailing ``_``/``.``; at most
    :data:`MAX_NAME_CHARS` characters. An empty result takes ``fallback`` (the answer file's stem)
    the same way, and ``"annotator"`` after that.
    """
    for text in (value, fallback):
        if isinstance(text, str) or isinstance(text, (int, float)) and not isinstance(text, bool):
            name = unicodedata.normalize("NFC", str(text))
            name = re.sub(r"[^\w.-]+|_+", "_", name).strip("_.")[:MAX_NAME_CHARS].strip("_.")
            if name:
                return name
    return "annotator"


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` made unique, case-insensitively, and never one of :data:`RESERVED_NAMES`.

    A name is kept the first time it occurs; a repeat (or a reserved name) takes the first
    ``<name>_<k>`` (k = 2, 3, ...) that no given name spells, so ``a, a, a_2`` gives
    ``a, a_3, a_2``. The result depends only on the names and their order.
    """
    given = {n.casefold() for n in names}
    used: set[str] = set()
    result = []
    for name in names:
        chosen = name
        if chosen.casefold() in used or chosen.casefold() in RESERVED_NAMES:
            k = 2
            while any(f"{name}_{k}".casefold() in taken for taken in (used, given, RESERVED_NAMES)):
                k += 1
            chosen = f"{name}_{k}"
        used.add(chosen.casefold())
        result.append(chosen)
    return result


def _finite_seconds(value: Any, path: Path, number: int) -> float | None:
    """An answer's ``seconds``: ``None`` when absent, else a finite number >= 0 (else :class:`InputError`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InputError(f"{path}: answer {number}: 'seconds' is {value!r:.40}, not a finite number of seconds >= 0")
    return float(value)


def _item_rows(data: Mapping[str, Any], path: Path, dataset: HumanDataset,
               keys: Mapping[str, PageKey]) -> dict[str, dict[str, Any]]:
    """``{item id: row}`` for the page the answers were given on (its key, or the legacy ids)."""
    if data.get("format") == LEGACY_EXPORT_FORMAT:
        if data.get("dataset_fingerprint") != dataset.fingerprint:
            raise InputError(
                f"{path}: these answers were given on another dataset (fingerprint "
                f"{str(data.get('dataset_fingerprint'))[:12]}..., {dataset.source} has {dataset.fingerprint[:12]}...): "
                "score them with the dataset their page was made from"
            )
        return dataset.legacy_ids()
    page_id = data.get("page_id")
    if not isinstance(page_id, str) or not page_id:
        raise InputError(f"{path}: field 'page_id' is {page_id!r:.40}, not the id of a page")
    if not keys:
        raise UsageError(f"{path}: scoring answers needs the key of the page they were given on: add --key DIR "
                         "(the folder `rsmmvp human page` wrote) or --key DIR/DO-NOT-PUBLISH.human-key.<id>.json")
    key = keys.get(page_id)
    if key is None:
        raise InputError(f"{path}: was answered on page {page_id}, whose key is not among the --key files given "
                         f"({', '.join(sorted(keys))}): add the key file of that page")
    if key.dataset_fingerprint != dataset.fingerprint:
        raise InputError(
            f"{key.source}: this page was made from another dataset (fingerprint {key.dataset_fingerprint[:12]}..., "
            f"{dataset.source} has {dataset.fingerprint[:12]}...): score its answers with the dataset the page was made from"
        )
    by_index = dataset.by_index()
    missing = sorted({i for i in key.items.values() if i not in by_index})
    if missing:
        raise InputError(f"{key.source}: names row indices {missing[:5]} that {dataset.source} does not have")
    return {item: by_index[index] for item, index in key.items.items()}


def read_export(path: str | Path, dataset: HumanDataset, keys: Mapping[str, PageKey] | None = None) -> Annotator:
    """Read and check one answer file against ``dataset``; raises :class:`InputError` naming the file and field.

    An answer file of :data:`EXPORT_FORMAT` is mapped back to rows by the key of its page (``keys``:
    ``{page id: key}``, :func:`~rsmmvp_tasks.human.page.read_page_keys`; none given is a
    :class:`UsageError`); one of :data:`LEGACY_EXPORT_FORMAT` by its fingerprint-derived ids. Item ids
    must be strings of the page, choices one of the question's letters or ``null``, ``seconds`` a
    finite number >= 0.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable answer file ({exc})") from exc
    if (not isinstance(data, Mapping) or data.get("format") not in (EXPORT_FORMAT, LEGACY_EXPORT_FORMAT)
            or not isinstance(data.get("answers"), list)):
        raise InputError(f"{path}: not an answer file of `rsmmvp human` (format {EXPORT_FORMAT!r} with an 'answers' list)")
    rows = _item_rows(data, path, dataset, keys or {})
    choices: dict[int, str | None] = {}
    seconds: dict[int, float] = {}
    for number, answer in enumerate(data["answers"], start=1):
        item = answer.get("id") if isinstance(answer, Mapping) else None
        if not isinstance(item, str) or item not in rows:
            raise InputError(f"{path}: answer {number}: field 'id' names no question of {dataset.source} ({answer!r:.80})")
        row = rows[item]
        index = int(row["index"])
        if index in choices:
            raise InputError(f"{path}: question {item} is answered twice")
        choice = answer.get("choice")
        letters = option_letters(len(row["options"]))
        if choice is not None and (not isinstance(choice, str) or choice not in letters):
            raise InputError(f"{path}: answer {number}: field 'choice' is {choice!r:.40}, none of {letters} "
                             "(or null for 'cannot tell')")
        choices[index] = choice
        spent = _finite_seconds(answer.get("seconds"), path, number)
        if spent is not None:
            seconds[index] = spent
    return Annotator(name=annotator_name(data.get("annotator"), path.stem), source=str(path), choices=choices,
                     seconds=seconds)


def majority_vote(annotators: Sequence[Annotator]) -> Annotator:
    """The choice of more than half of the annotators per question answered by all, else ``None``."""
    common = set.intersection(*(set(a.choices) for a in annotators))
    choices: dict[int, str | None] = {}
    for index in sorted(common):
        votes = Counter(a.choices[index] for a in annotators)
        choice, count = votes.most_common(1)[0]
        choices[index] = choice if count * 2 > len(annotators) else None
    names = "+".join(a.name for a in annotators)
    return Annotator(name=MAJORITY, source=", ".join(a.source for a in annotators), choices=choices,
                     model_args=f"annotators={names},vote=majority")


def _label(choice: str | None) -> str:
    return CANNOT_TELL if choice is None else choice


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels over the same items (``None`` when undefined)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
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
            "agreement": (sum(p == q for p, q in zip(a, b, strict=True)) / len(common)) if common else None,
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
    values, lines = _records(annotator, dataset)
    if not values:
        raise InputError(f"{annotator.source}: no answer to score")
    metrics: dict[str, Any] = {"alias": task}
    for key, items in values.items():  # lmms-eval's order: as process_results first returned them
        metrics[f"{key},none"] = aggregate(items)
    higher = {m: higher_is_better(m) for m in METRICS}
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
    """The lmms-eval task whose rows the human rows join: the shipped sample and the hub benchmark are known.

    ``given`` may be the hub id or a shipped task name (``rsmmvp``, ``rsmmvp_cot``...: the plain task
    of its dataset); the shipped sample is recognised by its fingerprint, however it was given.
    """
    if given == HUB_REPO_ID or task_dataset(given) == HUB_REPO_ID:
        return "rsmmvp"
    try:
        if load_human_dataset(mini_dataset_dir() / "rsmmvp_mini.parquet").fingerprint == dataset.fingerprint:
            return "rsmmvp_mini"
    except (OSError, InputError):  # pragma: no cover - the sample ships with the package
        pass
    raise UsageError(
        f"--task is needed: {given} is neither the shipped sample nor {HUB_REPO_ID}; name the lmms-eval task your "
        "models were evaluated on with this dataset (the task of your YAML), so the human row joins theirs"
    )


def dump_json(data: Any, *, indent: int | None = 2) -> str:
    """``data`` as JSON for a results file; a NaN or infinity is a :class:`ValueError`, never ``Infinity``."""
    return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)


def score_annotators(exports: Sequence[str | Path], dataset_source: str, out_dir: str | Path, *,
                     task: str | None = None, keys: Iterable[str | Path] = (),
                     now: datetime | None = None,
                     overwrite: bool = False) -> list[tuple[Annotator, Path, dict[str, Any]]]:
    """Score every answer file; write the results files and ``agreement.json`` (module docstring), never
    over a file rsmmvp did not write there or one edited since (:func:`~rsmmvp_tasks.fileio.owned_outputs`;
    ``overwrite`` replaces them).

    ``keys``: the key files (or page folders holding them) of the pages answered
    (:func:`~rsmmvp_tasks.human.page.read_page_keys`). Each annotator's folder is their
    :func:`annotator_name`, made unique by :func:`unique_names`. The run's ``date`` is the instant
    ``now`` (default: the current time) in UTC, ISO 8601 with its offset (``2026-01-02T03:04:05+00:00``);
    the file names carry the same instant as ``YYYYmmdd_HHMMSS`` in UTC.
    Returns ``(annotator, results path, results JSON)`` per written run, the majority vote last.
    """
    if not exports:
        raise UsageError("give at least one answer file (EXPORT.json) to score")
    dataset = load_human_dataset(dataset_source)
    task = task or default_task(dataset, dataset_source)
    page_keys = read_page_keys(keys)
    annotators = [read_export(p, dataset, page_keys) for p in exports]
    # two files of one person, two unnamed "answers", a person called "majority": keep the rows apart
    for a, name in zip(annotators, unique_names([a.name for a in annotators]), strict=True):
        a.name, a.model_args = name, f"annotator={name}"
    runs = list(annotators)
    if len(annotators) >= MIN_VOTERS:
        runs.append(majority_vote(annotators))
    agreed = agreement(annotators)
    root = Path(out_dir) / MODEL_NAME
    instant = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    date, stamp = instant.isoformat(), instant.strftime("%Y%m%d_%H%M%S")
    written = []
    targets = [f"{a.name}/{stamp}_{kind}" for a in runs for kind in ("results.json", f"samples_{task}.jsonl")]
    with owned_outputs(root, [*targets, "agreement.json"], overwrite=overwrite):
        for a in runs:
            unanswered = len(dataset.rows) - len(a.choices)
            if unanswered:
                log.warning("%s: %d of %d questions unanswered: left out of the run, their pairs are incomplete",
                            a.name, unanswered, len(dataset.rows))
            results, lines = results_json(a, dataset, task, date=date, extra={"agreement": agreed})
            folder = root / a.name
            folder.mkdir(parents=True, exist_ok=True)
            path = atomic_write_text(folder / f"{stamp}_results.json", dump_json(results))
            atomic_write_text(folder / f"{stamp}_samples_{task}.jsonl",
                              "".join(dump_json(line, indent=None) + "\n" for line in lines))
            written.append((a, path, results))
        atomic_write_text(root / "agreement.json", dump_json(agreed))
    return written
