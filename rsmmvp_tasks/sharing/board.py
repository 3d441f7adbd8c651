"""``rsmmvp leaderboard collect`` and ``compare``: the board JSON, built from lmms-eval runs.

Collecting
----------
:func:`collect_board` reads every rsmmvp task of every lmms-eval results file named by the sources (local
files or folders, shell globs, or ``hf:ORG/NAME``: a hub dataset repo of results as
``--hf_hub_log_args`` writes them) and keeps, per run: the model (name and args), the task, the
lmms-eval and rsmmvp versions, the dataset fingerprint, the date, the headline metrics with their
intervals, per-pattern pair accuracy, the unreadable rate and -- when the samples were logged --
the outcome of every pair (what :func:`compare` needs).

- A model is its name and args, per task: ``dummy`` with ``response=A`` and with ``response=B``
  are two rows. The same model twice: the newest run (by its date) is kept and a note says which
  file was left out.
- A run that does not measure the whole dataset the board is about is refused, naming the file and
  the reason: made with ``--limit``/``--offset``, with incomplete pairs, with no fingerprint, or on
  another dataset fingerprint than the board's (the one most runs share, or ``fingerprint=``).
  ``allow_partial=True`` keeps them instead, each with its ``caveats`` shown wherever it appears.

Comparing
---------
:func:`compare` runs the paired tests of :mod:`rsmmvp_tasks.sharing.stats` on two rows;
:func:`pairwise` on every two rows that have pair outcomes, with Holm-adjusted p-values.

The board file (``format: rsmmvp-leaderboard``, ``format_version: 1``) is plain JSON: rows sorted
by pair accuracy, each a dict with the keys listed in :data:`ROW_KEYS`.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import DataViolationError, InputError, ServiceError, UsageError
from rsmmvp_tasks.fileio import atomic_write_text
from rsmmvp_tasks.sharing.runs import Run, load_runs
from rsmmvp_tasks.sharing.stats import ALPHA, Comparison, compare_outcomes, holm

logger = logging.getLogger(__name__)

__all__ = ["BOARD_FORMAT", "ROW_KEYS", "Board", "Refusal", "collect_board", "compare", "pairwise", "row_from_run",
           "fetch_hub_results"]

BOARD_FORMAT = "rsmmvp-leaderboard"
BOARD_FORMAT_VERSION = 1

#: the keys of one board row
ROW_KEYS: tuple[str, ...] = (
    "label", "model", "model_args", "task", "date", "lmms_eval_version", "rsmmvp_version",
    "dataset_fingerprint", "source", "samples_source", "question_accuracy", "pair_accuracy",
    "unreadable_rate", "n_questions", "n_pairs", "per_pattern", "caveats", "pair_outcomes",
)

_HUB_PREFIX = "hf:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Refusal:
    """A run kept off the board, and why."""

    source: str
    task: str
    label: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.source} [{self.task}, {self.label}]: {'; '.join(self.reasons)}"


@dataclass
class Board:
    """The rows of a leaderboard (sorted by pair accuracy), the dataset they share, and what collect noted."""

    rows: list[dict[str, Any]]
    dataset_fingerprint: str | None
    notes: list[str] = field(default_factory=list)
    created: str = ""
    made_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"format": BOARD_FORMAT, "format_version": BOARD_FORMAT_VERSION, "created": self.created,
                "made_by": self.made_by, "dataset_fingerprint": self.dataset_fingerprint, "notes": self.notes,
                "runs": self.rows}

    def save(self, path: str | Path) -> Path:
        """Write the board as JSON (atomically); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(target, json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Board":
        """Read a board written by :meth:`save`; :class:`InputError` naming the file on anything else."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InputError(f"{p}: no such board file; make one with `rsmmvp leaderboard collect`") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{p}: not a readable board file ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != BOARD_FORMAT:
            raise InputError(f"{p}: not an rsmmvp board (no \"format\": \"{BOARD_FORMAT}\"); "
                             "make one with `rsmmvp leaderboard collect`")
        if data.get("format_version") != BOARD_FORMAT_VERSION:
            raise InputError(f"{p}: board format version {data.get('format_version')!r}, this rsmmvp reads "
                             f"{BOARD_FORMAT_VERSION}; collect the runs again")
        rows = data.get("runs")
        if not isinstance(rows, list) or any(not isinstance(r, dict) or set(ROW_KEYS) - r.keys() for r in rows):
            raise InputError(f"{p}: the board's rows are malformed (each needs {', '.join(ROW_KEYS)})")
        return cls(rows=rows, dataset_fingerprint=data.get("dataset_fingerprint"), notes=list(data.get("notes") or []),
                   created=str(data.get("created") or ""), made_by=str(data.get("made_by") or ""))

    @property
    def patterns(self) -> list[str]:
        """Every visual pattern some row has pairs of, in the contract's order."""
        from rsmmvp_tasks.sharing.formatting import ordered_patterns

        return ordered_patterns({p for r in self.rows for p, v in (r["per_pattern"] or {}).items() if v.get("pairs")})

    def select(self, key: str) -> int:
        """The row index of ``key``: a 1-based row number, or a case-insensitive substring of one label."""
        key = str(key).strip()
        if key.isdigit():
            number = int(key)
            if not 1 <= number <= len(self.rows):
                raise UsageError(f"row {number}: the board has rows 1 to {len(self.rows)}")
            return number - 1
        hits = [i for i, r in enumerate(self.rows) if key.lower() in r["label"].lower()]
        if len(hits) == 1:
            return hits[0]
        labels = "; ".join(f"{i + 1}: {r['label']}" for i, r in enumerate(self.rows))
        if not hits:
            raise UsageError(f"no row's model label contains {key!r} (rows: {labels})")
        matched = "; ".join(f"{i + 1}: {self.rows[i]['label']}" for i in hits)
        raise UsageError(f"{key!r} matches {len(hits)} rows ({matched}); give a longer part of the label or the row number")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_from_run(run: Run, caveats: Sequence[str] = ()) -> dict[str, Any]:
    """One board row from a run (secret model args masked; pair outcomes as 0/1 when samples exist)."""
    d = run.details
    outcomes = run.outcomes()
    return {
        "label": run.label,
        "model": run.model,
        "model_args": run.shown_args,
        "task": run.task,
        "date": run.date,
        "lmms_eval_version": run.lmms_eval_version,
        "rsmmvp_version": run.rsmmvp_version,
        "dataset_fingerprint": run.dataset_fingerprint,
        "source": run.source,
        "samples_source": run.samples_source,
        "question_accuracy": dict(d.get("question_accuracy") or {}),
        "pair_accuracy": dict(d.get("pair_accuracy") or {}),
        "unreadable_rate": d.get("unreadable_rate"),
        "n_questions": d.get("n_questions"),
        "n_pairs": d.get("n_pairs"),
        "per_pattern": {k: dict(v) for k, v in (d.get("per_pattern") or {}).items()},
        "caveats": list(caveats),
        "pair_outcomes": None if outcomes is None else {k: int(v) for k, v in sorted(outcomes.items())},
    }


def fetch_hub_results(repo_id: str) -> Path:
    """The local snapshot of a hub dataset repo of lmms-eval results (results JSON and samples only)."""
    if not _HUB_ID.match(repo_id):
        raise UsageError(f"hf:{repo_id}: a hub source is hf:ORG/NAME (a dataset repo)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=repo_id, repo_type="dataset",
                                      allow_patterns=["*_results.json", "*_samples_*.jsonl"]))
    except Exception as exc:  # offline and not cached, no such repo, no access
        raise ServiceError(
            f"hf:{repo_id}: the hub dataset repo could not be fetched and is not in the local hub cache "
            f"({type(exc).__name__}: {exc}). Fix: run with network access (HF_HUB_OFFLINE unset) and a token "
            "that can read it, or download the repo and give its folder instead"
        ) from exc


