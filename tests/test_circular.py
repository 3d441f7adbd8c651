"""Option-order robustness: rsmmvp_circular / rsmmvp_mini_circular (rsmmvp_tasks.evaluation.circular).

Fast tier: the expansion of the embedded sample, and whole runs simulated the way lmms-eval runs
them (process_results per expanded row, then every aggregation over the values of its key) for
always-A, an oracle, a model that follows the options but is wrong, unreadable replies and a run
cut by --limit. e2e: lmms-eval's dummy model (always "A": question accuracy 0) and a tiny random
llava_hf, on rsmmvp_mini_circular.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml
from conftest import run_lmms_eval

from rsmmvp_tasks import mini_dataset_dir, tasks_dir
from rsmmvp_tasks.evaluation import circular
from rsmmvp_tasks.evaluation import task as plain
from rsmmvp_tasks.evaluation.aggregation import METRIC_LIST, aggregate
from rsmmvp_tasks.evaluation.results import DETAILS_METRIC, read_details

FOLDER = tasks_dir() / "rsmmvp"


@pytest.fixture(scope="module")
def mini() -> datasets.Dataset:
    return datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")


@pytest.fixture(scope="module")
def expanded(mini: datasets.Dataset) -> list[dict[str, Any]]:
    return circular.process_docs(mini).remove_columns("image").to_list()


def simulate(rows: list[dict[str, Any]], reply: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """What lmms-eval computes: process_results per row, then each metric's aggregation over its values."""
    values: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        for key, value in circular.process_results(row, [reply(row)]).items():
            values[key].append(value)
    return {key: aggregate(items) for key, items in values.items()}


def original(row: Mapping[str, Any], letter: str) -> str:
    """The letter at which the original option ``letter`` is shown in this row."""
    return "AB"[row["option_order"].index("AB".index(letter))]


# ---- expansion ------------------------------------------------------------------------------


def test_option_orders() -> None:
    assert circular.option_orders(2) == [[0, 1], [1, 0]]
    assert circular.option_orders(3) == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    with pytest.raises(ValueError):
        circular.option_orders(1)


def test_every_question_is_asked_in_both_orders(mini: datasets.Dataset, expanded: list[dict[str, Any]]) -> None:
    source = {r["index"]: r for r in mini.remove_columns("image").to_list()}
    assert len(expanded) == 2 * len(source)
    assert len({r["index"] for r in expanded}) == len(expanded)  # new indices are unique
    for first, second in zip(expanded[::2], expanded[1::2], strict=False):  # the two orders of a question are adjacent
        row = source[first["source_index"]]
        assert second["source_index"] == first["source_index"]
        assert (first["variant"], second["variant"]) == (0, 1)
        assert first["options"] == row["options"] and first["answer"] == row["answer"]
        assert second["options"] == row["options"][::-1]
        assert second["answer"] == {"A": "B", "B": "A"}[row["answer"]]
        assert first["pair_id"] == second["pair_id"] == row["pair_id"]
        assert first["pair_size"] == 2  # questions per pair, counted before the expansion
    plain_rows = plain.process_docs(mini)
    assert {r["dataset_fingerprint"] for r in expanded} == set(plain_rows["dataset_fingerprint"])
    # the full task's hook (hub data already in the contract is used as is, sorted by index)
    hub = circular.process_hub_docs(mini.shuffle(seed=1)).remove_columns("image").to_list()
    assert [(r["index"], r["answer"]) for r in hub] == [(r["index"], r["answer"]) for r in expanded]


def test_three_options_rotate(mini: datasets.Dataset) -> None:
    three = datasets.Dataset.from_list([
        {"index": 7, "pair_id": "p", "question": "q", "options": ["x", "y", "z"], "answer": "C", "pattern": "count"}])
    rows = circular.expand_options(three).to_list()
    assert [r["options"] for r in rows] == [["x", "y", "z"], ["y", "z", "x"], ["z", "x", "y"]]
    assert [r["answer"] for r in rows] == ["C", "B", "A"]
    assert [r["index"] for r in rows] == [21, 22, 23]
    with pytest.raises(ValueError, match="expanded twice"):
        circular.expand_options(circular.expand_options(three))


# ---- scoring --------------------------------------------------------------------------------


