"""A model added through the entry-point registry, evaluated single- and multi-process.

With two processes lmms-eval gives doc 0 to rank 0, doc 1 to rank 1, and so on, so every pair is
split across ranks; the scores must still be exactly those computed here. The processes are started
with ``torchrun`` (what ``accelerate launch`` does on GPUs; on CPU, accelerate starts one process),
and the model takes rank and world size from ``accelerate.Accelerator`` as GPU models do.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import datasets
import pytest
from conftest import BIN, run_lmms_eval
from lmms_table import as_number, printed_rows

from rsmmvp_tasks import extract_choice, mini_dataset_dir, read_details, score

pytestmark = pytest.mark.e2e

PLUGIN_SRC = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGIN_SRC))
from rsmmvp_echo import reply_for  # noqa: E402


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A folder that makes ``rsmmvp_echo`` an installed distribution with an lmms_eval.models entry point."""
    root = tmp_path_factory.mktemp("plugin")
    shutil.copytree(PLUGIN_SRC / "rsmmvp_echo", root / "rsmmvp_echo")
    info = root / "rsmmvp_echo-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rsmmvp-echo\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[lmms_eval.models]\nrule_vlm = rsmmvp_echo:manifests\n")
    return str(root)


@pytest.fixture(scope="module")
def expected() -> dict[str, float]:
    mini = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    records = []
    for row in mini:
        pred = extract_choice(reply_for(row), list(row["options"]))
        records.append({"index": row["index"], "pair_id": row["pair_id"], "pattern": row["pattern"],
                        "pair_size": 2, "answer": row["answer"], "pred": pred})
    s = score(records)
    assert 0 < s.unreadable_rate < 1 and 0 < s.question_accuracy < 1  # the rule exercises every path
    return {"question_accuracy": s.question_accuracy, "pair_accuracy": s.pair_accuracy,
            "unreadable_rate": s.unreadable_rate, "n": len(records),
            "question_accuracy_stderr": s.question_accuracy_se, "pair_accuracy_stderr": s.pair_accuracy_se,
            "pair_accuracy_ci": s.pair_accuracy_ci}


def _check(run, expected: dict) -> None:
    metrics = run.metrics("rsmmvp_mini")
    for k in ("question_accuracy", "pair_accuracy", "unreadable_rate", "question_accuracy_stderr",
              "pair_accuracy_stderr"):
        assert metrics[k] == pytest.approx(expected[k]), k
    details = read_details(run.results, "rsmmvp_mini")
    assert details["incomplete_pairs"] == []
    assert (details["pair_accuracy"]["ci_low"], details["pair_accuracy"]["ci_high"]) == expected["pair_accuracy_ci"]
    # the standard errors reach the printed table's Stderr column (lmms-eval aggregates <m> before <m>_stderr)
    table = {row["Metric"]: row for row in printed_rows(run.output, "RSMMVP-mini")}
    for k in ("question_accuracy", "pair_accuracy"):
        assert as_number(table[k]["Stderr"]) == pytest.approx(expected[f"{k}_stderr"], abs=5e-5), k


def test_entry_point_model_single_process(tmp_path: Path, plugin_path: str, expected: dict) -> None:
    run = run_lmms_eval(["--model", "rule_vlm", "--tasks", "rsmmvp_mini"], tmp_path,
                        env_extra={"PYTHONPATH": plugin_path})
    _check(run, expected)


def test_two_processes_split_every_pair_and_score_the_same(tmp_path: Path, plugin_path: str, expected: dict) -> None:
    launcher = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", "29517", "-m", "lmms_eval"]
    run = run_lmms_eval(["--model", "rule_vlm", "--tasks", "rsmmvp_mini"], tmp_path,
                        env_extra={"PYTHONPATH": plugin_path, "OMP_NUM_THREADS": "1"}, launcher=launcher)
    per_rank = dict(re.findall(r"rule_vlm: rank (\d) answers (\d+) requests", run.output))
    assert per_rank.keys() == {"0", "1"}, run.output[-3000:]  # both processes answered ...
    assert sum(map(int, per_rank.values())) == expected["n"]  # ... and split the questions between them
    _check(run, expected)
    assert run.results["n-samples"]["rsmmvp_mini"]["effective"] == expected["n"]
