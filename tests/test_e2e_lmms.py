"""End to end: the real lmms-eval CLI on the embedded rsmmvp_mini sample, offline, on CPU.

Each run is checked on the results JSON and the samples it logged (the CLI exits 0 even when the
evaluation failed, so its return code proves nothing).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import datasets
import pytest
from conftest import REPO, LmmsRun, run_lmms_eval
from lmms_table import as_number, printed_rows

from rsmmvp_tasks import PATTERNS, extract_choice, mini_dataset_dir, score, tasks_dir
from rsmmvp_tasks.evaluation.results import DETAILS_METRIC, dataset_fingerprint, read_details
from rsmmvp_tasks.evaluation.task import HEADLINE_METRICS

pytestmark = pytest.mark.e2e

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


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
    expected = [*HEADLINE_METRICS, *(f"{k}_stderr" for k in HEADLINE_METRICS), DETAILS_METRIC]
    missing = [k for k in expected if k not in m]
    assert not missing, f"metrics missing from results.json: {missing}"
    for k in HEADLINE_METRICS:
        assert 0.0 <= m[k] <= 1.0, (k, m[k])
    details = read_details(run.results, task)
    for k in ("question_accuracy", "pair_accuracy"):
        assert details[k]["value"] == m[k]
        assert details[k]["ci_low"] <= m[k] <= details[k]["ci_high"]
    return m


def test_dummy_always_a_without_include_path(tmp_path: Path, mini: datasets.Dataset) -> None:
    """Installed package, no flag: the entry point makes rsmmvp_mini visible; scores are exact."""
    run = run_lmms_eval(["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini"], tmp_path,
                        cwd=tmp_path)
    m = _assert_complete_metrics(run, "rsmmvp_mini")
    expected = _expected_for_constant_reply(mini, "A")
    assert m["question_accuracy"] == pytest.approx(expected["question_accuracy"])
    assert m["pair_accuracy"] == 0.0  # opposite answers: a constant reply never gets a pair right
    assert m["unreadable_rate"] == 0.0
    rows = mini.remove_columns("image").to_list()
    patterns = {r["pattern"] for r in rows}
    pairs_of = {p: len({r["pair_id"] for r in rows if r["pattern"] == p}) for p in patterns}
    for p in patterns:
        assert m[f"pair_accuracy_{p}"] == 0.0
    # absent patterns leave no trace in the results
    absent = set(PATTERNS) - patterns
    assert absent and not [k for k in m if any(k == f"pair_accuracy_{p}" or k.startswith(f"pair_accuracy_{p}_stderr")
                                               for p in absent)]

    # the printed table: the headline metrics and one row per pattern present, standard errors beside them
    table = {row["Metric"]: row for row in printed_rows(run.output, "RSMMVP-mini")}
    assert set(table) == {*HEADLINE_METRICS, *(f"pair_accuracy_{p}" for p in patterns)}
    assert len(table) <= 3 + len(patterns)
    assert as_number(table["question_accuracy"]["Value"]) == pytest.approx(0.5)
    assert as_number(table["question_accuracy"]["Stderr"]) == pytest.approx(0.0)  # one right per pair, every pair
    assert as_number(table["pair_accuracy"]["Stderr"]) == 0.0 == m["pair_accuracy_stderr"]
    assert as_number(table["unreadable_rate"]["Stderr"]) == 0.0
    for p, n in pairs_of.items():
        assert (table[f"pair_accuracy_{p}"]["Stderr"] == "N/A") == (n < 2)

    # the README shows this very table
    readme = (REPO / "README.md").read_text(encoding="utf-8").split("## Metrics and how to read them", 1)[1]
    shown = readme.split("```\n", 2)[1].rstrip("\n").splitlines()
    printed = [line for line in _ANSI.sub("", run.output).splitlines() if line.startswith("|")][-len(shown):]
    assert printed == shown

    # the details: counts, intervals, fingerprint of the split
    details = read_details(run.results, "rsmmvp_mini")
    assert details["n_questions"] == len(mini) and details["n_pairs"] == len(mini) // 2
    assert details["incomplete_pairs"] == []
    assert details["per_pattern"] == {p: {"pairs": n, "pair_accuracy": 0.0, "ci_low": 0.0, "ci_high": 0.0}
                                      for p, n in pairs_of.items()}
    assert details["dataset_fingerprint"] == dataset_fingerprint(rows)
    assert run.results["n-samples"]["rsmmvp_mini"]["effective"] == len(mini)

    # the logged per-pattern table, with counts and intervals
    assert "rsmmvp pair accuracy per visual pattern" in run.output
    assert f"| Orientation and Direction | {pairs_of['orientation']} | 0.0000 | [0.0000, 0.0000] |" in run.output
    assert run.output.count("rsmmvp pair accuracy per visual pattern") == 1  # scored once

    # every sample line carries its record once
    samples = run.samples["rsmmvp_mini"]
    assert len(samples) == len(mini)
    for line in samples:
        records = [v for v in line.values() if isinstance(v, dict)]
        assert records == [line["question_accuracy"]]
        assert set(records[0]) == {"index", "pair_id", "pattern", "pair_size", "answer", "pred", "correct"}


def test_include_path_from_checkout_and_limit_reports_incomplete_pair(tmp_path: Path, mini: datasets.Dataset) -> None:
    run = run_lmms_eval(["--model", "dummy", "--model_args", "response=B", "--tasks", "rsmmvp_mini",
                         "--include_path", str(REPO / "task_yamls"), "--limit", "3"], tmp_path)
    m = run.metrics("rsmmvp_mini")
    details = read_details(run.results, "rsmmvp_mini")
    rows = mini.remove_columns("image").to_list()
    assert details["incomplete_pairs"] == [rows[2]["pair_id"]]
    assert "incomplete pair" in run.output and rows[2]["pair_id"] in run.output
    assert m["question_accuracy"] == pytest.approx(sum(r["answer"] == "B" for r in rows[:3]) / 3)
    assert details["n_questions"] == 3 and details["n_pairs"] == 1
    assert details["dataset_fingerprint"] == dataset_fingerprint(rows)  # the whole split's, not the 3 rows'
    table = {row["Metric"] for row in printed_rows(run.output, "RSMMVP-mini")}
    assert table == {*HEADLINE_METRICS, f"pair_accuracy_{rows[0]['pattern']}", f"pair_accuracy_{rows[2]['pattern']}"}


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
    assert m["pair_accuracy"] == 0.0 and read_details(run.results, "my_rs_roundtrip")["incomplete_pairs"] == []
    assert run.results["n-samples"]["my_rs_roundtrip"]["effective"] == len(ds) == 10


def test_full_task_offline_names_the_missing_hub_repo(tmp_path: Path) -> None:
    from rsmmvp_tasks.dataset.hub import HUB_REPO_ID

    run = run_lmms_eval(["--model", "dummy", "--tasks", "rsmmvp"], tmp_path)
    assert run.results is None  # nothing scored, nothing pretended
    assert HUB_REPO_ID in run.output and ("offline" in run.output.lower() or "reach" in run.output.lower())


def _user_task(folder: Path, name: str, parquet: Path) -> Path:
    """A user's task YAML reusing our template on a parquet file (what the README tells users to write)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(
        f"task: {name}\n"
        f"include: {tasks_dir() / 'rsmmvp' / '_default_template_yaml'}\n"
        "dataset_path: parquet\n"
        f"dataset_kwargs:\n  data_files:\n    test: {parquet}\n"
        "test_split: test\n"
    )
    return folder


