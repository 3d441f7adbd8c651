"""Reading lmms-eval runs of the rsmmvp tasks: results JSON, samples JSONL, one :class:`Run` per task.

Layout written by lmms-eval 0.7.3 with ``--output_path DIR`` (and ``--log_samples``)::

    DIR/<model>/<ts>_results.json            # every task of the run
    DIR/<model>/<ts>_samples_<task>.jsonl    # one line per question, with our record
    (the dummy model has no name: its files land directly in DIR)

``--hf_hub_log_args`` pushes the same file names to a hub dataset repo, the results under the
model name and the samples under the sanitised model name, so a samples file is looked for beside
its results file first and then anywhere under the folder being read.

A :class:`Run` is one rsmmvp task of one results file (a results file of ``--tasks
rsmmvp,rsmmvp_cot`` holds two). Its numbers come from
:func:`rsmmvp_tasks.evaluation.results.read_details` -- the one reader of what our task writes --
and, when the samples were logged, its per-pair outcomes come from the records in the samples
(checked against the results: a samples file of another run is refused, never mixed in).

What makes a run unfit for a leaderboard is listed by :meth:`Run.problems` (``--limit``, an
offset, incomplete pairs, no dataset fingerprint); numbers that cannot be read at all raise
:class:`~rsmmvp_tasks.errors.InputError` naming the file.

Every field read from a results or samples file is checked where it is read: a field of the wrong
type (``config.offset: "3"``, ``per_pattern: []``, ``date: 1e20``, a non-numeric ``index``, one
question logged twice) raises :class:`~rsmmvp_tasks.errors.InputError` naming the file and the field.

A run's samples are its own only when they are tied to its results file: the samples file lmms-eval
wrote beside it with the same timestamp (or, for ``--hf_hub_log_args`` layouts, the same timestamp
under the results' own ``model_name_sanitized`` folder), whose records give back every number of the
results' details. Nothing else is searched for; without such a file the run has no samples.

Identity and time
-----------------
:class:`RunIdentity` (``run.identity``) is what makes two runs "the same": task and protocol,
dataset fingerprint, the model normalised (:func:`normalise_model_args`: parsed, sorted, stripped,
secrets dropped), the judge (``"off"``, or its model and prompt version when some judge call
answered: a run whose every judge call failed was not judged) and the scoring version.
``run.finished_at`` is an aware UTC datetime: lmms-eval stamps ``date`` as local time of
``--timezone`` (its default ``Asia/Singapore``, recorded in ``config.resolved_cli_args.timezone``);
an ISO 8601 string with an offset (``human score``) or epoch seconds are taken as they are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.evaluation.results import records_digest
from rsmmvp_tasks.secrets import drop_secret_args, redact

__all__ = [
    "RESULTS_SUFFIX",
    "LMMS_EVAL_DEFAULT_TIMEZONE",
    "PairOutcome",
    "RunIdentity",
    "Run",
    "normalise_model_args",
    "protocol_of",
    "judge_identity",
    "run_instant",
    "format_instant",
    "find_results_files",
    "find_samples_file",
    "rsmmvp_tasks_in",
    "read_sample_records",
    "load_run",
    "load_runs",
    "load_single_run",
    "model_label",
]

#: lmms-eval's results file name ends so: ``<YYYYmmdd_HHMMSS>_results.json``
RESULTS_SUFFIX = "_results.json"

#: the fields of our per-question record (written by ``rsmmvp_tasks.evaluation.task.process_results``)
RECORD_KEYS = frozenset({"pair_id", "pred", "answer"})

#: the zone lmms-eval 0.7.3 stamps ``date`` in when ``--timezone`` is not given
LMMS_EVAL_DEFAULT_TIMEZONE = "Asia/Singapore"
_LMMS_STAMP = re.compile(r"^(\d{8})_(\d{6})$")
#: ``model_args`` keys naming the weights, whose value gives a run's short label
_WEIGHTS_KEYS = ("pretrained", "model_path", "model_name_or_path", "model_id", "model_version", "model")


def normalise_model_args(value: Any) -> str:
    """``--model_args`` as one canonical string: ``key=value`` items parsed (lmms-eval splits on ``,``
    and the first ``=``), whitespace stripped, empty items dropped, secret items dropped (a key the
    package's scrubber masks, or a token-shaped value), sorted by key.

    >>> normalise_model_args("pretrained=x, dtype=float32")
    'dtype=float32,pretrained=x'
    >>> normalise_model_args(" dtype=float32,pretrained=x,token=hf_abcdefghijklmnopqrstuvwx")
    'dtype=float32,pretrained=x'
    """
    if value is None:
        return ""
    pairs: list[tuple[str, str | None]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k).strip(), None if v is None else str(v).strip()) for k, v in value.items()]
    else:
        for part in str(value).split(","):
            key, eq, val = part.partition("=")
            pairs.append((key.strip(), val.strip() if eq else None))
    kept = drop_secret_args({k: v for k, v in pairs if k and redact(k) == k})  # a secret is not part of what the model is
    return ",".join(sorted(k if v is None else f"{k}={v}" for k, v in kept.items()))


def _args_dict(normalised: str) -> dict[str, str]:
    return {k: v for k, _, v in (p.partition("=") for p in normalised.split(",") if p)}


def _is_local_path(value: str) -> bool:
    """A filesystem path rather than a hub id (``org/name``): absolute, relative, home, or 3+ parts."""
    return value.startswith(("/", "./", "../", "~", ".\\")) or "\\" in value or value.count("/") >= 2


def protocol_of(task: str, details: Mapping[str, Any]) -> str:
    """``"circular"`` (details hold a ``circular`` entry, or the task is ``*_circular``), ``"cot"``
    (``*_cot``) or ``"plain"``."""
    if "circular" in details or task.endswith("_circular"):
        return "circular"
    if task.endswith("_cot"):
        return "cot"
    return "plain"


@dataclass(frozen=True)
class RunIdentity:
    """What makes two runs "the same model" on a board: every field equal.

    ``model`` is the model name with its normalised args (``"dummy (response=A)"``); ``judge`` is
    ``"off"`` or ``"<judge model> (prompt <version>)"``; ``scoring_version`` is the details'
    ``scoring_version`` (``"unrecorded (rsmmvp X)"`` for runs made before it was recorded).
    """

    task: str
    protocol: str
    fingerprint: str | None
    model: str
    judge: str
    scoring_version: str
    model_name: str = ""
    model_args: str = ""

    @property
    def judged(self) -> bool:
        return self.judge != "off"

    @property
    def short_label(self) -> str:
        """The model name, or what the weights args name: the last part of a local path, or a hub id."""
        args = _args_dict(self.model_args)
        for key in _WEIGHTS_KEYS:
            value = args.get(key, "").strip().rstrip("/\\")
            if value:
                return re.split(r"[/\\]", value)[-1] if _is_local_path(value) else value
        return self.model_name or self.model

    @property
    def full_label(self) -> str:
        """Every field, on one line: ``model · task (protocol) · dataset <fp12> · judge ... · scoring ...``."""
        fp = self.fingerprint[:12] if self.fingerprint else "not recorded"
        return (f"{self.model} \u00b7 {self.task} ({self.protocol}) \u00b7 dataset {fp} \u00b7 judge {self.judge} "
                f"\u00b7 scoring {self.scoring_version}")

    def describe(self) -> str:
        """One line naming every field in words (the full fingerprint)."""
        return (f"model {self.model}; task {self.task}, protocol {self.protocol}; dataset fingerprint "
                f"{self.fingerprint or 'not recorded'}; judge {self.judge}; scoring version {self.scoring_version}")

    def differences(self, other: "RunIdentity") -> list[str]:
        """What differs from ``other``, as ``"judge: gpt-x"``-style items of this identity (empty if equal)."""
        found = []
        if (self.task, self.protocol) != (other.task, other.protocol):
            found.append(f"{self.protocol}" if self.protocol != other.protocol else f"task: {self.task}")
        if self.fingerprint != other.fingerprint:
            found.append(f"dataset: {(self.fingerprint or 'not recorded')[:12]}")
        if self.model != other.model:
            found.append(f"model: {self.model}")
        if self.judge != other.judge:
            found.append(f"judge: {self.judge}")
        if self.scoring_version != other.scoring_version:
            found.append(f"scoring: {self.scoring_version}")
        return found

    def to_dict(self) -> dict[str, Any]:
        """The fields and both labels (what a board row stores)."""
        return {"task": self.task, "protocol": self.protocol, "fingerprint": self.fingerprint, "model": self.model,
                "judge": self.judge, "scoring_version": self.scoring_version, "model_name": self.model_name,
                "model_args": self.model_args, "short_label": self.short_label, "full_label": self.full_label}


def judge_identity(details: Mapping[str, Any]) -> str:
    """``"off"`` unless some judge call answered (a verdict, ``none`` or an unreadable verdict): a run whose
    every call failed (the judge switched off after a 401) was scored by the rules alone."""
    judge = details.get("judge")
    if not isinstance(judge, Mapping):
        return "off"
    active = judge.get("active")
    if not isinstance(active, bool):  # runs written before the summary said so: count the verdicts
        active = any(_count(judge.get(k)) and judge.get(k) > 0 for k in ("answered", "none", "unreadable"))
    if not active:
        return "off"

    def text(value: Any) -> str:
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    name = text(judge.get("model") or "unknown")
    prompt = text(judge.get("prompt_version") or details.get("judge_prompt_version") or "unrecorded")
    return f"{name} (prompt {prompt})"



@dataclass(frozen=True)
class PairOutcome:
    """One pair of a run, from the samples: right only if every one of its questions is right."""

    pair_id: str
    pattern: str
    complete: bool
    correct: bool
    #: ``{"index", "answer", "pred", "reply", "prompt"}`` per question, by index
    questions: tuple[dict[str, Any], ...]

    @property
    def question(self) -> str:
        """The pair's question: the first line of its prompt as lmms-eval logged it (``""`` if not logged)."""
        for q in self.questions:
            if q.get("prompt"):
                return str(q["prompt"]).strip().splitlines()[0]
        return ""


@dataclass
class Run:
    """One rsmmvp task of one lmms-eval results file.

    ``details`` is :func:`rsmmvp_tasks.evaluation.results.read_details` of the task (headline
    metrics with intervals, per-pattern pair accuracy, counts, fingerprint, rsmmvp version);
    ``pairs`` is ``None`` when the run logged no samples. ``finished_at`` is the instant the run was
    stamped (aware, UTC), ``None`` when the file's date names no instant (a naive ISO time);
    ``date`` is how it is shown (``2026-12-04T07:44:50Z``, or the file's text when unknown).
    """

    source: str
    task: str
    model: str
    model_args: str
    date: str
    lmms_eval_version: str | None
    limit: Any
    offset: int
    n_samples: dict[str, int]
    details: dict[str, Any]
    samples_source: str | None = None
    pairs: dict[str, PairOutcome] | None = None
    results: dict[str, Any] = field(default_factory=dict, repr=False)
    finished_at: datetime | None = None

    @property
    def normalised_args(self) -> str:
        """:func:`normalise_model_args` of the run's ``--model_args`` (sorted, secrets dropped)."""
        return normalise_model_args(self.model_args)

    @property
    def label(self) -> str:
        """``model (args)``: the model name with its normalised args (secrets dropped)."""
        return model_label(self.model, self.normalised_args)

    @property
    def shown_args(self) -> str:
        """``--model_args`` as shown and stored: normalised, secrets dropped."""
        return self.normalised_args

    @property
    def identity(self) -> RunIdentity:
        """What makes two runs "the same model" (:class:`RunIdentity`)."""
        return RunIdentity(
            task=self.task, protocol=protocol_of(self.task, self.details), fingerprint=self.dataset_fingerprint,
            model=self.label, judge=judge_identity(self.details), scoring_version=self.scoring_version,
            model_name=self.model, model_args=self.normalised_args,
        )

    @property
    def scoring_version(self) -> str:
        """The details' ``scoring_version``; ``"unrecorded (rsmmvp X)"`` for runs made before it was recorded."""
        value = self.details.get("scoring_version")
        return str(value) if value else f"unrecorded (rsmmvp {self.rsmmvp_version or '?'})"

    @property
    def position_bias(self) -> dict[str, Any] | None:
        """A circular run's position-bias rate with its 95% Wilson interval over the questions whose
        replies were all readable: ``{"value", "ci_low", "ci_high", "biased", "questions"}``; ``None``
        for other runs or when no question qualifies."""
        from rsmmvp_tasks.sharing.stats import wilson_interval

        entry = self.details.get("circular")
        if not isinstance(entry, Mapping):
            return None
        biased, n = entry.get("position_biased"), entry.get("all_readable")
        if not (_count(biased) and _count(n)) or not n or biased > n:
            return None
        low, high = wilson_interval(int(biased), int(n))
        return {"value": biased / n, "ci_low": low, "ci_high": high, "biased": int(biased), "questions": int(n)}

    @property
    def dataset_fingerprint(self) -> str | None:
        value = self.details.get("dataset_fingerprint")
        return str(value) if value else None

    @property
    def rsmmvp_version(self) -> str | None:
        value = self.details.get("rsmmvp_version")
        return str(value) if value else None

    def problems(self) -> list[str]:
        """Why this run does not measure the whole dataset (empty when it does)."""
        found = []
        original, effective = self.n_samples.get("original"), self.n_samples.get("effective")
        counted = f" ({effective} of {original} questions evaluated)" if original is not None else ""
        if self.limit is not None:
            limit = self.limit  # lmms-eval stores --limit 5 as 5.0 (a fraction below 1 is a share of the data)
            shown = int(limit) if isinstance(limit, float) and limit.is_integer() and limit >= 1 else limit
            found.append(f"made with --limit {shown}{counted}")
        elif original is not None and effective is not None and effective < original:
            found.append(f"only {effective} of {original} questions were evaluated")
        if self.offset:
            found.append(f"made with --offset {self.offset}")
        incomplete = list(self.details.get("incomplete_pairs") or [])
        if incomplete:
            shown = ", ".join(map(str, incomplete[:5])) + (f", ... (+{len(incomplete) - 5})" if len(incomplete) > 5 else "")
            found.append(f"{len(incomplete)} incomplete pair(s) left out of pair accuracy: {shown}")
        if not self.details.get("n_pairs"):
            found.append("no complete pair was evaluated")
        if not self.dataset_fingerprint:
            found.append("records no dataset fingerprint (made with an rsmmvp that did not record one)")
        return found

    def wrong_pairs(self) -> list[PairOutcome]:
        """Complete pairs the model got wrong (needs samples), by pattern then pair id."""
        if self.pairs is None:
            return []
        return sorted((p for p in self.pairs.values() if p.complete and not p.correct),
                      key=lambda p: (p.pattern, _natural_key(p.pair_id)))

    def outcomes(self) -> dict[str, bool] | None:
        """``{pair_id: right?}`` over complete pairs (``None`` without samples): what paired tests use."""
        if self.pairs is None:
            return None
        return {pid: p.correct for pid, p in self.pairs.items() if p.complete}


def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text)))


