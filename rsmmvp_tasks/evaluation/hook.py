"""Make the rsmmvp tasks visible to an installed lmms-eval with no extra flag -- and change nothing else.

lmms-eval 0.7.3 has no task plugin hook: tasks are found only through ``--include_path``.
Models do have one, the ``lmms_eval.models`` entry-point group, which lmms-eval loads when
``lmms_eval.models`` is imported -- before the CLI builds its ``TaskManager``. This module is that
entry point (see ``setup.cfg``). It always returns our model manifests (``rsmmvp_clip``, from
:mod:`rsmmvp_tasks.models`): that is what the group is for, and it changes no other model.

Everything else it does is **scoped to runs that request an rsmmvp task** (:func:`requests_rsmmvp`:
a ``--tasks`` value, or a ``tasks:`` entry of ``--config``, that names one of our tasks or a task in
our namespace -- ``rsmmvp build`` names its tasks ``rsmmvp_<name>_task`` --, matches one with a
wildcard, or asks for a task listing). Only then does :func:`activate`:

- wrap ``lmms_eval.tasks.TaskManager.initialize_tasks`` so that the TaskManager also indexes
  :func:`rsmmvp_tasks.paths.tasks_dir` (user ``--include_path`` folders keep precedence);
- install :func:`rsmmvp_tasks.secrets.install_log_redaction`: lmms-eval 0.7.3 logs
  ``Evaluation tracker args: {..., 'token': 'hf_...'}`` at INFO whenever ``HF_TOKEN`` is set.

Any other lmms-eval run in an environment where rsmmvp is installed runs exactly as without it
(same results, same log: ``tests/test_plugin_neutral.py`` compares both). From Python, where there is
no command line to read, pass ``TaskManager(include_path=rsmmvp_tasks.tasks_dir())`` or call
:func:`activate` first. ``rsmmvp eval`` calls :func:`activate` itself.

This is the ONLY module that touches lmms-eval internals. Everything it relies on is checked
first; if lmms-eval changes shape, it logs one warning that names the supported fallback,
``lmms-eval --include_path "$(rsmmvp tasks-path)" ...``, and changes nothing.

Cost: patching needs ``lmms_eval.tasks`` (several seconds to import). The patch is therefore
applied lazily, by a one-shot import hook, when something imports ``lmms_eval.tasks`` -- which
the evaluation CLI always does -- so ``import lmms_eval.models`` stays as fast as before.

Tested against lmms-eval 0.7.3.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.abc
import importlib.machinery
import inspect
import logging
import os
import re
import sys
from types import ModuleType
from typing import Any, Callable, Sequence

from rsmmvp_tasks.paths import tasks_dir
from rsmmvp_tasks.secrets import install_log_redaction

logger = logging.getLogger(__name__)

__all__ = ["manifests", "activate", "requests_rsmmvp", "requested_task_names", "our_task_names", "option_values",
           "patch_task_manager", "FALLBACK_HINT"]

_TASKS_MODULE = "lmms_eval.tasks"
_PATCH_FLAG = "_rsmmvp_tasks_patched"
FALLBACK_HINT = 'lmms-eval --include_path "$(rsmmvp tasks-path)" --tasks rsmmvp ...'


def manifests() -> list[Any]:
    """Entry point of the ``lmms_eval.models`` group.

    Returns the model manifests rsmmvp contributes (:func:`rsmmvp_tasks.models.manifests`); when
    the command line requests an rsmmvp task (:func:`requests_rsmmvp`), also runs :func:`activate` (the
    task folder and the log redaction). Never raises: lmms-eval would only log a failure here, and
    the user must still be able to run with ``--include_path``.
    """
    try:
        wanted = requests_rsmmvp(sys.argv)
    except Exception as exc:  # pragma: no cover - defensive: an entry point must not break lmms-eval
        logger.debug("rsmmvp: could not read the requested tasks (%r)", exc)
        wanted = False
    if wanted:
        activate()
    from rsmmvp_tasks.models import manifests as model_manifests

    return model_manifests()


def activate() -> None:
    """Index the rsmmvp task folder in every lmms-eval ``TaskManager`` and redact secrets from the log.

    Idempotent; never raises (a failure is one warning naming the ``--include_path`` fallback).
    """
    try:
        install_log_redaction()
    except Exception as exc:  # pragma: no cover - defensive: an entry point must not break lmms-eval
        logger.warning("rsmmvp: could not install the log redaction of secrets (%r)", exc)
    try:
        _install()
    except Exception as exc:  # pragma: no cover - defensive: an entry point must not break lmms-eval
        _warn_fallback(f"could not register the rsmmvp task folder ({exc!r})")


#: the prefix of every rsmmvp task name, ours and those ``rsmmvp build`` writes
NAMESPACE = "rsmmvp"
#: ``--tasks`` spellings lmms-eval's argparse accepts (``--task`` is an unambiguous prefix)
_TASK_OPTIONS = ("--tasks", "--task")
#: ``--tasks`` values that list tasks instead of running them
_LISTINGS = ("list", "list_groups", "list_tags", "list_subtasks")


def option_values(argv: Sequence[str], *names: str) -> list[str]:
    """Every value of ``--name VALUE`` / ``--name=VALUE`` in ``argv`` for any of ``names``, in order."""
    values: list[str] = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                values.append(argv[i + 1])
            elif arg.startswith(name + "="):
                values.append(arg.split("=", 1)[1])
    return values


def requested_task_names(argv: Sequence[str]) -> list[str]:
    """The task names a command line requests: ``--tasks a,b`` and the ``tasks`` of ``--config FILE``.

    A ``--config`` file that cannot be read contributes nothing (lmms-eval reports it itself).
    """
    values = option_values(argv, *_TASK_OPTIONS)
    for path in option_values(argv, "--config"):
        values.extend(_config_tasks(path))
    return [name.strip() for value in values for name in str(value).split(",") if name.strip()]


def _config_tasks(path: str) -> list[str]:
    try:
        import yaml

        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except Exception:  # noqa: BLE001 - lmms-eval reports an unreadable config itself
        return []
    entries = loaded if isinstance(loaded, list) else [loaded]
    found: list[str] = []
    for entry in entries:
        tasks = entry.get("tasks") if isinstance(entry, dict) else None
        if isinstance(tasks, str):
            found.append(tasks)
        elif isinstance(tasks, list):
            found.extend(str(t) for t in tasks if isinstance(t, str))
    return found


_NAME_LINE = re.compile(r"^(?:task|tag|group)\s*:\s*(?P<value>.+?)\s*$")


@functools.lru_cache(maxsize=1)
def our_task_names() -> frozenset[str]:
    """The task, tag and group names defined by the YAML files of :func:`rsmmvp_tasks.paths.tasks_dir`.

    Read as text (top-level ``task:``/``tag:``/``group:`` lines, a scalar or an inline ``[a, b]``
    list), so no lmms-eval import is needed.
    """
    names: set[str] = set()
    for path in sorted(tasks_dir().rglob("*.yaml")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _NAME_LINE.match(line)
            if match:
                value = match.group("value").strip("[]")
                names.update(v.strip().strip("\"'") for v in value.split(",") if v.strip().strip("\"'"))
    return frozenset(names)


def requests_rsmmvp(argv: Sequence[str]) -> bool:
    """Whether the command line ``argv`` requests an rsmmvp task (see the module docstring).

    True when a requested name (:func:`requested_task_names`) is one of :func:`our_task_names` or
    in our namespace (starts with ``rsmmvp``: the tasks ``rsmmvp build`` writes, run with their
    ``--include_path``), a wildcard pattern matching one of ours (``rsmmvp*``), or a task listing
    (``--tasks list``, ``list_groups``, ``list_tags``, ``list_subtasks``: the listing then shows ours).
    """
    ours = our_task_names()
    for name in requested_task_names(argv):
        if name in ours or name.startswith(NAMESPACE) or name in _LISTINGS:
            return True
        if any(ch in name for ch in "*?[") and any(fnmatch.fnmatchcase(task, name) for task in ours):
            return True
    return False


def _install() -> None:
    module = sys.modules.get(_TASKS_MODULE)
    if module is not None:
        patch_task_manager(module)
        return
    if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def patch_task_manager(tasks_module: ModuleType) -> bool:
    """Wrap ``tasks_module.TaskManager.initialize_tasks`` to add our task folder.

    Returns True when the patch is in place (now or already), False when lmms-eval's
    ``TaskManager`` does not look like the one this was written for (a warning says so).
    """
    manager = getattr(tasks_module, "TaskManager", None)
    original = getattr(manager, "initialize_tasks", None)
    if manager is None or not callable(original):
        _warn_fallback("lmms_eval.tasks.TaskManager.initialize_tasks not found")
        return False
    if getattr(manager, _PATCH_FLAG, False):
        return True
    params = inspect.signature(original).parameters
    if "include_path" not in params:
        _warn_fallback("TaskManager.initialize_tasks has no include_path parameter")
        return False

    ours = str(tasks_dir())

    @functools.wraps(original)
    def initialize_tasks(self: Any, include_path: str | Sequence[str] | None = None, *args: Any, **kwargs: Any) -> Any:
        return original(self, _with_our_path(include_path, ours), *args, **kwargs)

    manager.initialize_tasks = initialize_tasks
    setattr(manager, _PATCH_FLAG, True)
    logger.debug("rsmmvp: lmms-eval TaskManager will index %s", ours)
    return True


def _with_our_path(include_path: str | Sequence[str] | None, ours: str) -> list[str]:
    """``include_path`` as a list with our folder appended once (user paths keep precedence)."""
    if include_path is None:
        paths: list[str] = []
    elif isinstance(include_path, (str, os.PathLike)):
        paths = [os.fspath(include_path)]
    else:
        paths = [os.fspath(p) for p in include_path]
    if all(os.path.realpath(p) != os.path.realpath(ours) for p in paths):
        paths.append(ours)
    return paths


def _warn_fallback(reason: str) -> None:
    logger.warning(
        "rsmmvp: %s; this lmms-eval version is not the one rsmmvp was tested with (0.7.3), so the rsmmvp "
        "tasks are not registered automatically. Use: %s",
        reason,
        FALLBACK_HINT,
    )


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """One-shot finder: lets ``lmms_eval.tasks`` import normally, then patches it."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TASKS_MODULE:
            return None
        sys.meta_path.remove(self)  # one shot; also avoids recursion in find_spec below
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            _warn_fallback("lmms_eval.tasks could not be located for patching")
            return spec
        spec.loader = _PatchingLoader(spec.loader)  # type: ignore[arg-type]
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        try:
            patch_task_manager(module)
        except Exception as exc:  # pragma: no cover - defensive
            _warn_fallback(f"patching failed ({exc!r})")

    def __getattr__(self, name: str) -> Callable[..., Any]:  # get_resource_reader, is_package, ...
        return getattr(self._inner, name)
