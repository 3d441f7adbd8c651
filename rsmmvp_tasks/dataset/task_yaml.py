"""A ready lmms-eval task YAML for a dataset folder built by ``rsmmvp build``.

``rsmmvp build --out OUT`` writes ``OUT/lmms_eval/<task>.yaml`` (in the same swap as the data, so a
rebuild replaces it) and prints the command that evaluates it::

    lmms-eval --include_path OUT/lmms_eval --tasks rsmmvp_<out name>_task --output_path results --log_samples --model dummy

(replace ``--model dummy`` with your model and its ``--model_args``). The YAML holds four things:

- ``task: rsmmvp_<name>_task`` -- ``<name>`` is OUT's folder name reduced to ``[a-z0-9_]``. The
  ``rsmmvp_`` prefix and ``_task`` suffix keep it apart from the folder itself: lmms-eval 0.7.3 reads
  ``--tasks X`` as a *folder* when ``X`` is a directory in the working directory
  (``os.path.isdir``) and then selects no task at all; no built-in or rsmmvp task has this form;
- ``include:`` the absolute path of the installed ``rsmmvp/_default_template_yaml``
  (:func:`rsmmvp_tasks.paths.tasks_dir`): prompts, metrics and the answer reader of the rsmmvp tasks;
- ``dataset_path: parquet`` and ``dataset_kwargs.data_files.test``: the absolute path of the built
  parquet (images embedded);
- ``test_split: test``.

The paths are absolute, so the YAML works from any working directory; after moving OUT or installing
rsmmvp elsewhere, rebuild (or edit the two paths).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from rsmmvp_tasks.schema import PARQUET_NAME

__all__ = ["TASK_YAML_DIR", "task_name_for", "render_task_yaml", "task_yaml_files", "eval_command"]

#: sub-folder of a built dataset that holds its task YAML (pass it to ``lmms-eval --include_path``)
TASK_YAML_DIR = "lmms_eval"


def task_name_for(out_dir: str | Path) -> str:
    """``rsmmvp_<folder name as [a-z0-9_]>_task`` for a build written to ``out_dir``."""
    stem = re.sub(r"[^a-z0-9]+", "_", Path(out_dir).resolve().name.lower()).strip("_") or "dataset"
    return f"rsmmvp_{stem}_task"


def render_task_yaml(out_dir: str | Path, task_name: str) -> str:
    """The task YAML text for the dataset built at ``out_dir`` (see the module docstring)."""
    from rsmmvp_tasks.paths import tasks_dir

    template = tasks_dir() / "rsmmvp" / "_default_template_yaml"
    parquet = Path(out_dir).resolve() / PARQUET_NAME
    # json.dumps gives YAML double-quoted scalars: safe for any path (spaces, colons, '#')
    return (
        "# Written by `rsmmvp build`: this dataset as an lmms-eval task, with the rsmmvp prompts and metrics.\n"
        f"# Run: {eval_command(out_dir, task_name)}\n"
        "# The paths are absolute: rebuild after moving this folder or reinstalling rsmmvp elsewhere.\n"
        f"task: {task_name}\n"
        f"include: {json.dumps(str(template))}\n"
        "dataset_path: parquet\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {json.dumps(str(parquet))}\n"
        "test_split: test\n"
    )


def task_yaml_files(out_dir: str | Path, task_name: str | None = None) -> dict[str, str]:
    """``{relative path: text}`` of the task YAML, for :func:`rsmmvp_tasks.dataset.build.build_dataset`'s ``extra_files``."""
    name = task_name or task_name_for(out_dir)
    return {f"{TASK_YAML_DIR}/{name}.yaml": render_task_yaml(out_dir, name)}


def eval_command(out_dir: str | Path, task_name: str | None = None, model: str = "dummy") -> str:
    """The shell line that evaluates the build at ``out_dir`` with lmms-eval (``--model`` last, to replace)."""
    name = task_name or task_name_for(out_dir)
    include = Path(out_dir).resolve() / TASK_YAML_DIR
    return (f"lmms-eval --include_path {shlex.quote(str(include))} --tasks {name} "
            f"--output_path results --log_samples --model {shlex.quote(model)}")
