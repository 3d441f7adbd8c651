"""Write the tested lock (``requirements/lock-cpu.txt``) from a venv that passed the tests, or compare one.

    python scripts/lock.py write [--venv .venv] [--out requirements/lock-cpu.txt]
    python scripts/lock.py diff  [--venv .venv-fresh] [--lock requirements/lock-cpu.txt]

``write`` pins every package in the venv (``pip freeze``), except this project itself, with the
Python, torch and platform in the header; local version labels (``2.13.0+cpu``) are dropped so the
pin also admits the same release of another build. ``scripts/setup.sh`` installs under it by default.

``diff`` prints the packages whose versions differ between the venv and the lock (added, removed,
changed), one per line: the fresh-resolution smoke of ``.ci/run`` prints it when a fresh install
breaks, so the fix is one pin. Exit status 0 either way (it reports; the caller decides).

Move the lock deliberately: run ``bash scripts/setup.sh --latest`` into a fresh ``.venv``, run the
tests, then ``python scripts/lock.py write``, and commit the lock with the test result.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LOCK = REPO / "requirements" / "lock-cpu.txt"
#: distributions never pinned: this project (installed from the checkout) and pip's own tooling
SKIP = {"rsmmvp-tasks", "pip", "setuptools", "wheel"}
_LINE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)")


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def freeze(venv: Path) -> dict[str, str]:
    """``{canonical name: version}`` of every distribution in ``venv`` (local labels dropped)."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all", "--exclude-editable"],
        check=True, capture_output=True, text=True,
    ).stdout
    pins: dict[str, str] = {}
    for line in out.splitlines():
        m = _LINE.match(line.strip())
        if m and _canon(m.group(1)) not in SKIP:
            pins[_canon(m.group(1))] = m.group(2).split("+", 1)[0]
    return pins


def read_lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = _LINE.match(line.strip())
        if m:
            pins[_canon(m.group(1))] = m.group(2)
    return pins


def _venv_python_version(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                          check=True, capture_output=True, text=True).stdout.strip()


def write(venv: Path, out: Path) -> int:
    pins = freeze(venv)
    if "torch" not in pins:
        print(f"lock: {venv} has no torch; run scripts/setup.sh first", file=sys.stderr)
        return 2
    header = [
        "# The tested lock: every package of the test venv, pinned (scripts/setup.sh installs under it).",
        f"# Written by `python scripts/lock.py write` on {date.today().isoformat()} from a venv that passed the tests.",
        f"# python {_venv_python_version(venv)}, torch {pins['torch']} (CPU build), {platform.system()} {platform.machine()}.",
        "# Move it deliberately: `bash scripts/setup.sh --latest`, run the tests, then write it again.",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header + [f"{name}=={version}" for name, version in sorted(pins.items())]) + "\n")
    print(f"lock: {len(pins)} packages pinned in {out}")
    return 0


def diff(venv: Path, lock: Path) -> list[str]:
    """Human-readable lines for every package that differs between ``venv`` and ``lock``.

    Version changes and packages the lock lacks come first (a breaking release is among them);
    lock packages the venv does not have (e.g. test tools in a venv without the ``test`` extra)
    are summed up on one last line.
    """
    have, want = freeze(venv), read_lock(lock)
    changed = [f"  ~ {n}: lock {want[n]} -> installed {have[n]}" for n in sorted(set(have) & set(want)) if have[n] != want[n]]
    added = [f"  + {n}=={have[n]} (not in the lock)" for n in sorted(set(have) - set(want))]
    missing = sorted(set(want) - set(have))
    lines = changed + added
    if missing:
        lines.append(f"  ({len(missing)} package(s) of the lock not installed here: {', '.join(missing)})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write the lock from a venv")
    w.add_argument("--venv", type=Path, default=REPO / ".venv")
    w.add_argument("--out", type=Path, default=DEFAULT_LOCK)
    d = sub.add_parser("diff", help="print the packages whose versions differ from the lock")
    d.add_argument("--venv", type=Path, required=True)
    d.add_argument("--lock", type=Path, default=DEFAULT_LOCK)
    args = parser.parse_args(argv)
    if args.cmd == "write":
        return write(args.venv, args.out)
    lines = diff(args.venv, args.lock)
    print(f"versions that differ from {args.lock.name}:" if lines else f"no package differs from {args.lock.name}")
    if lines:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
