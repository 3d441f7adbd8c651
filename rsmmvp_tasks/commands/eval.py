"""``rsmmvp eval <lmms-eval arguments>``: lmms-eval that checks before it runs, with an exit status you can trust.

The ``lmms-eval`` command exits 0 even when the evaluation failed (it logs the error and goes on).
``rsmmvp eval`` runs the same evaluation in-process, with the same arguments.

Before anything is loaded it checks what can be checked, and refuses with one line (exit 2):

- the LLM judge's variables (``RSMMVP_JUDGE_*``: both or neither of the URL and the model, numbers,
  no ``user:password@`` in the URL);
- the ``--output_path`` folder can be created and written;
- the ``--model_args`` keys are parameters of the model's constructor (lmms-eval silently ignores
  ``respone=A``; models whose constructor takes ``**kwargs`` are not checked);
- the ``--tasks`` names exist (checked against lmms-eval's own task index, before the model loads;
  the nearest names are suggested).

The Hugging Face hub is probed once (unless ``HF_HUB_OFFLINE`` is set): when it cannot be reached
the run goes offline at once, with one line saying so, instead of 25-103 s of retries
(:mod:`rsmmvp_tasks.hubaccess`).

After the run it checks that the evaluation raised no error (lmms-eval catches it and only logs
``Error during evaluation``; ``rsmmvp eval`` records it on the way) and that lmms-eval saved **this
run's** results file holding every requested task (the file is the one lmms-eval's tracker wrote
in this process, whatever other runs write into the same folder). It prints where the results are
and exits 0, or exits 1 (:data:`rsmmvp_tasks.errors.EXIT_VIOLATIONS`, "an evaluation failed") with
the most informative line of the error's chain (a library's "not in the cache" rather than the
socket's "Name or service not known") and, for a model on the hub that cannot be loaded, the
``hf download ORG/NAME --local-dir DIR`` way out. Without ``--output_path`` it adds
``--output_path results`` (a run that saves nothing cannot be checked).

Secrets (``hf_...`` tokens, ``api_key=...`` in ``--model_args``, URL passwords) are redacted from
everything the run writes to stdout and stderr, log or ``print`` alike (:mod:`rsmmvp_tasks.secrets`).
The plain ``lmms-eval`` command stays supported.

Multi-process: ``accelerate launch -m rsmmvp_tasks.cli eval --model ... --tasks ...`` (only rank 0
writes results; the other ranks check nothing and exit 0 unless they logged an error).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import fnmatch
import inspect
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from rsmmvp_tasks.commands.argtypes import plain_help
from rsmmvp_tasks.errors import EXIT_OK, EXIT_VIOLATIONS, RsmmvpError, UsageError
from rsmmvp_tasks.evaluation.hook import activate, option_values
from rsmmvp_tasks.evaluation.judge import JudgeConfig
from rsmmvp_tasks.hubaccess import OFFLINE_ADVICE, check_hub, hub_offline
from rsmmvp_tasks.modelload import not_loadable
from rsmmvp_tasks.secrets import RedactingStream, redact

DEFAULT_OUTPUT = "results"
#: longest error line shown (lmms-eval's "model not found" lists every model it knows)
MAX_REASON = 400
#: ``--model_args`` keys that may name a model on the hub
_MODEL_ID_KEYS = ("pretrained", "model", "model_name", "model_path", "model_id")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # prefix_chars="+" lets every "--flag" through untouched: they are lmms-eval's, not ours
    p = sub.add_parser(
        "eval",
        prefix_chars="+",
        add_help=False,
        help="run lmms-eval with the same arguments, checked first; exit 1 when it fails or writes no results",
        description=plain_help(__doc__),
    )
    p.add_argument("lmms_args", nargs="*", help="the arguments of `lmms-eval` (e.g. --model dummy --tasks rsmmvp_mini)")
    p.set_defaults(func=run)


@dataclass
class EvalOutcome:
    """What one in-process lmms-eval run left behind."""

    errors: list[str] = field(default_factory=list)
    #: the results file lmms-eval's tracker wrote in this run (none when the save failed)
    results_files: list[Path] = field(default_factory=list)
    missing_tasks: list[str] = field(default_factory=list)
    #: only the main process (rank 0) writes results; the other ranks are judged by their errors alone
    writes_results: bool = True
    #: a refusal of ours raised inside lmms-eval's run (unknown task names): reported as such, exit 2
    refusal: RsmmvpError | None = None

    @property
    def ok(self) -> bool:
        found = bool(self.results_files) and not self.missing_tasks
        return not self.errors and self.refusal is None and (found or not self.writes_results)


def _option(args: Sequence[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``args`` (the last one wins)."""
    values = option_values(args, name)
    return values[-1] if values else None


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


# --------------------------------------------------------------------------- checks before the run


