"""The lmms-eval task functions, called as lmms-eval calls them (no subprocess).

process_docs refuses a split that breaks the contract before any inference; process_results
routes each question to its metrics and writes the record once; the aggregations share one
scoring per run; read_details reads what the run recorded.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import math
import pickle

import datasets
import pytest

from rsmmvp_tasks import DataViolationError, mini_dataset_dir
from rsmmvp_tasks.evaluation import task
from rsmmvp_tasks.evaluation.aggregation import aggregate
from rsmmvp_tasks.evaluation.results import DETAILS_METRIC, dataset_fingerprint, read_details
from rsmmvp_tasks.evaluation.task import RecordRef, process_docs, process_results


@pytest.fixture(scope="module")
def mini() -> datasets.Dataset:
    return datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")


def _edit(ds: datasets.Dataset, column: str, values: list) -> datasets.Dataset:
    return ds.remove_columns(column).add_column(column, values)


def test_process_docs_adds_pair_size_and_the_full_split_fingerprint(mini: datasets.Dataset) -> None:
    out = process_docs(mini)
    assert set(out["pair_size"]) == {2}
    rows = mini.remove_columns("image").to_list()
    assert set(out["dataset_fingerprint"]) == {dataset_fingerprint(rows)}
    assert process_docs(out)["dataset_fingerprint"] == out["dataset_fingerprint"]  # idempotent


def test_fingerprint_covers_the_key_not_the_row_order() -> None:
    rows = [{"index": i, "question": f"q{i // 2}", "options": ["Yes", "No"], "answer": "AB"[i % 2]} for i in range(6)]
    fp = dataset_fingerprint(rows)
    assert len(fp) == 64 and fp == dataset_fingerprint(list(reversed(rows)))
    flipped = copy.deepcopy(rows)
    flipped[3]["answer"] = "A"
    renamed = copy.deepcopy(rows)
    renamed[0]["options"] = ["Yes ", "No"]
    assert len({fp, dataset_fingerprint(flipped), dataset_fingerprint(renamed), dataset_fingerprint(rows[:4])}) == 4


@pytest.mark.parametrize(
    "breakage, code",
    [
        ("answers written (a)", "answer_range"),
        ("every row its own pair", "pair_size"),
        ("duplicate index", "duplicate_index"),
        ("options stored as a string", "options_not_list"),
    ],
)
def test_process_docs_refuses_contract_violations_with_the_list(mini: datasets.Dataset, breakage: str,
                                                                 code: str) -> None:
    if breakage == "answers written (a)":
        bad = _edit(mini, "answer", [f"({a.lower()})" for a in mini["answer"]])
    elif breakage == "every row its own pair":
        bad = _edit(mini, "pair_id", [f"solo-{i}" for i in range(len(mini))])
    elif breakage == "duplicate index":
        bad = _edit(mini, "index", [mini["index"][1]] + list(mini["index"][1:]))
    else:
        bad = _edit(mini, "options", [" / ".join(o) for o in mini["options"]])
    with pytest.raises(DataViolationError) as err:
        process_docs(bad)
    message = str(err.value)
    assert f"[{code}]" in message and "nothing was evaluated" in message and "rsmmvp validate" in message
    if code == "answer_range":
        assert message.count("[answer_range]") == len(mini)  # every violation listed, with its row
        assert "row 0, index" in message


def test_refusal_lists_at_most_50_and_counts_the_rest(mini: datasets.Dataset) -> None:
    big = datasets.concatenate_datasets([mini.remove_columns("image")] * 4)
    big = _edit(big, "index", list(range(len(big))))
    big = _edit(big, "answer", ["(a)"] * len(big)).cast_column("index", datasets.Value("int64"))
    big = big.add_column("image", [None] * len(big))
    with pytest.raises(DataViolationError, match=r"and \d+ more"):
        process_docs(big)


def test_unknown_pattern_is_tolerated(mini: datasets.Dataset) -> None:
    out = process_docs(_edit(mini, "pattern", [""] * len(mini)))  # a hub copy without a pattern column
    assert len(out) == len(mini)


def test_missing_column_is_refused_by_name(mini: datasets.Dataset) -> None:
    with pytest.raises(DataViolationError, match="'pair_id'"):
        process_docs(mini.remove_columns("pair_id"))


def _doc(index: int, pair: str, answer: str, pattern: str = "presence", fp: str = "f" * 64) -> dict:
    return {"index": index, "pair_id": pair, "options": ["Yes", "No"], "answer": answer, "pattern": pattern,
            "pair_size": 2, "dataset_fingerprint": fp}


def test_process_results_routes_each_question_and_writes_its_record_once() -> None:
    out = process_results(_doc(1, "p1", "A", "count"), ["A"])
    assert list(out) == ["question_accuracy", "pair_accuracy", "unreadable_rate", "pair_accuracy_count",
                         "question_accuracy_stderr", "pair_accuracy_stderr", "unreadable_rate_stderr",
                         "pair_accuracy_count_stderr", DETAILS_METRIC]
    assert set(out) <= set(task.METRICS)
    record = out["question_accuracy"]
    assert record == {"index": 1, "pair_id": "p1", "pattern": "count", "pair_size": 2, "answer": "A", "pred": "A",
                      "correct": True}
    line = json.loads(json.dumps(out))  # what the samples file holds
    assert sum(isinstance(v, dict) for v in line.values()) == 1
    assert all(v == RecordRef.TEXT for k, v in line.items() if k != "question_accuracy")
    # an unknown pattern gets no pattern metric at all
    assert not any(k.startswith("pair_accuracy_") and not k.startswith("pair_accuracy_stderr")
                   for k in process_results(_doc(2, "p1", "B", ""), ["A"]))


def test_record_ref_survives_pickling_and_copying_as_lmms_eval_gathers_ranks() -> None:
    ref = process_results(_doc(7, "p9", "B"), ["B"])["pair_accuracy"]
    for clone in (pickle.loads(pickle.dumps(ref)), copy.deepcopy(ref)):
        assert isinstance(clone, RecordRef) and clone == RecordRef.TEXT
        assert clone.record == ref.record and clone.fingerprint == "f" * 64


def _run(answers: list[tuple[str, str]], reply: str, fp: str = "f" * 64) -> dict[str, list]:
    """What lmms-eval collects per metric for docs with (pair_id, answer) and one constant reply."""
    items: dict[str, list] = {}
    for i, (pair, answer) in enumerate(answers):
        pattern = "presence" if pair < "p2" else "count"
        for k, v in process_results(_doc(i, pair, answer, pattern, fp), [reply]).items():
            items.setdefault(k, []).append(v)
    return items


def _aggregate(items: dict[str, list]) -> dict[str, object]:
    """lmms-eval's way: the template's one aggregation over each metric's items."""
    return {m: aggregate(v) for m, v in items.items()}


