"""Plain (non-editable) pip installs into a throw-away folder, for tests that must run what a user installs.

``pip install --target DIR`` puts the package *and its ``*.dist-info``* (with ``entry_points.txt``)
into ``DIR``; a subprocess with ``PYTHONPATH=DIR`` then imports that copy ahead of the venv's and
``importlib.metadata`` finds its entry points (the first distribution of a name on ``sys.path``
wins), so lmms-eval's ``lmms_eval.models`` entry points come from the installed copy. The shared
``.venv`` is never modified. Sources are copied to a temporary folder first, so the build's
``build/`` and ``*.egg-info`` never land in the working tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import REPO

#: what a build of this checkout reads (see setup.cfg / pyproject.toml)
CHECKOUT_FILES = ("pyproject.toml", "setup.cfg", "README.md", "rsmmvp_tasks", "task_yamls")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info")


def pip_install_target(source: Path, target: Path) -> Path:
    """``pip install --no-deps --no-build-isolation --target target <copy of source>``; returns ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rsmmvp-build-") as tmp:
        src = Path(tmp) / source.name
        shutil.copytree(source, src, ignore=_IGNORE)
        _pip(src, target)
    return target


def install_checkout(target: Path) -> Path:
    """Install this checkout (rsmmvp-tasks) non-editably into ``target``; returns ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rsmmvp-build-") as tmp:
        src = Path(tmp) / "rsmmvp"
        src.mkdir()
        for name in CHECKOUT_FILES:
            path = REPO / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=_IGNORE)
            else:
                shutil.copy2(path, src / name)
        _pip(src, target)
    return target


def _pip(src: Path, target: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"pip install of {src.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
