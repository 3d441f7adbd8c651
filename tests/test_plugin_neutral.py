"""A plugin that changes nothing else: a non-rsmmvp lmms-eval run is the same with and without rsmmvp installed.

Runs the real lmms-eval CLI (dummy model, offline) on a tiny local task of its own, twice: once as installed, once
in an interpreter where rsmmvp is hidden (its entry points filtered out of ``importlib.metadata`` and its package
unimportable, by a ``sitecustomize`` on ``PYTHONPATH``). Results, samples and the log must be identical once
timestamps, durations, memory addresses and the output folder are taken out. ``HF_TOKEN`` is set: lmms-eval logs it
in its tracker args, and rewriting that line (as the unscoped entry point did) is a change to someone else's run.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, offline_env

FAKE_TOKEN = "hf_" + "NeutralPluginTest0123456789abcdef"

_SITECUSTOMIZE = '''
"""Test helper: hide rsmmvp when RSMMVP_TEST_HIDE=1; record which rsmmvp modules were loaded, at exit."""
import atexit
import importlib.abc
import importlib.metadata as md
import os
import sys

_HIDDEN = "rsmmvp_tasks"

if os.environ.get("RSMMVP_TEST_HIDE") == "1":
    _all_entry_points = md.entry_points

    def entry_points(**params):
        eps = md.EntryPoints(ep for dist in md.distributions() for ep in dist.entry_points
                             if ep.value.split(":")[0].split(".")[0] != _HIDDEN)
        return eps.select(**params) if params else eps

    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == _HIDDEN or name.startswith(_HIDDEN + "."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    md.entry_points = entry_points
    sys.meta_path.insert(0, _Block())


@atexit.register
def _record():
    with open(os.environ["RSMMVP_TEST_MODULES"], "w") as handle:
        handle.write("\\n".join(sorted(m for m in sys.modules if m.startswith(_HIDDEN))))
'''

_TASK_YAML = """\
task: neutral_echo_task
dataset_path: json
dataset_kwargs:
  data_files:
    test: neutral.jsonl
test_split: test
output_type: generate_until
doc_to_visual: !function neutral_utils.doc_to_visual
doc_to_text: "{{question}}"
doc_to_target: "{{answer}}"
generation_kwargs:
  max_new_tokens: 4
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

#: what differs between two identical runs: when, how long, where, and object addresses
_VOLATILE = [
    (re.compile(r"\x1b\[[0-9;]*m"), ""),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?"), "<time>"),
    (re.compile(r"\d{8}_\d{6}"), "<date>"),
    (re.compile(r"\d\d:\d\d(:\d\d)?<[\d:?]+"), "<eta>"),
    (re.compile(r"[\d.]+ ?(it|s/it|examples)/s|\?(it|examples)/s"), "<rate>"),
    (re.compile(r"in \d+\.\d+s"), "in <secs>"),
    (re.compile(r"0x[0-9a-f]+"), "<addr>"),
]
_VOLATILE_KEYS = {"date", "start_time", "end_time", "total_evaluation_time_seconds"}


def _normalise(text: str, out_dir: Path) -> str:
    text = text.replace(str(out_dir), "<out>")
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _strip(value: Any, out_dir: Path) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, out_dir) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v, out_dir) for v in value]
    if isinstance(value, str):
        return _normalise(value, out_dir)
    return value


def _run(tmp_path: Path, name: str, *, hide: bool) -> tuple[str, Any, list[Any], list[str]]:
    out = tmp_path / name
    modules = tmp_path / f"{name}.modules"
    env = offline_env(tmp_path / f"hf_{name}", HF_TOKEN=FAKE_TOKEN, RSMMVP_TEST_MODULES=str(modules),
                      RSMMVP_TEST_HIDE="1" if hide else "0",
                      GIT_DIR=str(tmp_path / "no-git"))  # lmms-eval records the git commit of the checkout it sits in
    env["PYTHONPATH"] = str(tmp_path / "site") + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([str(BIN / "lmms-eval"), "--model", "dummy", "--tasks", "neutral_echo_task",
                           "--include_path", str(tmp_path / "tasks"), "--output_path", str(out), "--log_samples"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    (results_file,) = out.rglob("*_results.json")
    (samples_file,) = out.rglob("*_samples_neutral_echo_task.jsonl")
    results = _strip(json.loads(results_file.read_text()), out)
    samples = [_strip(json.loads(line), out) for line in samples_file.read_text().splitlines() if line.strip()]
    log = _normalise(proc.stdout + "\n---- stderr ----\n" + proc.stderr, out)
    return log, results, samples, modules.read_text().split()


@pytest.mark.e2e
def test_a_non_rsmmvp_run_is_the_same_with_and_without_rsmmvp(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    task = tmp_path / "tasks" / "neutral"
    task.mkdir(parents=True)
    (task / "neutral_echo_task.yaml").write_text(_TASK_YAML)
    (task / "neutral_utils.py").write_text("def doc_to_visual(doc):\n    return []\n")
    (task / "neutral.jsonl").write_text("".join(json.dumps({"question": f"Say {a}", "answer": a}) + "\n"
                                                for a in ("A", "B", "A")))

    with_log, with_results, with_samples, with_modules = _run(tmp_path, "with", hide=False)
    without_log, without_results, without_samples, without_modules = _run(tmp_path, "without", hide=True)

    assert "rsmmvp_tasks.evaluation.hook" in with_modules  # the entry point did run in the first run
    assert without_modules == []  # and rsmmvp was not there at all in the second
    assert with_results["results"]["neutral_echo_task"]["exact_match,none"] == pytest.approx(2 / 3)
    assert with_results == without_results
    assert with_samples == without_samples
    assert with_log == without_log
    assert "Evaluation tracker args" in with_log  # the line an unscoped entry point rewrote