def test_aggregations_score_once_per_run_and_never_mix_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_score = task.score
    monkeypatch.setattr(task, "score", lambda *a, **k: calls.append(1) or real_score(*a, **k))
    task.reset_caches()
    pairs = [("p0", "A"), ("p0", "B"), ("p1", "A"), ("p1", "B"), ("p2", "B"), ("p2", "A"), ("p3", "A"), ("p3", "B")]
    run_a = _aggregate(_run(pairs, "A"))
    assert len(calls) == 1  # 13 metrics, one scoring
    run_b = _aggregate(_run(pairs, "I cannot tell"))  # same docs, another task/model in the same process
    assert len(calls) == 2
    assert run_a["question_accuracy"] == 0.5 and run_a["pair_accuracy"] == 0.0 and run_a["unreadable_rate"] == 0.0
    assert run_b["question_accuracy"] == 0.0 and run_b["unreadable_rate"] == 1.0
    assert run_a["pair_accuracy_count"] == 0.0 and run_a["pair_accuracy_count_stderr"] == 0.0
    assert run_a["question_accuracy_stderr"] == 0.0  # one right per pair in every pair: no spread across pairs
    assert _aggregate(_run(pairs, "A"))["question_accuracy"] == 0.5 and len(calls) == 2  # cached


def test_a_pattern_aggregated_before_its_run_is_still_right() -> None:
    task.reset_caches()
    items = _run([("p2", "A"), ("p2", "B"), ("p3", "B"), ("p3", "A")], "A")
    assert aggregate(items["pair_accuracy_count"]) == 0.0
    assert aggregate(items["pair_accuracy"]) == 0.0


def test_details_are_what_read_details_returns() -> None:
    task.reset_caches()
    items = _run([("p0", "A"), ("p0", "B"), ("p1", "A"), ("p1", "B"), ("p2", "A")], "A", fp="ab" * 32)
    details = task.aggregate_details(items[DETAILS_METRIC])
    results_json = json.loads(json.dumps({"results": {"t": {"alias": "t", f"{DETAILS_METRIC},none": details}}}))
    read = read_details(results_json, "t")
    assert read == details
    assert read["incomplete_pairs"] == ["p2"] and read["n_pairs"] == 2 and read["n_questions"] == 5
    assert read["dataset_fingerprint"] == "ab" * 32 and read["rsmmvp_version"]
    assert read["question_accuracy"]["value"] == pytest.approx(3 / 5)
    assert read["per_pattern"] == {"presence": {"pairs": 2, "pair_accuracy": 0.0, "ci_low": 0.0, "ci_high": 0.0}}
    assert set(read) >= {"question_accuracy", "pair_accuracy", "unreadable_rate", "n_questions", "n_pairs",
                         "incomplete_pairs", "per_pattern", "dataset_fingerprint", "rsmmvp_version",
                         "lmms_eval_version", "scoring_version"}
    # the installed release, not the git state of the cwd
    assert read["lmms_eval_version"] == importlib.metadata.version("lmms-eval")


def test_undefined_values_are_null_not_nan() -> None:
    task.reset_caches()
    items = _run([("p0", "A")], "A")  # one lone question: no complete pair
    details = task.aggregate_details(items[DETAILS_METRIC])
    assert details["pair_accuracy"] == {"value": None, "ci_low": None, "ci_high": None}
    assert aggregate(items["pair_accuracy"]) is None
    assert aggregate(items["pair_accuracy_presence"]) is None
    assert "NaN" not in json.dumps(details)
    assert not math.isnan(aggregate(items["question_accuracy"]))


def test_read_details_names_what_is_missing() -> None:
    with pytest.raises(KeyError, match="rsmmvp_mini"):
        read_details({"results": {"other": {}}}, "rsmmvp_mini")
    with pytest.raises(KeyError, match=DETAILS_METRIC):
        read_details({"results": {"t": {"pair_accuracy,none": 0.5}}}, "t")
    with pytest.raises(KeyError, match="per_pattern"):
        read_details({"results": {"t": {f"{DETAILS_METRIC},none": {"n_pairs": 1}}}}, "t")
