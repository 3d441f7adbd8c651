"""The error types of rsmmvp and the exit codes of the ``rsmmvp`` command.

Every error a user can cause derives from :class:`RsmmvpError`. ``rsmmvp_tasks.cli.main`` catches
it once and prints its message as one line on stderr (no traceback), then exits with its
:attr:`~RsmmvpError.exit_code`:

====  =========================================================================================
code  meaning
====  =========================================================================================
0     success
1     the data was read and breaks the contract (violations listed), or an evaluation failed
2     usage error or unreadable input: a missing file, a corrupt table or cache, a bad option
3     an external service could not be reached (the hub offline, a push refused)
70    an internal error: a bug in rsmmvp (the traceback is shown, with a line asking to report it)
130   interrupted (Ctrl-C)
====  =========================================================================================

A message says what is wrong, where (the file, row or option) and how to fix it. Its first line is
the summary ``rsmmvp <command>: error: <first line>``; further lines (a list of violations, the
tables tried) follow indented.

An ``OSError`` that names a file and is the user's environment (permission denied, a full or
read-only disk, a file where a folder must be) is shown the same way, exit code 2. Any other
exception reaching ``cli.main`` is a bug, not a user error: the traceback is kept (it
is what a maintainer needs) and followed by one line saying so, with exit code 70 (``EX_SOFTWARE``
of ``sysexits.h``), so a script can tell a bug from bad input.
"""

from __future__ import annotations

__all__ = [
    "EXIT_OK",
    "EXIT_VIOLATIONS",
    "EXIT_USAGE",
    "EXIT_UNAVAILABLE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "RsmmvpError",
    "UsageError",
    "InputError",
    "DataViolationError",
    "ServiceError",
]

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class RsmmvpError(Exception):
    """Base class of every error a user can cause; its message is shown as is."""

    exit_code: int = EXIT_USAGE


class UsageError(RsmmvpError, ValueError):
    """A command-line option or argument that cannot work (a bad value, a device that is not there)."""

    exit_code = EXIT_USAGE


class InputError(RsmmvpError, ValueError):
    """An input that cannot be read: missing, corrupt, of the wrong kind."""

    exit_code = EXIT_USAGE


class DataViolationError(RsmmvpError, ValueError):
    """The data was read but breaks the contract."""

    exit_code = EXIT_VIOLATIONS


class ServiceError(RsmmvpError, RuntimeError):
    """An external service (the Hugging Face hub) could not be reached or refused."""

    exit_code = EXIT_UNAVAILABLE
