"""``rsmmvp eval <lmms-eval arguments>``: lmms-eval with an exit status you can trust.

The ``lmms-eval`` command exits 0 even when the evaluation failed (it logs the error and goes on).
``rsmmvp eval`` runs the same evaluation in-process, with the same arguments, and then checks:

- the evaluation raised no error (lmms-eval catches it and only logs ``Error during evaluation``:
  ``rsmmvp eval`` records it on the way: tasks not found, a model that fails to load, a dataset
  that breaks the contract, ...);
- a results file was written under ``--output_path`` in this run, holding every requested task.

It prints where the results are and exits 0, or prints the error's last line and exits 1
(:data:`rsmmvp_tasks.errors.EXIT_VIOLATIONS`, "an evaluation failed"). Without ``--output_path``
it adds ``--output_path results`` (a run that saves nothing cannot be checked). Token-shaped values
(``hf_...``) are redacted from what lmms-eval logs. The plain ``lmms-eval`` command stays supported.

Multi-process: ``accelerate launch -m rsmmvp_tasks.cli eval --model ... --tasks ...`` (only rank 0
writes results; the other ranks check nothing and exit 0 unless they logged an error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from rsmmvp_tasks.errors import EXIT_OK, EXIT_VIOLATIONS, RsmmvpError, UsageError

DEFAULT_OUTPUT = "results"
#: longest error line shown (lmms-eval's "model not found" lists every model it knows)
MAX_REASON = 400


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # prefix_chars="+" lets every "--flag" through untouched: they are lmms-eval's, not ours
    p = sub.add_parser(
        "eval",
        prefix_chars="+",
        add_help=False,
        help="run lmms-eval with the same arguments; exit 1 when it fails or writes no results",
        description=__doc__,
    )
    p.add_argument("lmms_args", nargs="*", help="the arguments of `lmms-eval` (e.g. --model dummy --tasks rsmmvp_mini)")
    p.set_defaults(func=run)


@dataclass
class EvalOutcome:
    """What one in-process lmms-eval run left behind."""

    errors: list[str] = field(default_factory=list)
    results_files: list[Path] = field(default_factory=list)
    missing_tasks: list[str] = field(default_factory=list)
    #: only the main process (rank 0) writes results; the other ranks are judged by their errors alone
    writes_results: bool = True

    @property
    def ok(self) -> bool:
        found = bool(self.results_files) and not self.missing_tasks
        return not self.errors and (found or not self.writes_results)


def _option(args: Sequence[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``args`` (the last one wins)."""
    value = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def prepare_args(args: Sequence[str]) -> tuple[list[str], Path, list[str]]:
    """``(argv for lmms-eval, output folder, requested task names)``; adds ``--output_path`` if absent."""
    argv = list(args)
    if argv and argv[0] == "eval":  # `rsmmvp eval eval --model ...` is lmms-eval's own spelling
        argv = argv[1:]
    tasks = _option(argv, "--tasks")
    if not tasks:
        raise UsageError("no --tasks given: e.g. `rsmmvp eval --model dummy --model_args response=A --tasks rsmmvp_mini`")
    if tasks.startswith("list") or os.path.exists(tasks):
        raise UsageError(
            f"--tasks {tasks}: `rsmmvp eval` checks named tasks; list tasks with `lmms-eval --tasks list`, "
            "and pass a task YAML's folder with --include_path and its task name with --tasks"
        )
    output = _option(argv, "--output_path")
    if output is None:
        output = DEFAULT_OUTPUT
        argv += ["--output_path", output]
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    return argv, Path(output), names


def root_cause(exc: BaseException) -> BaseException:
    """The exception that started it all: through ``raise ... from``, implicit chaining and tenacity's
    ``RetryError`` (lmms-eval retries dataset loading, so a dataset our ``process_docs`` refuses arrives
    as ``RetryError[<Future ... raised DataViolationError>]``). An rsmmvp error on the way wins."""
    seen: set[int] = set()
    current: BaseException | None = exc
    last = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        last = current
        if isinstance(current, RsmmvpError):
            return current
        attempt = getattr(current, "last_attempt", None)  # tenacity.RetryError
        inner = attempt.exception() if attempt is not None and hasattr(attempt, "exception") else None
        current = inner or current.__cause__ or current.__context__
    return last