def model_label(model: str, model_args: Any) -> str:
    """``"dummy (response=A)"``: the name with :func:`normalise_model_args` of the args (secrets dropped)."""
    args = normalise_model_args(model_args)
    return f"{model} ({args})" if args else model


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def find_results_files(path: str | Path) -> list[Path]:
    """The lmms-eval results files at ``path``: the file itself, or every ``*_results.json`` below a folder."""
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        found = sorted(f for f in p.rglob(f"*{RESULTS_SUFFIX}") if f.is_file())
        if not found:
            raise InputError(
                f"{p}: no lmms-eval results file (*{RESULTS_SUFFIX}) in this folder; give the --output_path "
                "folder of an lmms-eval run, or one of its results files"
            )
        return found
    raise InputError(f"{p}: no such file or folder")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable lmms-eval results file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputError(f"{path}: not an lmms-eval results file (no 'results' object)")
    return data


def rsmmvp_tasks_in(results: Mapping[str, Any]) -> list[str]:
    """The tasks of a results JSON that were scored by rsmmvp (their metrics include ``pair_accuracy``)."""
    tasks = []
    for task, metrics in (results.get("results") or {}).items():
        if isinstance(metrics, Mapping) and any(str(k).split(",")[0].startswith("pair_accuracy") for k in metrics):
            tasks.append(str(task))
    return tasks