def check_output_folder(output: Path) -> None:
    """Refuse (:class:`UsageError`) an ``--output_path`` that cannot be created or written; creates it."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".rsmmvp-write-check-"):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UsageError(f"--output_path {output}: cannot write there ({why}); choose a folder you can write to") from None


def parse_model_args(model_args: str | None) -> dict[str, Any]:
    """``--model_args`` as lmms-eval reads it (``k=v,k2=v2``; JSON values may hold commas)."""
    if not model_args or not model_args.strip():
        return {}
    from lmms_eval.utils import simple_parse_args_string

    try:
        return dict(simple_parse_args_string(model_args))
    except Exception as exc:  # noqa: BLE001 - lmms-eval raises bare exceptions for malformed strings
        raise UsageError(f"--model_args {redact(model_args)!r} cannot be read ({type(exc).__name__}: {exc}); "
                         "write key=value pairs separated by commas") from None


def unknown_model_args(model_class: type, keys: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """``(unknown keys, the parameters model_class.__init__ names, whether it also takes **kwargs)``.

    ``unknown``: the ``keys`` that are not named parameters. With ``**kwargs`` they may still be
    taken, so only a caller that knows better than the signature should refuse them.
    """
    try:
        params = inspect.signature(model_class.__init__).parameters
    except (TypeError, ValueError):
        return [], [], True
    named = [n for n, p in params.items()
             if n != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return [k for k in keys if k not in named], named, var_keyword


def _model_class(name: str, force_simple: bool) -> type | None:
    """The class lmms-eval will build for ``--model name``, or None when it cannot be resolved here
    (lmms-eval then reports it itself)."""
    try:
        from lmms_eval.models import MODEL_REGISTRY_V2
    except Exception:  # noqa: BLE001 - lmms-eval of another shape: no check, lmms-eval decides
        return None
    try:
        cls = MODEL_REGISTRY_V2.get_model_class(name, force_simple=force_simple)
    except Exception:  # noqa: BLE001 - unknown model: lmms-eval's own message lists the known ones
        return None
    return cls if isinstance(cls, type) else None


def check_model_args(argv: Sequence[str], warn: Any = None) -> dict[str, Any]:
    """Check the ``--model_args`` keys against the model's constructor; returns the parsed args.

    A constructor with named parameters only: an unknown key is refused (:class:`UsageError`,
    naming the parameters it takes). A constructor that also takes ``**kwargs`` (every lmms-eval
    0.7.3 model): nothing can be refused, but a key that is a near miss of a named parameter
    (``respone`` for ``response``) gets one warning line through ``warn`` (default: stderr).
    """
    model, model_args = _option(argv, "--model"), _option(argv, "--model_args")
    parsed = parse_model_args(model_args)
    if not model or not parsed:
        return parsed
    cls = _model_class(model, force_simple="--force_simple" in argv)
    if cls is None:
        return parsed
    unknown, named, var_keyword = unknown_model_args(cls, list(parsed))
    if unknown and not var_keyword:
        raise UsageError(f"--model_args {', '.join(unknown)}: --model {model} does not take "
                         f"{'this parameter' if len(unknown) == 1 else 'these parameters'} "
                         f"(lmms-eval would ignore {'it' if len(unknown) == 1 else 'them'}); "
                         f"it takes: {', '.join(named) or 'none'}")
    for key in unknown:
        near = difflib.get_close_matches(key, named, n=1, cutoff=0.75)
        if near:
            (warn or _warn)(f"rsmmvp eval: warning: --model_args {key}: --model {model} names no such parameter "
                            f"(did you mean {near[0]}?); its **kwargs may ignore it")
    return parsed


def _warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def preflight(argv: Sequence[str], output: Path) -> dict[str, Any]:
    """Every check that needs no lmms-eval run (see the module docstring); returns the parsed ``--model_args``.

    Raises :class:`UsageError` (exit 2). The task names are checked later, against the index
    lmms-eval builds anyway (:func:`_checking_task_names`), still before the model loads.
    """
    JudgeConfig.from_env()
    check_output_folder(output)
    check_hub("rsmmvp eval", required=False)
    return check_model_args(argv)


def missing_task_names(requested: Sequence[str], known: Sequence[str]) -> list[str]:
    """The ``requested`` names that are neither in ``known`` nor a wildcard matching one of them."""
    return [name for name in requested
            if name not in known and not (any(c in name for c in "*?[") and fnmatch.filter(known, name))]


def unknown_tasks_error(missing: Sequence[str], known: Sequence[str]) -> UsageError:
    """The refusal of unknown ``--tasks`` names, with the nearest known names."""
    near = list(dict.fromkeys(m for name in missing for m in difflib.get_close_matches(name, known, n=3, cutoff=0.6)))
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    return UsageError(f"--tasks: no task named {', '.join(missing)}{hint}; list the tasks with `lmms-eval --tasks list`, "
                      "and give a task of your own with --include_path FOLDER")


class _Refused(BaseException):
    """Carries a refusal of ours out of lmms-eval's run, past its ``except Exception`` (no traceback)."""


