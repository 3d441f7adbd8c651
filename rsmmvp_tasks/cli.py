"""The ``rsmmvp`` command: one entry point, one subcommand per job.

Each subcommand lives in :mod:`rsmmvp_tasks.commands` as a module exposing
``register(subparsers) -> None`` (adds its parser and sets ``func``) and keeps heavy imports
(torch, transformers, datasets) inside its ``run`` function, so ``rsmmvp --help`` is instant.

One error model (:mod:`rsmmvp_tasks.errors`): a command raises a subclass of
:class:`~rsmmvp_tasks.errors.RsmmvpError`; :func:`main` catches it once and prints
``rsmmvp <command>: error: <message>`` on stderr and returns its exit code. argparse usage errors
exit 2 with the same prefix. An ``OSError`` naming a file for a reason that is the user's
environment (permission denied, disk full or read-only, a file where a folder must be) is one line
too, exit 2. Any other exception is a bug: its traceback is printed, then a line asking to report
it, exit 70. The codes are listed in ``rsmmvp --help``.

Logging: our own loggers (``rsmmvp_tasks.*``) log at INFO (DEBUG with ``-v``); every other library
logs only warnings (INFO too with ``-v``), so no "NumExpr defaulting to N threads", faiss loader or
httpx request lines on every command; ``datasets``' per-step progress bars are off (our own bars for
long loops stay).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
import traceback
from typing import Sequence

from rsmmvp_tasks import __version__
from rsmmvp_tasks.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, RsmmvpError

#: subcommand modules, in the order ``rsmmvp --help`` lists them
COMMAND_MODULES: tuple[str, ...] = (
    "tasks_path",
    "eval",
    "validate",
    "build",
    "tile",
    "embed",
    "mine",
    "review",
    "human",
    "report",
    "leaderboard",
)


EPILOG = """\
exit codes (every command):
  0   success
  1   the data was read and breaks the RSMMVP contract (violations listed), or an evaluation failed
  2   usage error or unreadable input: a missing file, a corrupt table or cache, a bad option
  3   an external service could not be reached (the Hugging Face hub offline, a push refused)
  70  internal error: a bug in rsmmvp (traceback shown; please report it)
  130 interrupted

errors are one line on stderr: rsmmvp COMMAND: error: MESSAGE (what, where, how to fix)"""

#: OSError numbers that are the user's environment (permissions, a full or read-only disk), not a bug
_ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EACCES", "EPERM", "ENOSPC", "EROFS", "EDQUOT") if hasattr(errno, name)
)
#: OSError numbers of a path of the wrong kind (a file given where a folder is needed, or the reverse)
_WRONG_KIND_ERRNOS = frozenset((errno.EEXIST, errno.ENOTDIR, errno.EISDIR))

#: loggers of the libraries we use that log at INFO on import or per request
_CHATTY_LOGGERS = ("numexpr", "faiss", "httpx", "httpcore", "urllib3", "filelock", "datasets", "huggingface_hub")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rsmmvp",
        description="RSMMVP: remote-sensing CLIP-blind pairs benchmark (lmms-eval task suite and data tools).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (and libraries' INFO logs)")
    parser.add_argument("--version", action="version", version=f"rsmmvp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"rsmmvp_tasks.commands.{name}")
        except ModuleNotFoundError as exc:  # a subcommand module not present in this build
            if exc.name == f"rsmmvp_tasks.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _parser_of(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The parser of subcommand ``command`` (the top-level parser when there is none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def _configure_logging(verbose: bool) -> None:
    """Ours at INFO (DEBUG with -v), everyone else's at WARNING (INFO with -v); no datasets step bars."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("rsmmvp_tasks").setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        for name in _CHATTY_LOGGERS:  # some set their own level on import; pin it before they load
            logging.getLogger(name).setLevel(logging.WARNING)
        # read by datasets when it is imported (later, inside a command's run) ...
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        if "datasets" in sys.modules:  # ... or, when main() runs in a process that imported it already
            sys.modules["datasets"].disable_progress_bars()


def _print_error(command: str, message: str) -> None:
    """``rsmmvp <command>: error: <first line>``, further lines indented, on stderr."""
    first, *rest = str(message).strip().splitlines() or [""]
    print(f"rsmmvp {command}: error: {first}", file=sys.stderr)
    for line in rest:
        print(f"  {line}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rsmmvp`` command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    # usage errors: argparse prints "rsmmvp <command>: error: ..." and exits 2
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the subcommand's parser, so the message names the command and its usage
        _parser_of(parser, getattr(args, "command", None)).error(f"unrecognized arguments: {' '.join(unknown)}")
    _configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    command = args.command
    try:
        return int(args.func(args) or 0)
    except RsmmvpError as exc:
        _print_error(command, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"rsmmvp {command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (`rsmmvp ... | head`): not an error of ours or the user's
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_OK
    except OSError as exc:
        # permission denied, disk full, a file where a folder must be: the user's to fix, not a bug
        if exc.errno in _ENVIRONMENT_ERRNOS or (exc.filename and exc.errno in _WRONG_KIND_ERRNOS):
            hint = (
                " (a file is in the way of a folder, or a folder of a file: check the paths given)"
                if exc.errno in _WRONG_KIND_ERRNOS
                else ""
            )
            where = f": {exc.filename}" if exc.filename else ""
            _print_error(command, f"{exc.strerror or exc}{where}{hint}")
            return EXIT_USAGE
        return _report_bug(command)
    except Exception:  # noqa: BLE001 - anything else is a bug: keep the evidence
        return _report_bug(command)


def _report_bug(command: str) -> int:
    """Print the traceback of the exception being handled, then a line saying it is a bug; exit 70.

    A traceback for a user error is noise, but for a bug it is the evidence a maintainer needs, so
    it is kept; the last line tells the user it is not their input and what to send.
    """
    traceback.print_exc()
    print(
        f"rsmmvp {command}: internal error (a bug in rsmmvp {__version__}, not in your input): "
        "please report it with the traceback above and the command you ran",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
