"""The hub commands our error messages suggest exist in the installed ``huggingface_hub``.

huggingface_hub 1.0 dropped the ``huggingface-cli`` command for ``hf`` (``hf download``, ``hf upload``,
``hf auth login``); a message naming a command the user does not have is a wrong way out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import rsmmvp_tasks

PACKAGE = Path(rsmmvp_tasks.__file__).parent


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


def test_the_hf_command_is_installed_and_huggingface_cli_is_not():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("hf", "").startswith("huggingface_hub"), "huggingface_hub installs no `hf` command"
    assert "huggingface-cli" not in scripts  # so a message must not suggest it


def test_no_message_suggests_huggingface_cli():
    offenders = [str(p.relative_to(PACKAGE)) for p, text in _sources().items() if "huggingface-cli" in text]
    assert offenders == []


def test_suggested_hf_subcommands_are_real():
    """Every ``hf <sub>`` a message names answers ``--help`` in the installed CLI."""
    hf = Path(sys.executable).with_name("hf")
    named = {m for text in _sources().values() for m in re.findall(r"`hf ([a-z]+)", text)}
    assert {"download", "upload", "auth"} <= named, named  # what the messages suggest today
    for sub in sorted(named):
        done = subprocess.run([str(hf), sub, "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"`hf {sub} --help` failed: {done.stderr[-300:]}"
