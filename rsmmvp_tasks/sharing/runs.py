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

from rsmmvp_tasks.errors import InputError, UsageError

__all__ = [
    "RESULTS_SUFFIX",
    "PairOutcome",
    "Run",
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
    ``pairs`` is ``None`` when the run logged no samples.
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

    @property
    def label(self) -> str:
        """``model (args)``: the identity of the model on a board (secret args masked)."""
        return model_label(self.model, self.model_args)

    @property
    def shown_args(self) -> str:
        """``--model_args`` as shown and stored (secret values masked)."""
        return _mask_secrets(self.model_args)

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two runs "the same model": name, args (secrets masked) and task."""
        return (self.model, self.shown_args, self.task)

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


def model_label(model: str, model_args: str) -> str:
    """``"dummy (response=A)"``; secret values (``token=...``, ``hf_...``) shown as ``***``."""
    args = _mask_secrets(model_args)
    return f"{model} ({args})" if args else model


def _mask_secrets(model_args: str) -> str:
    from rsmmvp_tasks.evaluation.hook import redact_secrets

    return redact_secrets(str(model_args or "").strip())


def _args_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value).strip()


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


def find_samples_file(results_path: Path, task: str, search_root: Path | None = None) -> list[Path]:
    """Candidate samples files of ``task`` for a results file: beside it first, then under ``search_root``."""
    name = f"{_timestamp_prefix(results_path)}_samples_{task}.jsonl"
    beside = results_path.parent / name
    found = [beside] if beside.is_file() else []
    if search_root is not None and search_root.is_dir():
        found += sorted(f for f in search_root.rglob(name) if f.is_file() and f != beside)
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


def read_sample_records(path: str | Path) -> list[dict[str, Any]]:
    """Our records from a samples JSONL (``index``, ``pair_id``, ``pattern``, ``answer``, ``pred``, ...,
    plus ``reply``: the model's raw reply). Raises :class:`InputError` naming the line on anything else."""
    path = Path(path)
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the samples file ({exc})") from exc
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number} is not JSON ({exc.msg})") from exc
        record = _record_of(line) if isinstance(line, Mapping) else None
        if record is None or "index" not in record:
            raise InputError(
                f"{path}: line {number} holds no rsmmvp record (index, pair_id, answer, pred); "
                "is this the samples file of an rsmmvp task?"
            )
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
                                                     "reply": str(r.get("reply", "")), "prompt": str(r.get("prompt", ""))})
    outcomes = {}
    for s in pair_stats(records):
        qs = {q["index"]: q for q in questions[s.pair_id]}  # a question logged twice counts once
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


def _check_samples_match(run: Run, samples_path: Path, records: list[dict[str, Any]]) -> str | None:
    """Why the samples cannot belong to the run (``None`` when they match)."""
    from rsmmvp_tasks.evaluation.scoring import score

    if not records:
        return "it is empty"
    s = score(records, warn_incomplete=False)
    expected = run.details
    if s.n_questions != expected.get("n_questions"):
        return f"it holds {s.n_questions} questions, the results {expected.get('n_questions')}"
    pair_accuracy = None if math.isnan(s.pair_accuracy) else s.pair_accuracy
    if s.n_pairs != expected.get("n_pairs") or not _same(pair_accuracy, expected["pair_accuracy"]["value"]):
        return (f"its pair accuracy is {s.pair_accuracy:.4f} over {s.n_pairs} pairs, the results say "
                f"{expected['pair_accuracy']['value']} over {expected.get('n_pairs')}")
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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


def _date_of(results: Mapping[str, Any], path: Path) -> str:
    """The run's date as ``YYYYmmdd_HHMMSS`` (lmms-eval's form, which sorts in time order)."""
    value = results.get("date")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=timezone.utc).strftime("%Y%m%d_%H%M%S")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return _timestamp_prefix(path)


def _lmms_eval_version(results: Mapping[str, Any], details: Mapping[str, Any]) -> str | None:
    """The lmms-eval version the task recorded, else the results' ``lmms_eval_version``.

    lmms-eval 0.7.3 writes ``branch@commit`` of the git checkout it finds around its own files
    (for a pip install inside a project's checkout, that project's commit), so the package version
    recorded by the task, when there is one, is preferred.
    """
    value = details.get("lmms_eval_version") or results.get("lmms_eval_version")
    return str(value) if value else None


def load_run(results_path: str | Path, task: str, *, results: dict[str, Any] | None = None,
             search_root: Path | None = None, with_samples: bool = True) -> Run:
    """Read one rsmmvp ``task`` of a results file (and its samples, when found and ``with_samples``)."""
    path = Path(results_path)
    data = results if results is not None else _read_json(path)
    if task not in (data.get("results") or {}):
        known = ", ".join(rsmmvp_tasks_in(data)) or "none"
        raise InputError(f"{path}: no task {task!r} in this results file (rsmmvp tasks in it: {known})")
    config = data.get("config") or {}
    n_samples = (data.get("n-samples") or {}).get(task) or {}
    details = _read_details(data, task, path)
    run = Run(
        source=str(path),
        task=task,
        model=str(config.get("model") or data.get("model_name") or "unknown"),
        model_args=_args_text(config.get("model_args")),
        date=_date_of(data, path),
        lmms_eval_version=_lmms_eval_version(data, details),
        limit=config.get("limit"),
        offset=int(config.get("offset") or 0),
        n_samples={k: int(v) for k, v in n_samples.items() if isinstance(v, (int, float))},
        details=details,
        results=data,
    )
    if with_samples:
        from rsmmvp_tasks.evaluation.circular import question_records

        reasons = []
        for candidate in find_samples_file(path, task, search_root):
            records = question_records(read_sample_records(candidate))  # circular runs: replies -> questions
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