@contextlib.contextmanager
def _checking_task_names(outcome: EvalOutcome, requested: Sequence[str]) -> Iterator[None]:
    """While active, lmms-eval's ``TaskManager.match_tasks`` refuses unknown names with our message
    (it runs after the task index is built and before the model loads)."""
    try:
        from lmms_eval.tasks import TaskManager
    except Exception:  # noqa: BLE001 - lmms-eval of another shape: its own check stays
        yield
        return
    original = getattr(TaskManager, "match_tasks", None)
    if not callable(original):
        yield
        return

    def match_tasks(self: Any, task_list: Any) -> Any:
        known = list(getattr(self, "all_tasks", []) or [])
        missing = missing_task_names([t for t in requested if t in task_list], known) if known else []
        if missing:
            outcome.refusal = unknown_tasks_error(missing, known)
            raise _Refused()  # not an Exception: lmms-eval's `except Exception` would print a traceback
        return original(self, task_list)

    TaskManager.match_tasks = match_tasks  # type: ignore[method-assign]
    try:
        yield
    finally:
        TaskManager.match_tasks = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _recording_results_file(outcome: EvalOutcome) -> Iterator[None]:
    """While active, the results file lmms-eval's tracker writes is recorded in ``outcome.results_files``.

    The file is the tracker's own (``output_path/model_name_sanitized/date_id_results.json``) and it
    counts only when it holds this run's ``end_time`` -- a save that failed, or a file another run
    wrote at the same path, does not.
    """
    try:
        from lmms_eval.loggers.evaluation_tracker import EvaluationTracker
    except Exception:  # noqa: BLE001
        yield
        return
    original = EvaluationTracker.save_results_aggregated

    def save_results_aggregated(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        path = _own_results_file(self)
        if path is not None:
            outcome.results_files.append(path)
        return result

    EvaluationTracker.save_results_aggregated = save_results_aggregated  # type: ignore[method-assign]
    try:
        yield
    finally:
        EvaluationTracker.save_results_aggregated = original  # type: ignore[method-assign]


def _own_results_file(tracker: Any) -> Path | None:
    config = getattr(tracker, "general_config_tracker", None)
    date_id, output = getattr(tracker, "date_id", None), getattr(tracker, "output_path", None)
    if config is None or not date_id or not output:
        return None
    path = Path(output) / str(getattr(config, "model_name_sanitized", "") or "") / f"{date_id}_results.json"
    try:
        written = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(written, dict) or written.get("end_time") != getattr(config, "end_time", None):
        return None
    return path


@contextlib.contextmanager
def _redacted_output() -> Iterator[None]:
    """stdout and stderr through :class:`~rsmmvp_tasks.secrets.RedactingStream` (``print`` and logs alike)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(saved[0]), RedactingStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved


# --------------------------------------------------------------------------- reading the failure

#: modules whose exceptions say only that a connection failed (the line above them says what for)
_TRANSPORT_MODULES = ("socket", "ssl", "httpx", "httpcore", "urllib3", "requests", "h11", "h2", "anyio", "aiohttp")
_TRANSPORT_NAMES = {"gaierror", "ConnectionError", "ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutError",
                    "NewConnectionError", "MaxRetryError", "ProxyError", "SSLError", "RemoteDisconnected"}
#: exceptions that mean the hub was needed and could not be used
_HUB_MISS_NAMES = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "RepositoryNotFoundError", "HfHubHTTPError"}


def failure_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first: ``raise ... from``, implicit chaining, and
    tenacity's ``RetryError`` (lmms-eval retries dataset loading)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        attempt = getattr(current, "last_attempt", None)  # tenacity.RetryError
        inner = attempt.exception() if attempt is not None and hasattr(attempt, "exception") else None
        current = inner or current.__cause__ or current.__context__
    return chain


def _is_transport(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0].rstrip("0123456789")
    return module in _TRANSPORT_MODULES or type(exc).__name__ in _TRANSPORT_NAMES or (
        isinstance(exc, (ConnectionError, TimeoutError)))


def _is_wrapper(exc: BaseException) -> bool:
    return type(exc).__name__ == "RetryError" or not str(exc).strip()


def root_cause(exc: BaseException) -> BaseException:
    """The most informative exception of :func:`failure_chain`: an rsmmvp error anywhere wins; else the
    outermost one that is neither a bare wrapper (``RetryError``, no message) nor a mere transport
    failure (``socket.gaierror``, ``httpx.ConnectError``, ...); else the innermost."""
    chain = failure_chain(exc)
    for item in chain:
        if isinstance(item, RsmmvpError):
            return item
    for item in chain:
        if not _is_wrapper(item) and not _is_transport(item):
            return item
    return chain[-1]


def _hub_model_id(model_args: dict[str, Any]) -> str | None:
    for key in _MODEL_ID_KEYS:
        value = str(model_args.get(key) or "").strip()
        if value.count("/") == 1 and not value.startswith((".", "/", "~")) and not os.path.exists(value):
            return value
    return None


def _hub_miss(chain: Sequence[BaseException]) -> bool:
    text = " ".join(str(e) for e in chain).lower()
    return (any(_is_transport(e) or type(e).__name__ in _HUB_MISS_NAMES for e in chain)
            or "cached files" in text or "offline mode" in text or "local cache" in text)


def describe(exc: BaseException, model: str | None = None, model_args: dict[str, Any] | None = None) -> str:
    """One line about ``exc``: :func:`root_cause`'s message (an rsmmvp error: its message alone), and,
    when the hub was needed and not usable, the way out: ``hf download`` for a ``pretrained=ORG/NAME``
    model, ``HF_HUB_OFFLINE=1`` and the local cache otherwise."""
    cause = root_cause(exc)
    if isinstance(cause, RsmmvpError):
        return str(cause)
    chain = failure_chain(exc)
    if _hub_miss(chain):
        hub_id = _hub_model_id(model_args or {})
        if hub_id:
            return not_loadable(f"--model {model}" if model else "the model", hub_id, cause,
                                f"`hf download {hub_id} --local-dir DIR`", "pass --model_args pretrained=DIR")
        if not hub_offline():
            return f"{type(cause).__name__}: {_first_line(cause)} ({OFFLINE_ADVICE})"
    return f"{type(cause).__name__}: {_first_line(cause)}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


# --------------------------------------------------------------------------- the run


def run_lmms_eval(args: Sequence[str]) -> EvalOutcome:
    """Check, then run lmms-eval in this process with ``args``, and report what it left behind.

    Raises :class:`UsageError` for what :func:`preflight` refuses (nothing has run then).
    """
    argv, output, tasks = prepare_args(args)
    model_args = preflight(argv, output)
    model = _option(argv, "--model")
    outcome = EvalOutcome()
    saved_argv = sys.argv
    sys.argv = ["lmms-eval", *argv]
    try:
        with _redacted_output():
            import lmms_eval.__main__ as lmms_main

            activate()
            single = getattr(lmms_main, "cli_evaluate_single", None)

            def recording_single(*a: Any, **kw: Any) -> Any:
                # lmms-eval catches what this raises and only logs it: record it first
                try:
                    return single(*a, **kw)  # type: ignore[misc]
                except _Refused:
                    raise
                except BaseException as exc:
                    outcome.errors.append(describe(exc, model, model_args))
                    raise

            if callable(single):
                lmms_main.cli_evaluate_single = recording_single
            try:
                with _checking_task_names(outcome, tasks), _recording_results_file(outcome):
                    lmms_main.cli_evaluate()
            except _Refused:
                pass  # outcome.refusal says why
            except SystemExit as exc:  # lmms-eval exits early for some argument errors
                if exc.code not in (None, 0):
                    outcome.errors.append(f"lmms-eval exited with status {exc.code}")
            except Exception as exc:  # noqa: BLE001 - lmms-eval raises bare exceptions for user errors
                outcome.errors.append(describe(exc, model, model_args))
            finally:
                if callable(single):
                    lmms_main.cli_evaluate_single = single
    finally:
        sys.argv = saved_argv
    if not _is_main_process():
        outcome.writes_results = False
        return outcome
    present: set[str] = set()
    for f in outcome.results_files:
        present |= _tasks_in(f)
    outcome.missing_tasks = [t for t in tasks if t not in present and not any(c in t for c in "*?[")]
    return outcome


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


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def run(args: argparse.Namespace) -> int:
    if not args.lmms_args or any(a in ("-h", "--help") for a in args.lmms_args):
        print("usage: rsmmvp eval LMMS_EVAL_ARGS...   (e.g. rsmmvp eval --model dummy --tasks rsmmvp_mini)\n")
        print(plain_help(__doc__))
        print("lmms-eval's own options: lmms-eval eval --help")
        return EXIT_OK
    outcome = run_lmms_eval(args.lmms_args)
    if outcome.refusal is not None:
        raise outcome.refusal
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
        reason = ("lmms-eval saved no results file in this run (see 'Could not save results aggregated' or the error "
                  "in the log above)")
    else:
        reason = f"no results for the requested task(s) {', '.join(outcome.missing_tasks)} (see the log above)"
    print(f"rsmmvp eval: error: {redact(reason)}", file=sys.stderr)
    return EXIT_VIOLATIONS
