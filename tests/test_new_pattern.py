"""Adding a visual pattern is one entry in ``rsmmvp_tasks.schema.PATTERNS``: no YAML, no aggregation function.

The test adds a pattern the way a maintainer would (here at interpreter start, through ``sitecustomize``, so the real
lmms-eval CLI runs with it), relabels two pairs of the shipped sample with it, and checks that the printed table's
metric and the details' per-pattern entry appear for it.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from conftest import run_lmms_eval

from rsmmvp_tasks import mini_dataset_dir, tasks_dir

pytestmark = pytest.mark.e2e


def test_a_pattern_added_to_schema_gets_its_metric_in_a_dummy_run(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import rsmmvp_tasks.schema as schema\nschema.PATTERNS['shadow'] = 'Shadows and Illumination'\n")
    mini = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    pairs = sorted(set(mini["pair_id"]))[:2]
    relabelled = mini.map(lambda row: {"pattern": "shadow" if row["pair_id"] in pairs else row["pattern"]})
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    relabelled.to_parquet(str(tasks / "shadow.parquet"))
    (tasks / "rsmmvp_shadow.yaml").write_text(
        "task: rsmmvp_shadow\n"
        f"include: {tasks_dir() / 'rsmmvp' / '_default_template_yaml'}\n"
        "dataset_path: parquet\n"
        f"dataset_kwargs:\n  data_files:\n    test: {tasks / 'shadow.parquet'}\n"
        "test_split: test\n")
    run = run_lmms_eval(["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_shadow",
                         "--include_path", str(tasks)], tmp_path / "run", env_extra={"PYTHONPATH": str(site)})
    metrics = run.metrics("rsmmvp_shadow")
    assert metrics["pair_accuracy_shadow"] == 0.0, run.output[-3000:]
    assert "pair_accuracy_shadow_stderr" in metrics
    details = metrics["rsmmvp_details_stderr"]
    assert details["per_pattern"]["shadow"]["pairs"] == 2
    # without the entry, the pattern is unknown to the contract: the same data gives no such metric
    plain = run_lmms_eval(["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_shadow",
                           "--include_path", str(tasks)], tmp_path / "plain")
    assert "pair_accuracy_shadow" not in (plain.metrics("rsmmvp_shadow") if plain.results else {})