def test_a_dataset_that_breaks_the_contract_is_refused_before_inference(tmp_path: Path,
                                                                        mini: datasets.Dataset) -> None:
    """Answers written "(a)" and a pair id per row: refused with the violations, nothing scored or written."""
    bad = mini.remove_columns(["answer", "pair_id"])
    bad = bad.add_column("answer", [f"({a.lower()})" for a in mini["answer"]])
    bad = bad.add_column("pair_id", [f"row-{i}" for i in range(len(mini))])
    bad.to_parquet(tmp_path / "bad.parquet")
    tasks = _user_task(tmp_path / "tasks", "my_bad_rs", tmp_path / "bad.parquet")
    run = run_lmms_eval(["--model", "dummy", "--tasks", "my_bad_rs", "--include_path", str(tasks)], tmp_path / "run")
    assert run.results is None and run.samples == {}  # nothing scored, nothing written
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["hf_home"]  # only the datasets cache
    assert "breaks the RSMMVP contract" in run.output and "nothing was evaluated" in run.output
    assert "[answer_range] row 0, index 1" in run.output and "answer '(a)'" in run.output
    assert "[pair_size]" in run.output and "row-0" in run.output
    assert "generate_until requests" not in run.output  # refused before the model saw anything
    logged = [line for line in run.output.splitlines() if "ERROR" in line and "breaks the RSMMVP contract" in line]
    assert len(logged) == 1  # a log line of its own (lmms-eval's own error line says only "RetryError")


_PINNED = """
import json, sys
import datasets
mini = datasets.load_dataset("parquet", data_files=sys.argv[1], split="train")
seen = []
def load_dataset(path=None, name=None, **kwargs):
    seen.append({"path": path, **{k: str(v) for k, v in kwargs.items()}})
    return datasets.DatasetDict({"train": mini})
datasets.load_dataset = load_dataset  # what lmms-eval calls to fetch the hub dataset
import lmms_eval.models  # our entry point registers the task folder
from lmms_eval.tasks import TaskManager, get_task_dict
tasks = get_task_dict(["rsmmvp_pinned"], TaskManager(include_path=sys.argv[2]))
print("SEEN", json.dumps(seen))
print("DOCS", len(next(iter(tasks.values())).test_docs()))
"""


def test_hub_task_revision_reaches_load_dataset(tmp_path: Path, mini: datasets.Dataset) -> None:
    """`dataset_kwargs.revision` of the hub task is what lmms-eval passes to datasets.load_dataset."""
    import subprocess
    import sys

    from conftest import offline_env

    sha = "0123456789abcdef0123456789abcdef01234567"
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "pinned.yaml").write_text(
        f"task: rsmmvp_pinned\ninclude: {tasks_dir() / 'rsmmvp' / 'rsmmvp.yaml'}\ndataset_kwargs:\n  revision: {sha}\n")
    proc = subprocess.run([sys.executable, "-c", _PINNED, str(mini_dataset_dir() / "rsmmvp_mini.parquet"), str(tasks)],
                          cwd=tmp_path, env=offline_env(tmp_path / "hf"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.split("SEEN ", 1)[1].splitlines()[0])
    from rsmmvp_tasks.dataset.hub import HUB_REPO_ID

    assert [(s["path"], s.get("revision")) for s in seen] == [(HUB_REPO_ID, sha)]
    assert f"DOCS {len(mini)}" in proc.stdout