def _timestamp_prefix(results_path: Path) -> str:
    return results_path.name[: -len(RESULTS_SUFFIX)] if results_path.name.endswith(RESULTS_SUFFIX) else results_path.stem


def find_samples_file(results_path: Path, task: str, search_root: Path | None = None,
                      model_folder: str | None = None) -> list[Path]:
    """The samples files that can be ``task``'s of this results file: the one beside it with the same
    timestamp, then (hub layout) the same name in ``search_root/<model_folder>`` -- the results'
    ``model_name_sanitized``. Nothing else: a file found elsewhere in the tree may be another run's."""
    name = f"{_timestamp_prefix(results_path)}_samples_{task}.jsonl"
    candidates = [results_path.parent / name]
    if search_root is not None and model_folder and not Path(model_folder).is_absolute() \
            and ".." not in Path(model_folder).parts:
        candidates.append(search_root / model_folder / name)
    found: list[Path] = []
    for c in candidates:
        if c.is_file() and all(c.resolve() != f.resolve() for f in found):
            found.append(c)
    return found


def _record_of(line: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Our per-question record within one samples line: the line itself, or the first value holding it."""
    if RECORD_KEYS <= line.keys():
        return line
    for value in line.values():
        if isinstance(value, Mapping) and RECORD_KEYS <= value.keys():
            return value
    return None


def _reply_of(line: Mapping[str, Any]) -> str:
    for key in ("filtered_resps", "resps"):
        value = line.get(key)
        while isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str):
            return value
    return ""


def _integer(value: Any) -> int | None:
    """``value`` as an int when it is one (an int, an integral float, or digits), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


_ID_TYPES = (str, int)


def _check_record(record: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One samples record with its fields checked (``index`` an integer, ids text or integers, letters text
    or null); :class:`InputError` naming ``where`` and the field otherwise."""
    index = _integer(record.get("index"))
    if index is None:
        raise InputError(f"{where}: field 'index' is {record.get('index')!r}, not an integer question index")
    for name, types, nullable in (("pair_id", _ID_TYPES, False), ("answer", (str,), False), ("pred", (str,), True),
                                  ("pattern", (str,), True), ("source_index", (int,), True),
                                  ("variant", (int,), True)):
        value = record.get(name)
        if value is None and (nullable or name not in record):
            if not nullable and name in RECORD_KEYS:
                raise InputError(f"{where}: field {name!r} is missing or null")
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise InputError(f"{where}: field {name!r} is {value!r} ({type(value).__name__}), not "
                             + " or ".join(t.__name__ for t in types))
    size = record.get("pair_size", 2)
    if _integer(size) is None or _integer(size) < 1:
        raise InputError(f"{where}: field 'pair_size' is {size!r}, not a positive integer")
    order = record.get("option_order")
    if order is not None and (not isinstance(order, list) or not all(_integer(o) is not None for o in order)):
        raise InputError(f"{where}: field 'option_order' is {order!r}, not a list of positions")
    return {**record, "index": index}


def read_sample_records(path: str | Path) -> list[dict[str, Any]]:
    """Our records from a samples JSONL (``index``, ``pair_id``, ``pattern``, ``answer``, ``pred``, ...,
    plus ``reply``: the model's raw reply, and ``prompt``). Every field is checked
    (:class:`InputError` naming the line and the field): a question logged twice (one ``index`` on two
    lines) is refused, as is any line that is not one of our records."""
    path = Path(path)
    records = []
    seen: dict[int, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the samples file ({exc})") from exc
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InputError(f"{path}: line {number} is not JSON ({getattr(exc, 'msg', exc)})") from exc
        record = _record_of(line) if isinstance(line, Mapping) else None
        if record is None or "index" not in record:
            raise InputError(
                f"{path}: line {number} holds no rsmmvp record (index, pair_id, answer, pred); "
                "is this the samples file of an rsmmvp task?"
            )
        record = _check_record(record, f"{path}: line {number}")
        if record["index"] in seen:
            raise InputError(f"{path}: line {number}: field 'index' {record['index']} is the question of line "
                             f"{seen[record['index']]} again; each question is logged once per run -- keep each "
                             "run's samples file as lmms-eval wrote it")
        seen[record["index"]] = number
        prompt = line.get("input")
        records.append({**record, "reply": _reply_of(line), "prompt": prompt if isinstance(prompt, str) else ""})
    return records


def _pair_outcomes(records: Iterable[Mapping[str, Any]]) -> dict[str, PairOutcome]:
    from rsmmvp_tasks.evaluation.scoring import QuestionResult, pair_stats

    records = list(records)
    questions: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        q = QuestionResult.from_mapping(r)
        questions.setdefault(q.pair_id, []).append({"index": q.index, "answer": q.answer, "pred": q.pred,
                                                     "reply": str(r.get("reply", "")), "prompt": str(r.get("prompt", "")),
                                                     **({"variant_preds": r["variant_preds"]}
                                                        if "variant_preds" in r else {})})
    outcomes = {}
    for s in pair_stats(records):
        qs = {q["index"]: q for q in questions[s.pair_id]}
        outcomes[s.pair_id] = PairOutcome(
            pair_id=s.pair_id, pattern=s.pattern, complete=s.complete, correct=s.all_correct,
            questions=tuple(qs[i] for i in sorted(qs)),
        )
    return outcomes


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9


def _tally(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts and accuracies of :func:`~rsmmvp_tasks.evaluation.scoring.score` without its intervals (what
    a samples file must give back of its results' details; intervals are resampled, the rest is exact)."""
    from rsmmvp_tasks.evaluation.scoring import QuestionResult, pair_stats

    questions = {q.index: q for q in map(QuestionResult.from_mapping, records)}
    stats = pair_stats(list(questions.values()))
    complete = [x for x in stats if x.complete]
    per_pattern: dict[str, list[int]] = {}
    for x in complete:
        entry = per_pattern.setdefault(x.pattern, [0, 0])
        entry[0] += 1
        entry[1] += x.all_correct
    n = len(questions)
    return {
        "n_questions": n,
        "question_accuracy": sum(q.correct for q in questions.values()) / n if n else None,
        "n_pairs": len(complete),
        "pair_accuracy": sum(x.all_correct for x in complete) / len(complete) if complete else None,
        "incomplete_pairs": sorted(str(x.pair_id) for x in stats if not x.complete),
        "per_pattern": {k: (v[0], v[1] / v[0]) for k, v in per_pattern.items()},
    }


def _check_samples_match(run: Run, samples_path: Path, records: list[dict[str, Any]]) -> str | None:
    """Why the samples cannot belong to the run (``None`` when they match): every count and accuracy of
    the results' details -- headline and per pattern -- must come back from the samples' records."""
    if not records:
        return "it is empty"
    t = _tally(records)
    expected = run.details
    if t["n_questions"] != expected.get("n_questions"):
        return f"it holds {t['n_questions']} questions, the results {expected.get('n_questions')}"
    if t["n_pairs"] != expected.get("n_pairs") or not _same(t["pair_accuracy"], expected["pair_accuracy"]["value"]):
        return (f"its pair accuracy is {t['pair_accuracy']} over {t['n_pairs']} pairs, the results say "
                f"{expected['pair_accuracy']['value']} over {expected.get('n_pairs')}")
    if not _same(t["question_accuracy"], (expected.get("question_accuracy") or {}).get("value")):
        return f"its question accuracy is {t['question_accuracy']}, the results say another"
    if t["incomplete_pairs"] != sorted(map(str, expected.get("incomplete_pairs") or [])):
        return "its incomplete pairs differ from the results'"
    per_pattern = expected.get("per_pattern") or {}
    for pattern, (n, acc) in t["per_pattern"].items():
        entry = per_pattern.get(pattern) or {}
        if entry.get("pairs") != n or not _same(acc, entry.get("pair_accuracy")):
            return f"its pair accuracy on pattern {pattern!r} differs from the results'"
    if set(per_pattern) - set(t["per_pattern"]):
        return "it lacks patterns the results have"
    digest = expected.get("records_digest")
    if isinstance(digest, str) and digest and records_digest(records) != digest:
        return "its answers are not the ones the results were computed from (records digest differs)"
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_per_pattern(per_pattern: Any) -> list[str]:
    """The details' ``per_pattern`` entries whose type is wrong."""
    if not isinstance(per_pattern, Mapping):
        return [f"per_pattern is {type(per_pattern).__name__}, not an object of patterns"]
    return [f"per_pattern.{pattern} is {entry!r}, not {{pairs, pair_accuracy, ci_low, ci_high}}"
            for pattern, entry in per_pattern.items()
            if not isinstance(entry, Mapping) or not _count(entry.get("pairs"))
            or not (entry.get("pair_accuracy") is None or _finite(entry.get("pair_accuracy")))]


def _check_details(details: Mapping[str, Any]) -> list[str]:
    """The details fields whose type is wrong (each ``"name: what it is"``); numbers are checked apart."""
    bad = []
    for name in ("n_questions", "n_pairs"):
        if not _count(details.get(name)):
            bad.append(f"{name} is {details.get(name)!r}, not a count")
    if not isinstance(details.get("incomplete_pairs"), list):
        bad.append(f"incomplete_pairs is {type(details.get('incomplete_pairs')).__name__}, not a list")
    bad += _check_per_pattern(details.get("per_pattern"))
    for name in ("dataset_fingerprint", "rsmmvp_version", "scoring_version", "judge_prompt_version",
                 "lmms_eval_version", "records_digest"):
        value = details.get(name)
        if value is not None and not isinstance(value, str):
            bad.append(f"{name} is {value!r}, not text")
    for name in ("judge", "circular"):
        if name in details and not isinstance(details[name], Mapping):
            bad.append(f"{name} is {type(details[name]).__name__}, not an object")
    for name in ("question_accuracy", "pair_accuracy"):
        if not isinstance(details.get(name), Mapping):
            bad.append(f"{name} is {type(details.get(name)).__name__}, not {{value, ci_low, ci_high}}")
    return bad


def _read_details(results: dict[str, Any], task: str, path: Path) -> dict[str, Any]:
    """:func:`~rsmmvp_tasks.evaluation.results.read_details`, with every failure an :class:`InputError` naming the file."""
    from rsmmvp_tasks.evaluation.results import read_details

    try:
        details = read_details(results, task)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        if isinstance(exc, InputError):
            raise InputError(f"{path}: task {task}: {exc}") from exc
        raise InputError(
            f"{path}: task {task}: the rsmmvp metrics cannot be read ({type(exc).__name__}: {exc}); "
            "was the file edited, or written by another version of the task?"
        ) from exc
    bad = _check_details(details)
    if bad:
        raise InputError(f"{path}: task {task}: details field {'; '.join(bad)}; the results file is damaged or "
                         "was edited -- rerun lmms-eval")
    missing = []
    if details.get("n_pairs"):  # with no complete pair the accuracies are undefined, reported as a problem
        for name in ("question_accuracy", "pair_accuracy"):
            metric = details.get(name) or {}
            missing += [f"{name}.{k}" for k in ("value", "ci_low", "ci_high") if not _finite(metric.get(k))]
        if not _finite(details.get("unreadable_rate")):
            missing.append("unreadable_rate")
    if missing:
        raise InputError(
            f"{path}: task {task}: missing or non-numeric metric(s) {', '.join(missing)}; "
            "the results file is incomplete or was edited -- rerun lmms-eval"
        )
    return details


def _zone_of(results: Mapping[str, Any], path: Path) -> ZoneInfo:
    """The zone lmms-eval stamped ``date`` in: ``config.resolved_cli_args.timezone``, else its default."""
    config = results.get("config")
    cli = config.get("resolved_cli_args") if isinstance(config, Mapping) else None
    name = cli.get("timezone") if isinstance(cli, Mapping) else None
    if name is None:
        name = LMMS_EVAL_DEFAULT_TIMEZONE
    if not isinstance(name, str):
        raise InputError(f"{path}: field 'config.resolved_cli_args.timezone' is {name!r}, not a time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"{path}: field 'config.resolved_cli_args.timezone' is {name!r}, not a known time zone "
                         "(e.g. UTC, Asia/Singapore)") from exc


#: the instants a run can have been made at (a date outside is a damaged file, not a run)
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc)


def run_instant(results: Mapping[str, Any], path: Path) -> datetime | None:
    """When the run was stamped, as an aware UTC datetime (see the module docstring for the forms read).

    ``None`` for an ISO time without offset (its zone is unknown). :class:`InputError` naming the file and
    ``date`` for a value of another type or outside 2000-2200 (``1e20``).
    """
    value = results.get("date")
    if value is None or (isinstance(value, str) and not value.strip()):
        value = _timestamp_prefix(path)
        field_name = "file name timestamp"
        if not _LMMS_STAMP.match(value):
            return None
    else:
        field_name = "date"
    instant: datetime | None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (math.isfinite(value) and _EARLIEST.timestamp() <= value < _LATEST.timestamp()):
            raise InputError(f"{path}: field 'date' is {value!r}, not a time (epoch seconds between 2000 and 2200)")
        instant = datetime.fromtimestamp(float(value), tz=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        stamp = _LMMS_STAMP.match(text)
        zone = _zone_of(results, path) if stamp else timezone.utc
        try:
            if stamp:
                naive = datetime.strptime(text, "%Y%m%d_%H%M%S")
                instant = naive.replace(tzinfo=zone).astimezone(timezone.utc)
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
                instant = parsed.astimezone(timezone.utc) if parsed.tzinfo else None
        except ValueError as exc:
            raise InputError(f"{path}: field {field_name!r} is {value!r}, not a time (lmms-eval's YYYYmmdd_HHMMSS "
                             "or ISO 8601 with an offset)") from exc
    else:
        raise InputError(f"{path}: field 'date' is {value!r} ({type(value).__name__}), not a time")
    if instant is not None and not _EARLIEST <= instant < _LATEST:
        raise InputError(f"{path}: field {field_name!r} is {value!r}, outside 2000-2200")
    return instant


def format_instant(instant: datetime | None, fallback: str = "-") -> str:
    """``2026-12-04T07:44:50Z`` (UTC), or ``fallback`` when unknown."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if instant else fallback


def _lmms_eval_version(results: Mapping[str, Any], details: Mapping[str, Any]) -> str | None:
    """The lmms-eval version the task recorded, else the results' ``lmms_eval_version``.

    lmms-eval 0.7.3 writes ``branch@commit`` of the git checkout it finds around its own files
    (for a pip install inside a project's checkout, that project's commit), so the package version
    recorded by the task, when there is one, is preferred.
    """
    value = details.get("lmms_eval_version") or results.get("lmms_eval_version")
    return str(value) if value else None


def _config_of(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """``config`` with the fields a run reads checked (:class:`InputError` naming the field otherwise)."""
    config = data.get("config")
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InputError(f"{path}: field 'config' is {type(config).__name__}, not an object")
    for name in ("model",):
        if config.get(name) is not None and not isinstance(config.get(name), str):
            raise InputError(f"{path}: field 'config.{name}' is {config.get(name)!r}, not text")
    args = config.get("model_args")
    if args is not None and not isinstance(args, (str, Mapping)):
        raise InputError(f"{path}: field 'config.model_args' is {args!r}, not text or an object")
    limit = config.get("limit")
    if limit is not None and not (_finite(limit) and limit > 0):
        raise InputError(f"{path}: field 'config.limit' is {limit!r}, not null or a positive number")
    offset = config.get("offset")
    if offset is not None and not _count(offset):
        raise InputError(f"{path}: field 'config.offset' is {offset!r}, not a count of questions")
    return dict(config)


def _n_samples_of(data: Mapping[str, Any], task: str, path: Path) -> dict[str, int]:
    table = data.get("n-samples")
    entry = table.get(task) if isinstance(table, Mapping) else None
    if table is not None and not isinstance(table, Mapping) or entry is not None and not isinstance(entry, Mapping):
        raise InputError(f"{path}: field 'n-samples' is not an object of {{task: {{original, effective}}}}")
    out = {}
    for k, v in (entry or {}).items():
        if not _count(v):
            raise InputError(f"{path}: field 'n-samples.{task}.{k}' is {v!r}, not a count")
        out[str(k)] = int(v)
    return out


def load_run(results_path: str | Path, task: str, *, results: dict[str, Any] | None = None,
             search_root: Path | None = None, with_samples: bool = True) -> Run:
    """Read one rsmmvp ``task`` of a results file (and its own samples, when found and ``with_samples``)."""
    path = Path(results_path)
    data = results if results is not None else _read_json(path)
    if task not in (data.get("results") or {}):
        known = ", ".join(rsmmvp_tasks_in(data)) or "none"
        raise InputError(f"{path}: no task {task!r} in this results file (rsmmvp tasks in it: {known})")
    config = _config_of(data, path)
    details = _read_details(data, task, path)
    model = config.get("model") or data.get("model_name") or "unknown"
    if not isinstance(model, str):
        raise InputError(f"{path}: field 'model_name' is {model!r}, not text")
    finished = run_instant(data, path)
    raw_date = data.get("date")
    run = Run(
        source=str(path),
        task=task,
        model=model,
        model_args=normalise_model_args(config.get("model_args")),
        date=format_instant(finished, str(raw_date) if isinstance(raw_date, str) and raw_date else "-"),
        lmms_eval_version=_lmms_eval_version(data, details),
        limit=config.get("limit"),
        offset=int(config.get("offset") or 0),
        n_samples=_n_samples_of(data, task, path),
        details=details,
        results=data,
        finished_at=finished,
    )
    if with_samples:
        from rsmmvp_tasks.evaluation.circular import question_records

        folder = data.get("model_name_sanitized")
        reasons = []
        for candidate in find_samples_file(path, task, search_root, folder if isinstance(folder, str) else None):
            try:
                records = question_records(read_sample_records(candidate))  # circular runs: replies -> questions
            except ValueError as exc:
                if isinstance(exc, InputError):
                    raise
                raise InputError(f"{candidate}: the records cannot be scored ({exc})") from exc
            reason = _check_samples_match(run, candidate, records)
            if reason is None:
                run.samples_source, run.pairs = str(candidate), _pair_outcomes(records)
                break
            reasons.append(f"{candidate}: {reason}")
        if run.pairs is None and reasons:
            raise InputError(
                f"{path}: task {task}: the samples file does not belong to this run ({'; '.join(reasons)}); "
                "keep each run's files together as lmms-eval wrote them"
            )
    return run


def load_runs(path: str | Path, *, task: str | None = None, search_root: Path | None = None) -> list[Run]:
    """Every rsmmvp task of every results file at ``path`` (only ``task`` when given)."""
    runs = []
    files = find_results_files(path)
    root = search_root or (Path(path) if Path(path).is_dir() else Path(path).parent)
    for f in files:
        data = _read_json(f)
        tasks = rsmmvp_tasks_in(data)
        if task is not None:
            if task not in (data.get("results") or {}):
                if len(files) == 1:
                    raise InputError(f"{f}: no task {task!r} in this results file (rsmmvp tasks in it: "
                                     f"{', '.join(tasks) or 'none'})")
                continue
            tasks = [task]
        runs += [load_run(f, t, results=data, search_root=root) for t in tasks]
    return runs


def load_single_run(path: str | Path, *, task: str | None = None) -> Run:
    """The one run at ``path`` (a results file, or a folder holding one); ``task`` picks among several."""
    files = find_results_files(path)
    if len(files) > 1:
        shown = "\n  ".join(map(str, files))
        raise UsageError(f"{path}: {len(files)} results files here; give one of them:\n  {shown}")
    data = _read_json(files[0])
    tasks = rsmmvp_tasks_in(data)
    if task is None:
        if not tasks:
            raise InputError(f"{files[0]}: no rsmmvp task in this results file (tasks: "
                             f"{', '.join(data['results']) or 'none'})")
        if len(tasks) > 1:
            raise UsageError(f"{files[0]}: holds the rsmmvp tasks {', '.join(tasks)}; pick one with --task")
        task = tasks[0]
    return load_run(files[0], task, results=data, search_root=files[0].parent)