def _expand(source: str) -> list[tuple[str, Path, Path | None]]:
    """``(shown name prefix, path, samples search root)`` for one source argument."""
    if source.startswith(_HUB_PREFIX):
        root = fetch_hub_results(source[len(_HUB_PREFIX):])
        return [(source, root, root)]
    expanded = str(Path(source).expanduser())
    if _GLOB_CHARS.search(source):
        matches = sorted(glob.glob(expanded, recursive=True))
        if not matches:
            raise InputError(f"{source}: the pattern matches no file")
        return [("", Path(m), None) for m in matches]
    path = Path(expanded)
    if not path.exists():
        raise InputError(f"{source}: no such file or folder (and not hf:ORG/NAME)")
    return [("", path, None)]


def _read_sources(sources: Sequence[str], task: str | None) -> list[Run]:
    runs: list[Run] = []
    seen: set[tuple[str, str]] = set()
    for source in sources:
        for hub_name, path, root in _expand(source):
            for run in load_runs(path, task=task, search_root=root):
                key = (str(Path(run.source).resolve()), run.task)
                if key in seen:
                    continue
                seen.add(key)
                if hub_name:  # name hub files by the repo, not by the local cache path
                    run.source = f"{hub_name}/{Path(run.source).relative_to(root).as_posix()}"
                    if run.samples_source:
                        run.samples_source = f"{hub_name}/{Path(run.samples_source).relative_to(root).as_posix()}"
                runs.append(run)
    return runs


