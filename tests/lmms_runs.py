"""Real lmms-eval runs on ``rsmmvp_mini`` for the report and leaderboard tests, and their expected numbers.

Runs (each a real ``lmms-eval ... --output_path DIR --log_samples`` in a subprocess, offline):

- ``a``: ``dummy`` with ``response=A`` (every pair wrong: the answers of a pair are opposite);
- ``b``: ``dummy`` with ``response=B``;
- ``rule``: ``rule_vlm``, the test plugin registered through the ``lmms_eval.models`` entry point
  (right except for known rows: see ``tests/plugins/rsmmvp_echo``), so some pairs are right;
- ``limited``: ``dummy`` ``response=A`` with ``--limit 5`` (a pair cut in two: incomplete).

The expected numbers are computed here from the dataset and the plugin's rule, independently of
the runs. :func:`results_file`, :func:`details_of` and :func:`copy_run` find, read and copy (edited) a
run's files.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import datasets
from conftest import run_lmms_eval

from rsmmvp_tasks.evaluation.answers import extract_choice
from rsmmvp_tasks.evaluation.scoring import pair_stats
from rsmmvp_tasks.paths import mini_dataset_dir

PLUGIN_SRC = Path(__file__).parent / "plugins"
if str(PLUGIN_SRC) not in sys.path:
    sys.path.insert(0, str(PLUGIN_SRC))
from rsmmvp_echo import reply_for  # noqa: E402

#: run name -> lmms-eval arguments
RUNS: dict[str, list[str]] = {
    "a": ["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini"],
    "b": ["--model", "dummy", "--model_args", "response=B", "--tasks", "rsmmvp_mini"],
    "rule": ["--model", "rule_vlm", "--tasks", "rsmmvp_mini"],
    "limited": ["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini", "--limit", "5"],
}


def install_rule_plugin(root: Path) -> str:
    """A folder that makes ``rsmmvp_echo`` an installed distribution with an ``lmms_eval.models`` entry point."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PLUGIN_SRC / "rsmmvp_echo", root / "rsmmvp_echo", dirs_exist_ok=True)
    info = root / "rsmmvp_echo-0.0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rsmmvp-echo\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[lmms_eval.models]\nrule_vlm = rsmmvp_echo:manifests\n")
    return str(root)


def make_runs(base: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """Run lmms-eval once per name into ``base/<name>``; returns the output folders (asserts each wrote results)."""
    plugin = install_rule_plugin(base / "plugin")
    folders = {}
    for name in names:
        out = base / name
        run = run_lmms_eval(RUNS[name], out, env_extra={"PYTHONPATH": plugin})
        assert run.results is not None and run.samples.get("rsmmvp_mini"), \
            f"lmms-eval run {name} wrote no results/samples:\n{run.output[-4000:]}"
        folders[name] = out
    return folders


def results_file(folder: Path) -> Path:
    """The one ``*_results.json`` below a run's output folder."""
    (found,) = folder.rglob("*_results.json")
    return found


def details_of(results: dict[str, Any]) -> dict[str, Any]:
    """The ``rsmmvp_details`` metric of ``rsmmvp_mini`` in a parsed results JSON (edit it in place to damage a run)."""
    task = results["results"]["rsmmvp_mini"]
    return next(v for k, v in task.items() if k.startswith("rsmmvp_details"))


def copy_run(src: Path, dest: Path, edit: Any = None, stamp: str | None = None, samples: bool = True) -> Path:
    """A copy of a run's files in ``dest`` (renamed to timestamp ``stamp``; ``samples=False``: results only), its
    results JSON passed through ``edit(data)``; returns the copied results file."""
    dest.mkdir(parents=True)
    results = results_file(src)
    old = results.name.removesuffix("_results.json")
    new = stamp or old
    for f in results.parent.iterdir():
        if f.name.startswith(old) and (samples or f.suffix == ".json"):
            shutil.copy(f, dest / f.name.replace(old, new, 1))
    copy = dest / f"{new}_results.json"
    if edit is not None:
        data = json.loads(copy.read_text())
        edit(data)
        copy.write_text(json.dumps(data))
    return copy


def mini_rows() -> list[dict[str, Any]]:
    mini = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    return [dict(r) for r in mini.remove_columns("image")]


def expected_pairs(reply: str | None) -> dict[str, bool]:
    """``{pair_id: right?}`` of a model replying ``reply`` to every question (``None``: the rule plugin)."""
    records = []
    for row in mini_rows():
        text = reply_for(row) if reply is None else reply
        records.append({"index": row["index"], "pair_id": row["pair_id"], "pattern": row["pattern"], "pair_size": 2,
                        "answer": row["answer"], "pred": extract_choice(text, list(row["options"]))})
    return {s.pair_id: s.all_correct for s in pair_stats(records)}
