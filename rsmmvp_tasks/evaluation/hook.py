"""Make the rsmmvp tasks visible to an installed lmms-eval with no extra flag.

lmms-eval 0.7.3 has no task plugin hook: tasks are found only through ``--include_path``.
Models do have one, the ``lmms_eval.models`` entry-point group, which lmms-eval loads when
``lmms_eval.models`` is imported -- before the CLI builds its ``TaskManager``. This module is that
entry point (see ``setup.cfg``). Besides returning our model manifests (``rsmmvp_clip``, from :mod:`rsmmvp_tasks.models`),
it wraps ``lmms_eval.tasks.TaskManager.initialize_tasks`` so that every TaskManager also indexes
:func:`rsmmvp_tasks.paths.tasks_dir`.

This is the ONLY module that touches lmms-eval internals. Everything it relies on is checked
first; if lmms-eval changes shape, it logs one warning that names the supported fallback,
``lmms-eval --include_path "$(rsmmvp tasks-path)" ...``, and changes nothing.

Cost: patching needs ``lmms_eval.tasks`` (several seconds to import). The patch is therefore
applied lazily, by a one-shot import hook, when something imports ``lmms_eval.tasks`` -- which
the evaluation CLI always does -- so ``import lmms_eval.models`` stays as fast as before.

Secrets: lmms-eval 0.7.3 logs ``Evaluation tracker args: {..., 'token': 'hf_...'}`` at INFO whenever
``HF_TOKEN`` is set. The entry point therefore also installs :func:`install_log_redaction`, which
rewrites every loguru message (lmms-eval's logger) and every stdlib log record through
:func:`redact_secrets` before any handler sees it, so no token reaches the console or a log file.

Tested against lmms-eval 0.7.3 (pinned in ``setup.cfg``).
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import inspect
import logging
import os
import sys
from types import ModuleType
from typing import Any, Callable, Sequence

from rsmmvp_tasks.secrets import install_log_redaction

logger = logging.getLogger(__name__)

__all__ = ["manifests", "patch_task_manager", "FALLBACK_HINT"]

_TASKS_MODULE = "lmms_eval.tasks"
_PATCH_FLAG = "_rsmmvp_tasks_patched"
FALLBACK_HINT = 'lmms-eval --include_path "$(rsmmvp tasks-path)" --tasks rsmmvp ...'


def manifests() -> list[Any]:
    """Entry point of the ``lmms_eval.models`` group.

    Returns the model manifests rsmmvp contributes (:func:`rsmmvp_tasks.models.manifests`) and
    arranges for the task folder to be indexed by every :class:`lmms_eval.tasks.TaskManager`. Never
    raises: lmms-eval would only log a failure here, and the user must still be able to run with
    ``--include_path``.
    """
    try:
        install_log_redaction()
    except Exception as exc:  # pragma: no cover - defensive: an entry point must not break lmms-eval
        logger.warning("rsmmvp: could not install the log redaction of secrets (%r)", exc)
    try:
        _install()
    except Exception as exc:  # pragma: no cover - defensive: an entry point must not break lmms-eval
        _warn_fallback(f"could not register the rsmmvp task folder ({exc!r})")
    from rsmmvp_tasks.models import manifests as model_manifests

    return model_manifests()


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

    from rsmmvp_tasks.paths import tasks_dir

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
