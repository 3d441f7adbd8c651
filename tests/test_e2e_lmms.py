"""End to end: the real lmms-eval CLI on the embedded rsmmvp_mini sample, offline, on CPU.

Each run is checked on the results JSON and the samples it logged (the CLI exits 0 even when the
evaluation failed, so its return code proves nothing).
"""

from __future__ import annotations

import math
from pathlib import Path

import datasets
import pytest

from conftest import REPO, LmmsRun, run_lmms_eval
from rsmmvp_tasks.evaluation.answers import extract_choice
from rsmmvp_tasks.evaluation.task import METRICS
from rsmmvp_tasks.paths import mini_dataset_dir
from rsmmvp_tasks.evaluation.scoring import score


@pytest.fixture(scope="module")
def mini() -> datasets.Dataset:
    return datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")


def _expected_for_constant_reply(mini: datasets.Dataset, letter: str) -> dict[str, float]:
    records = [
        {"index": r["index"], "pair_id": r["pair_id"], "pattern": r["pattern"], "pair_size": 2,
         "answer": r["answer"], "pred": letter}
        for r in mini.remove_columns("image")
    ]
    s = score(records)
    return {"question_accuracy": s.question_accuracy, "pair_accuracy": s.pair_accuracy}


def _assert_complete_metrics(run: LmmsRun, task: str) -> dict:
    m = run.metrics(task)
    missing = [k for k in METRICS if k not in m]
    assert not missing, f"metrics missing from results.json: {missing}"
    for k in ("question_accuracy", "pair_accuracy", "unreadable_rate"):
        assert 0.0 <= m[k] <= 1.0, (k, m[k])
    assert m["question_accuracy_ci_low"] <= m["question_accuracy"] <= m["question_accuracy_ci_high"]
    assert m["pair_accuracy_ci_low"] <= m["pair_accuracy"] <= m["pair_accuracy_ci_high"]
    return m


def test_dummy_always_a_without_include_path(tmp_path: Path, mini: datasets.Dataset) -> None:
    """Installed package, no flag: the entry point makes rsmmvp_mini visible; scores are exact."""
    run = run_lmms_eval(["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini"], tmp_path,
                        cwd=tmp_path)
    m = _assert_complete_metrics(run, "rsmmvp_mini")
    expected = _expected_for_constant_reply(mini, "A")
    assert m["question_accuracy"] == pytest.approx(expected["question_accuracy"])
    assert m["pair_accuracy"] == 0.0  # opposite answers: a constant reply never gets a pair right
    assert m["unreadable_rate"] == 0.0 and m["incomplete_pairs"] == 0
    patterns = set(mini["pattern"])
    for p in patterns:
        assert m[f"pair_accuracy_{p}"] == 0.0
    absent = [k for k in METRICS if k.startswith("pair_accuracy_") and k[len("pair_accuracy_"):] not in patterns
              and not k.endswith(("_ci_low", "_ci_high"))]
    assert all(m[k] is None for k in absent)
    assert run.results["n-samples"]["rsmmvp_mini"]["effective"] == len(mini)
    assert "pair_accuracy" in run.output and "question_accuracy" in run.output  # printed table
    assert "rsmmvp pair accuracy per visual pattern" in run.output
    n_orientation = len({r["pair_id"] for r in mini.remove_columns("image") if r["pattern"] == "orientation"})
    assert f"| Orientation and Direction | {n_orientation} | 0.0000 |" in run.output


def test_include_path_from_checkout_and_limit_reports_incomplete_pair(tmp_path: Path, mini: datasets.Dataset) -> None:
    run = run_lmms_eval(["--model", "dummy", "--model_args", "response=B", "--tasks", "rsmmvp_mini",
                         "--include_path", str(REPO / "task_yamls"), "--limit", "3"], tmp_path)
    m = run.metrics("rsmmvp_mini")
    assert m["incomplete_pairs"] == 1
    assert "incomplete pair" in run.output
    first3 = mini.remove_columns("image").select(range(3))
    assert m["question_accuracy"] == pytest.approx(sum(a == "B" for a in first3["answer"]) / 3)


def test_legacy_plugins_variable_does_not_break_a_run(tmp_path: Path) -> None:
    run = run_lmms_eval(["--model", "dummy", "--tasks", "rsmmvp_mini"], tmp_path,
                        env_extra={"LMMS_EVAL_PLUGINS": "rsmmvp_tasks"})
    _assert_complete_metrics(run, "rsmmvp_mini")