def _keep_newest(runs: list[Run]) -> tuple[list[Run], list[str], dict[int, list[Run]]]:
    """One run per model identity, the newest by date (ties: the later source); notes; what each superseded."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for r in runs:
        groups.setdefault(r.identity, []).append(r)
    kept, notes, superseded = [], [], {}
    for group in groups.values():
        newest = max(enumerate(group), key=lambda item: (item[1].date, item[0]))[1]
        kept.append(newest)
        older = [r for r in group if r is not newest]
        if older:
            superseded[id(newest)] = older
            notes.append(f"{newest.label} [{newest.task}] was found {len(group)} times: kept the newest "
                         f"({newest.date}, {newest.source}); left out "
                         + ", ".join(f"{r.source} ({r.date})" for r in older))
    return kept, notes, superseded


def collect_board(sources: Sequence[str], *, allow_partial: bool = False, task: str | None = None,
            fingerprint: str | None = None) -> Board:
    """Build a board from the runs named by ``sources`` (see the module docstring for the rules).

    Raises :class:`DataViolationError` listing every refused run (nothing is kept) unless
    ``allow_partial``; :class:`InputError` when no rsmmvp run is found or a file cannot be read.
    """
    if not sources:
        raise UsageError("no source given: name lmms-eval output folders, results files, globs or hf:ORG/NAME")
    runs = _read_sources(sources, task)
    if not runs:
        raise InputError(f"no rsmmvp run in {', '.join(sources)} (no results file holds an rsmmvp task"
                         + (f" named {task!r}" if task else "") + ")")
    runs, notes, superseded = _keep_newest(runs)
    if fingerprint is None:
        counts = Counter(r.dataset_fingerprint for r in runs if r.dataset_fingerprint)
        fingerprint = counts.most_common(1)[0][0] if counts else None
    refusals, caveats = [], {}
    for r in runs:
        reasons = r.problems()
        if r.dataset_fingerprint and fingerprint and r.dataset_fingerprint != fingerprint:
            reasons.append(f"dataset fingerprint {r.dataset_fingerprint[:12]} differs from the board's "
                           f"{fingerprint[:12]} (another dataset or dataset version)")
        caveats[id(r)] = reasons
        if reasons:
            older = superseded.get(id(r), [])
            extra = ([f"it is the newest run of this model, so it replaced {', '.join(o.source for o in older)}"]
                     if older else [])
            refusals.append(Refusal(r.source, r.task, r.label, tuple(reasons + extra)))
    if refusals and not allow_partial:
        listed = "\n  ".join(map(str, refusals))
        raise DataViolationError(
            f"refused {len(refusals)} of {len(runs)} run(s), no board written:\n  {listed}\n"
            "Leave them out of the sources, rerun them on the whole dataset, or pass --allow-partial to keep them "
            "marked as partial"
        )
    for refusal in refusals:
        notes.append(f"kept although partial (--allow-partial): {refusal}")
    multi_task = len({r.task for r in runs}) > 1
    rows = []
    for r in runs:
        row = row_from_run(r, caveats[id(r)])
        if multi_task:
            row["label"] = f"{row['label']} [{r.task}]"
        rows.append(row)
    rows.sort(key=lambda row: (-_value(row["pair_accuracy"]), -_value(row["question_accuracy"]), row["label"]))
    from rsmmvp_tasks import __version__

    return Board(rows=rows, dataset_fingerprint=fingerprint, notes=notes, created=_now(), made_by=f"rsmmvp {__version__}")


def _value(metric: dict[str, Any]) -> float:
    v = metric.get("value")
    return float(v) if isinstance(v, (int, float)) and not math.isnan(float(v)) else -1.0


def _outcomes(board: Board, index: int) -> dict[str, bool]:
    row = board.rows[index]
    if row.get("pair_outcomes") is None:
        raise InputError(
            f"row {index + 1} ({row['label']}) has no per-pair outcomes: its run logged no samples. Rerun lmms-eval "
            "with --log_samples (beside --output_path) and collect again"
        )
    return {k: bool(v) for k, v in row["pair_outcomes"].items()}


def compare(board: Board, a: str, b: str) -> tuple[dict[str, Any], dict[str, Any], Comparison]:
    """Rows ``a`` and ``b`` (numbers or label substrings) and their paired comparison (A - B)."""
    i, j = board.select(a), board.select(b)
    if i == j:
        raise UsageError(f"{a!r} and {b!r} are the same row ({board.rows[i]['label']}); compare two different rows")
    return board.rows[i], board.rows[j], compare_outcomes(_outcomes(board, i), _outcomes(board, j))


def pairwise(board: Board) -> list[dict[str, Any]]:
    """Every two rows with pair outcomes (row ``i`` before ``j``): the comparison, Holm-adjusted p, significance.

    Each item: ``{"a": i, "b": j, **Comparison.to_dict(), "p_holm": float, "significant": bool}``
    (``significant``: Holm-adjusted p below :data:`~rsmmvp_tasks.sharing.stats.ALPHA`).
    """
    with_outcomes = [i for i, r in enumerate(board.rows) if r.get("pair_outcomes") is not None]
    items = []
    for n, i in enumerate(with_outcomes):
        for j in with_outcomes[n + 1:]:
            try:
                c = compare_outcomes(_outcomes(board, i), _outcomes(board, j))
            except DataViolationError:  # no pair in common (only possible with --allow-partial)
                continue
            items.append({"a": i, "b": j, **c.to_dict()})
    for item, p in zip(items, holm([item["p_value"] for item in items])):
        item["p_holm"] = p
        item["significant"] = p < ALPHA
    return items