def test_always_a_scores_zero_and_is_fully_position_biased(expanded: list[dict[str, Any]]) -> None:
    out = simulate(expanded, lambda row: "A")
    assert out["question_accuracy"] == 0.0 and out["pair_accuracy"] == 0.0
    assert out["position_bias_rate"] == 1.0 and out["unreadable_rate"] == 0.0
    details = out[DETAILS_METRIC]
    assert details["n_questions"] == 18 and details["n_pairs"] == 9
    assert details["circular"] == {"orders": 2, "questions": 18, "replies": 36, "consistent": 0, "position_biased": 18,
                                   "all_readable": 18, "position_bias_rate": 1.0, "incomplete_questions": []}


def test_a_model_that_reads_the_image_is_unaffected(expanded: list[dict[str, Any]]) -> None:
    out = simulate(expanded, lambda row: f"The answer is {row['answer']}.")
    assert out["question_accuracy"] == 1.0 and out["pair_accuracy"] == 1.0
    assert out["position_bias_rate"] == 0.0
    assert out[DETAILS_METRIC]["circular"]["consistent"] == 18
    assert all(v == 1.0 for k, v in out.items() if k.startswith("pair_accuracy_") and not k.endswith("_stderr"))


def test_consistent_but_wrong_and_mixed_models(expanded: list[dict[str, Any]]) -> None:
    # always picks the original option A, wherever it is shown: consistent, right on half the questions
    out = simulate(expanded, lambda row: original(row, "A"))
    assert out["question_accuracy"] == 0.5 and out["position_bias_rate"] == 0.0
    assert out["pair_accuracy"] == 0.0  # the two questions of a pair have opposite answers
    # right in the original order, "A" in the swapped one: the plain task would count 100%
    out = simulate(expanded, lambda row: row["answer"] if row["variant"] == 0 else "A")
    right_when_swapped = sum(1 for r in expanded if r["variant"] == 1 and r["answer"] == "A")
    assert out["question_accuracy"] == pytest.approx(right_when_swapped / 18)
    assert out["position_bias_rate"] == pytest.approx((18 - right_when_swapped) / 18)


def test_unreadable_replies_count_per_reply(expanded: list[dict[str, Any]]) -> None:
    out = simulate(expanded, lambda row: row["answer"] if row["variant"] == 0 else "I cannot tell")
    assert out["unreadable_rate"] == 0.5  # 18 of 36 replies
    assert out[DETAILS_METRIC]["unreadable_rate"] == 0.5
    assert out["question_accuracy"] == 0.0
    assert out["position_bias_rate"] is None  # no question has all its replies readable
    assert out[DETAILS_METRIC]["circular"]["all_readable"] == 0


def test_a_run_cut_short_leaves_the_question_and_its_pair_out(expanded: list[dict[str, Any]]) -> None:
    out = simulate(expanded[:-1], lambda row: row["answer"])  # --limit 35: the last question lost one order
    details = out[DETAILS_METRIC]
    last = expanded[-1]
    assert details["circular"]["incomplete_questions"] == [last["source_index"]]
    assert details["incomplete_pairs"] == [last["pair_id"]]
    assert details["n_questions"] == 17 and details["n_pairs"] == 8
    assert out["question_accuracy"] == 1.0


def test_records_carry_the_variant_and_details_read_back(expanded: list[dict[str, Any]]) -> None:
    out = circular.process_results(expanded[1], ["B"])
    record = out["question_accuracy"]
    assert {k: record[k] for k in circular.VARIANT_FIELDS} == {
        "source_index": expanded[1]["source_index"], "variant": 1, "option_order": [1, 0]}
    assert isinstance(out["position_bias_rate"], plain.RecordRef) and out["position_bias_rate"].record == record
    details = simulate(expanded, lambda row: "A")[DETAILS_METRIC]
    results_json = {"results": {"rsmmvp_mini_circular": {f"{DETAILS_METRIC},none": details}}}
    assert read_details(results_json, "rsmmvp_mini_circular")["n_questions"] == 18
    with pytest.raises(ValueError, match="source_index"):
        circular.metric_value("question_accuracy", [plain.process_results(expanded[0], ["A"])["question_accuracy"]])


def test_question_records_collapse_a_circular_samples_file_only(expanded: list[dict[str, Any]]) -> None:
    lines = [{**circular.process_results(r, ["A"])["question_accuracy"], "reply": "A"} for r in expanded]
    questions = circular.question_records(lines)
    assert len(questions) == 18 and all(q["reply"] == "[order 0] A\n[order 1] A" for q in questions)
    assert sum(q["correct"] for q in questions) == 0
    plain_lines = [plain.process_results(r, ["A"])["question_accuracy"] for r in expanded[::2]]
    assert circular.question_records(plain_lines) == plain_lines  # any other run: unchanged


