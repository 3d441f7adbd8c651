"""``rsmmvp leaderboard collect`` and ``compare``: the board JSON, built from lmms-eval runs.

Collecting
----------
:func:`collect_board` reads every rsmmvp task of every lmms-eval results file named by the sources (local
files or folders, shell globs, or ``hf:ORG/NAME``: a hub dataset repo of results as
``--hf_hub_log_args`` writes them) and keeps, per run: its identity
(:class:`~rsmmvp_tasks.sharing.runs.RunIdentity`), the lmms-eval and rsmmvp versions, the instant it
was made (UTC), the headline metrics with their intervals, per-pattern pair accuracy, the unreadable
rate, a circular run's position-bias rate with its interval and -- when the samples were logged --
the outcome of every pair (what :func:`compare` needs).

- Two runs are the same model only when their whole identity matches (task and protocol, dataset
  fingerprint, normalised model, judge, scoring version). The same model twice: the newest run (by
  instant, whatever zone it was stamped in) is kept and a note says which file was left out.
  Otherwise they are different rows, labelled by what differs (``dummy (response=A)``,
  ``llava [judge: gpt-x (prompt 1)]``).
- The board has one **section** per (task, dataset fingerprint): its own ranking, its own
  comparisons and its own Holm family. Runs on another dataset fingerprint are another section,
  never compared pair by pair with this one; ``fingerprint=`` keeps one fingerprint and refuses the rest.
- A run that does not measure the whole dataset is refused, naming the file and the reason: made
  with ``--limit``/``--offset``, with incomplete pairs, with no fingerprint. ``allow_partial=True``
  keeps them instead, each with its ``caveats`` shown wherever it appears.
- Where a model has both a plain and a circular run on one dataset (same model, judge and scoring),
  both rows get ``circular_gap``: how many points of its pair accuracy depend on option order.

Comparing
---------
:func:`compare` runs the paired tests of :mod:`rsmmvp_tasks.sharing.stats` on two rows of one section
(two sections of one dataset only with ``across_protocols=True``; two datasets never).
:func:`pairwise` computes only the tests a page reads: within each section, every two rows adjacent in
rank and every two of the top :data:`TOP_K`, Holm-adjusted over that family; any other pair is
compared on demand by ``compare``.

The board file (``format: rsmmvp-leaderboard``, ``format_version: 2``) is plain JSON: rows grouped by
section, ranked by pair accuracy within it, each a dict with the keys listed in :data:`ROW_KEYS`.
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
from rsmmvp_tasks.sharing.runs import Run, format_instant, load_runs
from rsmmvp_tasks.sharing.stats import ALPHA, Comparison, compare_outcomes, holm

logger = logging.getLogger(__name__)

__all__ = ["BOARD_FORMAT", "ROW_KEYS", "TOP_K", "Board", "Section", "Refusal", "collect_board", "comparable", "compare",
           "pairwise", "read_pairs", "row_from_run", "fetch_hub_results", "section_key"]

BOARD_FORMAT = "rsmmvp-leaderboard"
BOARD_FORMAT_VERSION = 2
#: every two of a section's top TOP_K rows are compared on the page (the matrix), besides adjacent ranks
TOP_K = 10

#: the keys of one board row
ROW_KEYS: tuple[str, ...] = (
    "label", "model", "model_args", "task", "protocol", "section", "rank", "identity", "date", "finished_at",
    "lmms_eval_version", "rsmmvp_version", "dataset_fingerprint", "source", "samples_source", "question_accuracy",
    "pair_accuracy", "unreadable_rate", "n_questions", "n_pairs", "per_pattern", "position_bias", "circular_gap",
    "caveats", "pair_outcomes",
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


def section_key(task: str, fingerprint: str | None, protocol: str = "plain") -> str:
    """The section a row belongs to: ``"<task>/<protocol>@<fingerprint[:12]>"`` (``@none`` without one)."""
    return f"{task}/{protocol}@{fingerprint[:12] if fingerprint else 'none'}"


@dataclass(frozen=True)
class Section:
    """One (task, fingerprint) part of a board: its rows (board indices, by rank) and what it measures."""

    key: str
    task: str
    protocol: str
    fingerprint: str | None
    rows: tuple[int, ...]

    @property
    def title(self) -> str:
        """``rsmmvp_mini (circular) · dataset 150adbbb1599``."""
        return (f"{self.task} ({self.protocol}) \u00b7 dataset "
                f"{self.fingerprint[:12] if self.fingerprint else 'fingerprint not recorded'}")


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
        for n, r in enumerate(rows, start=1):
            bad = _bad_row_field(r)
            if bad:
                raise InputError(f"{p}: row {n}: field {bad}; the board was edited or damaged -- collect the runs again")
        return cls(rows=rows, dataset_fingerprint=data.get("dataset_fingerprint"), notes=list(data.get("notes") or []),
                   created=str(data.get("created") or ""), made_by=str(data.get("made_by") or ""))

    @property
    def sections(self) -> list[Section]:
        """The board's sections, in the order their first row appears (rows are stored grouped by section)."""
        order: dict[str, list[int]] = {}
        for i, r in enumerate(self.rows):
            order.setdefault(r["section"], []).append(i)
        out = []
        for key, indices in order.items():
            first = self.rows[indices[0]]
            out.append(Section(key, first["task"], first["protocol"], first["dataset_fingerprint"],
                               tuple(sorted(indices, key=lambda i: self.rows[i]["rank"]))))
        return out

    @property
    def patterns(self) -> list[str]:
        """Every visual pattern some row has pairs of, in the contract's order."""
        from rsmmvp_tasks.sharing.formatting import ordered_patterns

        return ordered_patterns({p for r in self.rows for p, v in (r["per_pattern"] or {}).items() if v.get("pairs")})

    def _name(self, i: int) -> str:
        r = self.rows[i]
        return f"{i + 1}: {r['label']} [{r['task']}]"

    def select(self, key: str) -> int:
        """The row index of ``key``: a 1-based row number, or a case-insensitive substring of one row's label
        (or, failing that, of its full identity)."""
        key = str(key).strip()
        if key.isdigit():
            number = int(key)
            if not 1 <= number <= len(self.rows):
                raise UsageError(f"row {number}: the board has rows 1 to {len(self.rows)}")
            return number - 1
        hits = [i for i, r in enumerate(self.rows) if key.lower() in r["label"].lower()]
        if not hits:
            hits = [i for i, r in enumerate(self.rows)
                    if key.lower() in str((r.get("identity") or {}).get("full_label", "")).lower()]
        if len(hits) == 1:
            return hits[0]
        labels = "; ".join(self._name(i) for i in range(len(self.rows)))
        if not hits:
            raise UsageError(f"no row's model label contains {key!r} (rows: {labels})")
        matched = "; ".join(self._name(i) for i in hits)
        raise UsageError(f"{key!r} matches {len(hits)} rows ({matched}); give a longer part of the label or the row number")


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "label": (str,), "task": (str,), "protocol": (str,), "section": (str,), "rank": (int,), "identity": (dict,),
    "date": (str,), "question_accuracy": (dict,), "pair_accuracy": (dict,), "per_pattern": (dict,),
    "caveats": (list,), "pair_outcomes": (dict, type(None)), "position_bias": (dict, type(None)),
    "circular_gap": (dict, type(None)), "dataset_fingerprint": (str, type(None)),
}
_IDENTITY_KEYS = ("task", "protocol", "model", "judge", "scoring_version", "short_label", "full_label")