def test_cot_variant_reads_the_final_answer(tmp_path: Path, mini: datasets.Dataset) -> None:
    reply = "Let me think step by step. The image shows fields and a river. Answer: B"
    run = run_lmms_eval(["--model", "dummy", "--model_args", f"response={reply}", "--tasks", "rsmmvp_mini_cot"],
                        tmp_path)
    m = run.metrics("rsmmvp_mini_cot")
    assert m["unreadable_rate"] == 0.0
    assert m["question_accuracy"] == pytest.approx(_expected_for_constant_reply(mini, "B")["question_accuracy"])


def test_tiny_llava_hf_end_to_end(tmp_path: Path, tiny_llava_dir: Path, mini: datasets.Dataset) -> None:
    """A real lmms-eval model class (llava_hf) loads a tiny random LLaVA from disk and is scored."""
    run = run_lmms_eval(
        ["--model", "llava_hf", "--model_args",
         f"pretrained={tiny_llava_dir},device=cpu,device_map=cpu,dtype=float32",
         "--tasks", "rsmmvp_mini", "--batch_size", "1"],
        tmp_path,
    )
    m = _assert_complete_metrics(run, "rsmmvp_mini")
    samples = run.samples["rsmmvp_mini"]
    assert len(samples) == len(mini)
    # Recompute every headline number from what the model actually replied.
    options = {r["index"]: list(r["options"]) for r in mini.remove_columns("image")}
    records = []
    for s in samples:
        rec = s["question_accuracy"]
        reply = s["filtered_resps"][0] if isinstance(s["filtered_resps"], list) else s["filtered_resps"]
        assert rec["pred"] == extract_choice(reply, options[rec["index"]])
        records.append(rec)
    recomputed = score(records)
    assert m["question_accuracy"] == pytest.approx(recomputed.question_accuracy)
    assert m["pair_accuracy"] == pytest.approx(recomputed.pair_accuracy)
    assert m["unreadable_rate"] == pytest.approx(recomputed.unreadable_rate)
    assert not math.isnan(m["question_accuracy"])
    assert "llava_hf" in run.results["config"]["model"]


def test_raw_layout_built_then_evaluated_by_lmms_eval(tmp_path: Path) -> None:
    """raw MMVP layout -> `rsmmvp build` -> a user task YAML reusing our template -> lmms-eval loads and scores it."""
    from rawfixture import make_raw_layout
    from rsmmvp_tasks.cli import main
    from rsmmvp_tasks.paths import tasks_dir

    built = tmp_path / "built"
    assert main(["build", "--raw", str(make_raw_layout(tmp_path / "raw")), "--out", str(built)]) == 0
    tasks = tmp_path / "my_tasks"
    tasks.mkdir()
    (tasks / "my_rs.yaml").write_text(
        "task: my_rs_roundtrip\n"
        f"include: {tasks_dir() / 'rsmmvp' / '_default_template_yaml'}\n"
        "dataset_path: parquet\n"
        f"dataset_kwargs:\n  data_files:\n    test: {built / 'data' / 'test-00000-of-00001.parquet'}\n"
        "test_split: test\n"
    )
    run = run_lmms_eval(["--model", "dummy", "--model_args", "response=(a)", "--tasks", "my_rs_roundtrip",
                         "--include_path", str(tasks)], tmp_path / "run")
    m = _assert_complete_metrics(run, "my_rs_roundtrip")
    ds = datasets.load_dataset(str(built), split="test")
    assert m["question_accuracy"] == pytest.approx(sum(a == "A" for a in ds["answer"]) / len(ds))
    assert m["pair_accuracy"] == 0.0 and m["incomplete_pairs"] == 0
    assert run.results["n-samples"]["my_rs_roundtrip"]["effective"] == len(ds) == 10


def test_full_task_offline_names_the_missing_hub_repo(tmp_path: Path) -> None:
    from rsmmvp_tasks.dataset.hub import HUB_REPO_ID

    run = run_lmms_eval(["--model", "dummy", "--tasks", "rsmmvp"], tmp_path)
    assert run.results is None  # nothing scored, nothing pretended
    assert HUB_REPO_ID in run.output and ("offline" in run.output.lower() or "reach" in run.output.lower())