# ---- the YAMLs ------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


@pytest.mark.parametrize("name, base", [("rsmmvp_mini_circular.yaml", "rsmmvp_mini.yaml"),
                                        ("rsmmvp_circular.yaml", "rsmmvp.yaml")])
def test_yaml_holds_only_what_differs_from_the_plain_task(name: str, base: str) -> None:
    config = yaml.load((FOLDER / name).read_text(), Loader=_Loader)
    assert set(config) == {"task", "task_alias", "include", "process_docs", "process_results"}
    assert config["include"] == base and config["task"] == name[:-5]
    prefix = "rsmmvp_tasks.evaluation.circular."
    for tag in [config["process_docs"], config["process_results"]]:
        assert callable(getattr(circular, tag.removeprefix(prefix)))


def test_the_template_metric_list_serves_the_circular_tasks() -> None:
    assert [m["metric"] for m in METRIC_LIST] == list(circular.METRICS)


# ---- lmms-eval ------------------------------------------------------------------------------


def _records(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["question_accuracy"] for line in samples]


@pytest.mark.e2e
def test_lmms_eval_dummy_always_a_scores_zero(tmp_path: Path) -> None:
    run = run_lmms_eval(["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini_circular"],
                        tmp_path / "out")
    metrics = run.metrics("rsmmvp_mini_circular")
    assert metrics["question_accuracy"] == 0.0 and metrics["pair_accuracy"] == 0.0, run.output[-3000:]
    assert metrics["position_bias_rate"] == 1.0
    details = read_details(run.results, "rsmmvp_mini_circular")
    assert details["n_questions"] == 18 and details["n_pairs"] == 9
    records = _records(run.samples["rsmmvp_mini_circular"])
    assert len(records) == 36 and {r["variant"] for r in records} == {0, 1}
    assert "position_bias_rate" in run.output  # a row of the printed table
    # the leaderboard reads the run with its samples: per pair outcomes over the 9 pairs, all wrong
    from rsmmvp_tasks.sharing.runs import load_run

    loaded = load_run(next((tmp_path / "out").rglob("*_results.json")), "rsmmvp_mini_circular")
    assert loaded.outcomes() is not None and len(loaded.outcomes()) == 9 and not any(loaded.outcomes().values())
    assert all("[order 1] A" in q["reply"] for p in loaded.pairs.values() for q in p.questions)


@pytest.mark.e2e
def test_lmms_eval_tiny_llava_circular_matches_its_samples(tmp_path: Path, tiny_llava_dir: Path) -> None:
    args = ["--model", "llava_hf", "--model_args",
            f"pretrained={tiny_llava_dir},device=cpu,device_map=cpu,dtype=float32",
            "--tasks", "rsmmvp_mini_circular", "--batch_size", "1"]
    run = run_lmms_eval(args, tmp_path / "out")
    metrics = run.metrics("rsmmvp_mini_circular")
    assert run.results is not None, run.output[-3000:]
    records = _records(run.samples["rsmmvp_mini_circular"])
    assert len(records) == 36
    collapsed = circular.collapse(records)
    assert len(collapsed.items) == 18
    expected = sum(q["correct"] for q in collapsed.items) / 18
    assert metrics["question_accuracy"] == pytest.approx(expected)
    rate = collapsed.position_bias_rate
    assert metrics["position_bias_rate"] == (None if math.isnan(rate) else pytest.approx(rate))
    assert metrics["unreadable_rate"] == pytest.approx(sum(r["pred"] is None for r in records) / 36)


def test_judge_entry_counts_replies_of_every_order(expanded: list[dict[str, Any]], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from judgeserver import JudgeServer

    with JudgeServer() as server:
        monkeypatch.setenv("RSMMVP_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("RSMMVP_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "cache"))
        server.default = "A"
        out = simulate(expanded, lambda row: row["answer"] if row["variant"] == 0 else "no idea")
        # only the 18 unreadable replies (the swapped orders) need a verdict, and the two questions of a pair
        # share question, options and reply: the cache answers the second, so 9 requests
        assert len(server.requests) == 9
    judge = out[DETAILS_METRIC]["judge"]
    assert judge["judged"] == 18 and judge["unreadable_rate_before"] == 0.5 and judge["unreadable_rate_after"] == 0.0
    assert out["unreadable_rate"] == 0.0
    # the judge read "A" in the swapped order: right exactly where the original answer is B
    assert out["question_accuracy"] == pytest.approx(sum(r["answer"] == "B" for r in expanded[::2]) / 18)