def _bad_row_field(row: dict[str, Any]) -> str | None:
    """The first field of a board row whose type is wrong, as ``"name is ..."`` (``None`` when all are right)."""
    for name, types in _ROW_TYPES.items():
        value = row.get(name)
        if isinstance(value, bool) or not isinstance(value, types):
            return f"{name!r} is {type(value).__name__}, not {' or '.join(t.__name__ for t in types)}"
    missing = [k for k in _IDENTITY_KEYS if not isinstance(row["identity"].get(k), str)]
    if missing:
        return f"'identity' lacks {', '.join(missing)}"
    outcomes = row["pair_outcomes"] or {}
    if any(v not in (0, 1) or isinstance(v, float) for v in outcomes.values()):
        return "'pair_outcomes' holds values other than 0 and 1"
    for name in ("question_accuracy", "pair_accuracy"):
        value = row[name].get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"'{name}.value' is {value!r}, not a number"
    return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_from_run(run: Run, caveats: Sequence[str] = ()) -> dict[str, Any]:
    """One board row from a run (secret model args dropped; pair outcomes as 0/1 when samples exist).

    ``label`` is the identity's short label here; :func:`collect_board` adds what tells rows apart.
    ``rank`` and ``circular_gap`` are set by :func:`collect_board` (``None`` here).
    """
    d = run.details
    outcomes = run.outcomes()
    identity = run.identity
    return {
        "label": identity.short_label,
        "model": run.model,
        "model_args": run.shown_args,
        "task": run.task,
        "protocol": identity.protocol,
        "section": section_key(run.task, run.dataset_fingerprint, identity.protocol),
        "rank": None,
        "identity": identity.to_dict(),
        "date": run.date,
        "finished_at": format_instant(run.finished_at, "") or None,
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
        "position_bias": run.position_bias,
        "circular_gap": None,
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


def _newest_key(item: tuple[int, Run]) -> tuple[bool, datetime, int]:
    order, run = item
    return (run.finished_at is not None, run.finished_at or datetime.min.replace(tzinfo=timezone.utc), order)


def _keep_newest(runs: list[Run]) -> tuple[list[Run], list[str], dict[int, list[Run]]]:
    """One run per identity, the newest by instant (a run with a known instant beats one without; ties:
    the later source); notes; what each superseded."""
    groups: dict[Any, list[Run]] = {}
    for r in runs:
        groups.setdefault(r.identity, []).append(r)
    kept, notes, superseded = [], [], {}
    for group in groups.values():
        newest = max(enumerate(group), key=_newest_key)[1]
        kept.append(newest)
        older = [r for r in group if r is not newest]
        if older:
            superseded[id(newest)] = older
            notes.append(f"{newest.label} [{newest.task}, judge {newest.identity.judge}] was found {len(group)} "
                         f"times: kept the newest ({newest.date}, {newest.source}); left out "
                         + ", ".join(f"{r.source} ({r.date})" for r in older)
                         + ("" if all(r.finished_at for r in group) else
                            " (a run whose date has no time zone counts as older than any dated run)"))
    return kept, notes, superseded


def _qualifiers(rows: list[dict[str, Any]]) -> list[str]:
    """What tells rows of one short label apart: the args whose values differ, the judge, the scoring, the model."""
    idents = [r["identity"] for r in rows]
    args = [dict(p.partition("=")[::2] for p in (i["model_args"] or "").split(",") if p) for i in idents]
    keys = sorted({k for a in args for k in a if len({a.get(k) for a in args}) > 1})
    out = []
    for ident, a in zip(idents, args, strict=False):
        parts = []
        if len({i["model_name"] for i in idents}) > 1:
            parts.append(ident["model_name"])
        shown = ",".join(f"{k}={a[k]}" for k in keys if k in a)
        if shown:
            parts.append(f"({shown})")
        if len({i["scoring_version"] for i in idents}) > 1:
            parts.append(f"[scoring {ident['scoring_version']}]")
        if len({i["judge"] for i in idents}) > 1 and ident["judge"] == "off":
            parts.append("[no judge]")  # the judged ones say which judge
        out.append(" ".join(parts))
    return out


def _label_rows(rows: list[dict[str, Any]]) -> None:
    """Give each row of a section a label that tells it apart: its short label, then what differs among rows that
    share it (args, model name, scoring, ``[no judge]``), then ``[judge: ...]`` for a judged run; the full
    identity when that is not enough."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_label.setdefault(r["identity"]["short_label"], []).append(r)
    for short, group in by_label.items():
        extras = _qualifiers(group) if len(group) > 1 else [""] * len(group)
        for r, extra in zip(group, extras, strict=False):
            judge = r["identity"]["judge"]
            r["label"] = " ".join(p for p in (short, extra, f"[judge: {judge}]" if judge != "off" else "") if p)
    counts = Counter(r["label"] for r in rows)
    for r in rows:
        if counts[r["label"]] > 1:
            r["label"] = r["identity"]["model"] + f" [{r['identity']['judge']}, scoring {r['identity']['scoring_version']}]"


def _base_task(row: dict[str, Any]) -> str:
    task = row["task"]
    return task[: -len("_circular")] if row["protocol"] == "circular" and task.endswith("_circular") else task


def _circular_gaps(rows: list[dict[str, Any]]) -> None:
    """Set ``circular_gap`` on a model's plain and circular rows of one dataset (same model, judge, scoring)."""
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        i = r["identity"]
        return (_base_task(r), r["dataset_fingerprint"], i["model"], i["judge"], i["scoring_version"])

    plain = {key(r): r for r in rows if r["protocol"] == "plain"}
    for c in (r for r in rows if r["protocol"] == "circular"):
        p = plain.get(key(c))
        if p is None:
            continue
        pv, cv = p["pair_accuracy"].get("value"), c["pair_accuracy"].get("value")
        if not (isinstance(pv, (int, float)) and isinstance(cv, (int, float))):
            continue
        gap = {"plain": pv, "circular": cv, "points": 100.0 * (pv - cv), "plain_task": p["task"],
               "circular_task": c["task"]}
        p["circular_gap"], c["circular_gap"] = dict(gap), dict(gap)


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
    refusals, caveats = [], {}
    for r in runs:
        reasons = r.problems()
        if fingerprint and r.dataset_fingerprint and r.dataset_fingerprint != fingerprint:
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
    rows = [row_from_run(r, caveats[id(r)]) for r in runs]
    sections: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        sections.setdefault(row["section"], []).append(row)
    ordered: list[dict[str, Any]] = []
    for key in sorted(sections, key=lambda k: (sections[k][0]["task"], k)):
        members = sections[key]
        _label_rows(members)
        members.sort(key=lambda row: (-_value(row["pair_accuracy"]), -_value(row["question_accuracy"]), row["label"]))
        for rank, row in enumerate(members, start=1):
            row["rank"] = rank
        ordered += members
    _circular_gaps(ordered)
    if fingerprint is None:
        counts = Counter(r.dataset_fingerprint for r in runs if r.dataset_fingerprint)
        fingerprint = counts.most_common(1)[0][0] if counts else None
    from rsmmvp_tasks import __version__

    return Board(rows=ordered, dataset_fingerprint=fingerprint, notes=notes, created=_now(),
                 made_by=f"rsmmvp {__version__}")


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


def comparable(board: Board, i: int, j: int, *, across_protocols: bool = False) -> str | None:
    """Why rows ``i`` and ``j`` cannot be compared pair by pair (``None`` when they can).

    Never across dataset fingerprints (pair ids of two datasets name different questions), nor with a
    row that recorded none; across sections of one dataset (tasks or protocols) only with ``across_protocols``.
    """
    a, b = board.rows[i], board.rows[j]
    fa, fb = a["dataset_fingerprint"], b["dataset_fingerprint"]
    if not fa or not fb or fa != fb:
        return (f"row {i + 1} ({a['label']}) was made on dataset {(fa or 'not recorded')[:12]} and row {j + 1} "
                f"({b['label']}) on {(fb or 'not recorded')[:12]}: pairs of two datasets are different questions, "
                "so the two runs cannot be compared pair by pair")
    if a["section"] != b["section"] and not across_protocols:
        return (f"row {i + 1} ({a['label']}) is {a['task']} ({a['protocol']}) and row {j + 1} ({b['label']}) is "
                f"{b['task']} ({b['protocol']}): the protocols score the same pairs differently, so the difference "
                "mixes model and protocol. Pass --across-protocols to compare them anyway")
    return None


def compare(board: Board, a: str, b: str, *, across_protocols: bool = False
            ) -> tuple[dict[str, Any], dict[str, Any], Comparison]:
    """Rows ``a`` and ``b`` (numbers or label substrings) and their paired comparison (A - B).

    :class:`UsageError` when they are one row or cannot be compared (:func:`comparable`).
    """
    i, j = board.select(a), board.select(b)
    if i == j:
        raise UsageError(f"{a!r} and {b!r} are the same row ({board.rows[i]['label']}); compare two different rows")
    reason = comparable(board, i, j, across_protocols=across_protocols)
    if reason:
        raise UsageError(reason)
    return board.rows[i], board.rows[j], compare_outcomes(_outcomes(board, i), _outcomes(board, j))


def read_pairs(ranked: Sequence[int], top_k: int = TOP_K) -> list[tuple[int, int]]:
    """The comparisons a page reads among ``ranked`` row indices (best first): adjacent ranks, and every
    two of the first ``top_k``; each ``(better, worse)``, in rank order, without repeats."""
    pairs = {(ranked[n], ranked[n + 1]) for n in range(len(ranked) - 1)}
    top = ranked[:top_k]
    pairs |= {(top[x], top[y]) for x in range(len(top)) for y in range(x + 1, len(top))}
    position = {idx: n for n, idx in enumerate(ranked)}
    return sorted(pairs, key=lambda p: (position[p[0]], position[p[1]]))


def pairwise(board: Board, *, top_k: int = TOP_K) -> list[dict[str, Any]]:
    """The comparisons the board shows, per section (:func:`read_pairs` over the rows with pair outcomes).

    Each item: ``{"section", "a": i, "b": j, **Comparison.to_dict(), "p_holm": float, "significant": bool,
    "family": int}``; Holm's adjustment runs over the comparisons of the item's section (``family`` of them),
    ``significant``: Holm-adjusted p below :data:`~rsmmvp_tasks.sharing.stats.ALPHA`.
    """
    items: list[dict[str, Any]] = []
    for section in board.sections:
        ranked = [i for i in section.rows if board.rows[i].get("pair_outcomes") is not None]
        family = []
        for i, j in read_pairs(ranked, top_k):
            if comparable(board, i, j) is not None:
                continue
            try:
                c = compare_outcomes(_outcomes(board, i), _outcomes(board, j))
            except DataViolationError:  # no pair in common (only possible with --allow-partial)
                continue
            family.append({"section": section.key, "a": i, "b": j, **c.to_dict()})
        for item, p in zip(family, holm([item["p_value"] for item in family]), strict=False):
            item["p_holm"] = p
            item["significant"] = p < ALPHA
            item["family"] = len(family)
        items += family
    return items
