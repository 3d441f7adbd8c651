"""scripts/lock.py: the tested lock and the version diff the fresh-resolution smoke prints."""

from __future__ import annotations

import configparser
import importlib.util
import sys
from pathlib import Path

from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

spec = importlib.util.spec_from_file_location("lock", REPO / "scripts" / "lock.py")
lock = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(lock)  # type: ignore[union-attr]
VENV = Path(sys.executable).parent.parent


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO / "setup.cfg")
    return config


def test_committed_lock_pins_the_core_and_excludes_known_bad_releases() -> None:
    pins = lock.read_lock(lock.DEFAULT_LOCK)
    for name in ("lmms-eval", "torch", "transformers", "datasets", "filelock", "pytest"):
        assert name in pins, f"{name} is not pinned in {lock.DEFAULT_LOCK}"
    # every pin of the lock satisfies what setup.cfg asks (the lock is a tested point inside the ranges users get)
    pins = {canonicalize_name(k): v for k, v in pins.items()}
    requires = {canonicalize_name(Requirement(line.strip()).name): Requirement(line.strip())
                for line in setup_cfg()["options"]["install_requires"].splitlines()
                if line.strip() and not line.strip().startswith("#")}
    for name, req in requires.items():
        assert name in pins, f"{name} (setup.cfg install_requires) is not pinned in {lock.DEFAULT_LOCK}"
        assert req.specifier.contains(pins[name], prereleases=True), f"lock {name}=={pins[name]} is outside {req}"
    assert tuple(int(x) for x in pins["filelock"].split(".")[:3]) < (4, 3, 1)  # removed filelock._api
    assert "rsmmvp-tasks" not in pins and not any("+" in v for v in pins.values())


def test_write_then_diff_names_exactly_the_changed_package(tmp_path: Path) -> None:
    out = tmp_path / "lock.txt"
    assert lock.write(VENV, out) == 0
    header = out.read_text().splitlines()[:4]
    assert any(line.startswith("# python 3.") and "torch" in line for line in header)
    assert lock.diff(VENV, out) == []
    pins = lock.read_lock(out)
    text = out.read_text().replace(f"filelock=={pins['filelock']}", "filelock==0.0.1")
    text = text.replace(f"pyyaml=={pins['pyyaml']}\n", "")
    out.write_text(text + "not-a-real-package==1.0\n")
    lines = lock.diff(VENV, out)
    assert lines[0] == f"  ~ filelock: lock 0.0.1 -> installed {pins['filelock']}"
    assert f"  + pyyaml=={pins['pyyaml']} (not in the lock)" in lines
    assert lines[-1].startswith("  (1 package(s) of the lock not installed here: not-a-real-package")
