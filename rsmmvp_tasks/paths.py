"""Where the installed task definitions, the embedded ``rsmmvp_mini`` sample and rsmmvp's cache live.

The top-level ``task_yamls/`` folder of the checkout is installed as the subpackage
``rsmmvp_tasks.tasks`` (see ``setup.cfg``), so both a checkout and an installed wheel
resolve through :mod:`importlib`. The name ``tasks`` is what lmms-eval's legacy
``LMMS_EVAL_PLUGINS=rsmmvp_tasks`` looks up (``<plugin>.tasks``), so that variable finds the
same folder.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["cache_root", "tasks_dir", "mini_dataset_dir"]


def tasks_dir() -> Path:
    """The folder to pass to ``lmms-eval --include_path`` (it holds ``rsmmvp/*.yaml``)."""
    spec = importlib.util.find_spec("rsmmvp_tasks.tasks")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]).resolve()
    # running from a checkout without installing: task_yamls/ sits beside the package
    checkout = Path(__file__).resolve().parent.parent / "task_yamls"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        "rsmmvp task definitions not found: neither the installed package rsmmvp_tasks.tasks "
        f"nor {checkout} exists. Reinstall with `pip install .` from the rsmmvp checkout."
    )


def mini_dataset_dir() -> Path:
    """The folder of the embedded ``rsmmvp_mini`` sample (parquet with embedded image bytes)."""
    return tasks_dir() / "rsmmvp" / "data"


def cache_root() -> Path:
    """Where rsmmvp caches what it computes (converted hub snapshots, judge verdicts): ``$RSMMVP_CACHE``, default
    ``~/.cache/rsmmvp``."""
    return Path(os.environ.get("RSMMVP_CACHE", Path.home() / ".cache" / "rsmmvp"))