def describe(exc: BaseException) -> str:
    """``"<Type>: <message>"`` of :func:`root_cause` (an rsmmvp error: its message alone)."""
    cause = root_cause(exc)
    if isinstance(cause, RsmmvpError):
        return str(cause)
    return f"{type(cause).__name__}: {cause}"


def _results_since(output: Path, since: float) -> list[Path]:
    if not output.exists():
        return []
    found = [p for p in output.rglob("*_results.json") if p.stat().st_mtime >= since]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _tasks_in(results_file: Path) -> set[str]:
    try:
        data: dict[str, Any] = json.loads(results_file.read_text())
    except (OSError, ValueError):
        return set()
    names = set(data.get("results", {}))
    for group, subtasks in (data.get("group_subtasks") or {}).items():
        names.add(group)
        names.update(subtasks)
    return names


def run_lmms_eval(args: Sequence[str]) -> EvalOutcome:
    """Run lmms-eval in this process with ``args`` and report what it left behind."""
    argv, output, tasks = prepare_args(args)
    from rsmmvp_tasks.evaluation.hook import install_log_redaction

    outcome = EvalOutcome()
    started = time.time() - 1.0  # file mtimes may be rounded down
    saved_argv = sys.argv
    sys.argv = ["lmms-eval", *argv]
    try:
        import lmms_eval.__main__ as lmms_main

        install_log_redaction()
        single = getattr(lmms_main, "cli_evaluate_single", None)

        def recording_single(*a: Any, **kw: Any) -> Any:
            # lmms-eval catches what this raises and only logs it: record it first
            try:
                return single(*a, **kw)  # type: ignore[misc]
            except BaseException as exc:
                outcome.errors.append(describe(exc))
                raise

        if callable(single):
            lmms_main.cli_evaluate_single = recording_single
        try:
            lmms_main.cli_evaluate()
        except SystemExit as exc:  # lmms-eval exits early for some argument errors
            if exc.code not in (None, 0):
                outcome.errors.append(f"lmms-eval exited with status {exc.code}")
        except Exception as exc:  # noqa: BLE001 - lmms-eval raises bare exceptions for user errors
            outcome.errors.append(describe(exc))
        finally:
            if callable(single):
                lmms_main.cli_evaluate_single = single
    finally:
        sys.argv = saved_argv
    if not _is_main_process():
        outcome.writes_results = False
        return outcome
    outcome.results_files = _results_since(output, started)
    present: set[str] = set()
    for f in outcome.results_files:
        present |= _tasks_in(f)
    outcome.missing_tasks = [t for t in tasks if t not in present]
    return outcome


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def run(args: argparse.Namespace) -> int:
    if not args.lmms_args or any(a in ("-h", "--help") for a in args.lmms_args):
        print("usage: rsmmvp eval LMMS_EVAL_ARGS...   (e.g. rsmmvp eval --model dummy --tasks rsmmvp_mini)\n")
        print(__doc__)
        print("lmms-eval's own options: lmms-eval eval --help")
        return EXIT_OK
    outcome = run_lmms_eval(args.lmms_args)
    if outcome.ok:
        for f in outcome.results_files:  # none on ranks > 0
            print(f"rsmmvp eval: results in {f}")
        return EXIT_OK
    if outcome.errors:
        lines = outcome.errors[-1].strip().splitlines() or ["(no message)"]
        first = lines[0] if len(lines[0]) <= MAX_REASON else lines[0][: MAX_REASON - 1] + "…"
        more = f" (+{len(lines) - 1} more line(s) in the log above)" if len(lines) > 1 else ""
        reason = f"lmms-eval reported an error: {first}{more}"
    elif not outcome.results_files:
        reason = "lmms-eval wrote no results file (see its log above)"
    else:
        reason = f"no results for the requested task(s) {', '.join(outcome.missing_tasks)} (see the log above)"
    print(f"rsmmvp eval: error: {reason}", file=sys.stderr)
    return EXIT_VIOLATIONS
