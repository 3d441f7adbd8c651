"""The human baseline: ``rsmmvp human page DATASET --out DIR`` and ``rsmmvp human score``.

Fast tier: the shuffled order, a page that holds no answer and nothing that maps its items to the
dataset (random ids, the private key file), answer files scored with the models' scorer into
results files that ``rsmmvp leaderboard collect`` accepts, agreement statistics, annotator folder
names, every refusal. Browser: the page answered in headless Chromium with the keyboard, reloaded,
exported by its download button, scored.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import open_page
from judgeserver import JudgeServer

from rsmmvp_tasks import InputError, UsageError, mini_dataset_dir, read_details, score
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.human.page import (
    DATA_PLACEHOLDER,
    EXPORT_FORMAT,
    LEGACY_EXPORT_FORMAT,
    HumanPageFiles,
    load_human_dataset,
    read_page_keys,
    shuffled_order,
    write_human_page,
)
from rsmmvp_tasks.human.scoring import (
    Annotator,
    agreement,
    annotator_name,
    cohen_kappa,
    dump_json,
    fleiss_kappa,
    majority_vote,
    read_export,
    score_annotators,
    unique_names,
)

MINI = str(mini_dataset_dir() / "rsmmvp_mini.parquet")


@pytest.fixture(scope="module")
def mini() -> Any:
    return load_human_dataset(MINI)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> HumanPageFiles:
    """One page of the sample (and its key file), shared by the scoring tests."""
    return write_human_page(MINI, tmp_path_factory.mktemp("page"), max_side=32)


def page_json(page: Path) -> dict[str, Any]:
    html = page.read_text(encoding="utf-8")
    assert DATA_PLACEHOLDER not in html
    start = html.index('<script id="rsmmvp-human-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def key_items(files: HumanPageFiles) -> dict[str, int]:
    """``{item id: row index}`` of a page, from its key file."""
    return json.loads(files.key.read_text())["items"]


def export(files: HumanPageFiles, dataset: Any, choose: Any, annotator: str = "",
           skip: set[int] | None = None) -> dict[str, Any]:
    """An answer file as the page writes it; ``choose(row)`` gives the choice (a letter or None)."""
    rows = dataset.by_index()
    answers = [{"id": item, "choice": choose(rows[index]), "seconds": 2.5}
               for item, index in key_items(files).items() if index not in (skip or set())]
    return {"format": EXPORT_FORMAT, "page_id": page_json(files.page)["page_id"], "annotator": annotator,
            "answers": answers}


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def exit_code(argv: list[str]) -> int:
    """The exit code of ``rsmmvp ARGV``, from main() or from argparse's SystemExit (usage errors)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def other(letter: str) -> str:
    return {"A": "B", "B": "A"}[letter]


# ---- the order and the page -----------------------------------------------------------------


def test_shuffled_order_never_puts_a_pair_together() -> None:
    pair_ids = [f"p{i // 2}" for i in range(40)]
    orders = {seed: shuffled_order(pair_ids, seed) for seed in range(20)}
    for order in orders.values():
        assert sorted(order) == list(range(40))
        assert all(pair_ids[a] != pair_ids[b] for a, b in pairwise(order))
    assert orders[3] == shuffled_order(pair_ids, 3)  # reproducible
    assert len({tuple(o) for o in orders.values()}) == 20  # and shuffled
    assert shuffled_order(["a", "b", "a", "b"], 0) in ([0, 1, 2, 3], [0, 3, 2, 1], [2, 1, 0, 3], [2, 3, 0, 1],
                                                       [1, 0, 3, 2], [1, 2, 3, 0], [3, 0, 1, 2], [3, 2, 1, 0])
    with pytest.raises(InputError, match="at least two pairs"):
        shuffled_order(["only", "only"], 0)


def test_page_holds_questions_and_images_but_no_answers(tmp_path: Path, mini: Any) -> None:
    assert main(["human", "page", MINI, "--out", str(tmp_path / "page"), "--seed", "5", "--max-side", "96"]) == 0
    files = HumanPageFiles(tmp_path / "page" / "index.html", next((tmp_path / "page").glob("DO-NOT-PUBLISH*.json")))
    data = page_json(files.page)
    items = data["items"]
    assert len(items) == len(mini.rows) == 18
    assert all(set(item) == {"id", "question", "options", "src"} for item in items)
    assert all(item["src"].startswith("data:image/jpeg;base64,") for item in items)
    rows = mini.by_index()
    index_of = key_items(files)
    assert {item["id"] for item in items} == set(index_of)
    pairs = [rows[index_of[item["id"]]]["pair_id"] for item in items]
    assert all(a != b for a, b in pairwise(pairs))  # never both images of a pair in a row
    html = files.page.read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched
    without_images = json.dumps({**data, "items": [{k: v for k, v in i.items() if k != "src"} for i in items]})
    for row in mini.rows:  # nothing that identifies a row or its answer
        assert f'"{row["pair_id"]}"' not in without_images
        assert '"answer"' not in without_images and '"pattern"' not in without_images
    # --seed fixes the order of the rows, never the ids
    assert main(["human", "page", MINI, "--out", str(tmp_path / "p2"), "--seed", "5", "--max-side", "16"]) == 0
    again = HumanPageFiles(tmp_path / "p2" / "index.html", next((tmp_path / "p2").glob("DO-NOT-PUBLISH*.json")))
    assert [key_items(again)[i["id"]] for i in page_json(again.page)["items"]] == [index_of[i["id"]] for i in items]
    assert not set(key_items(again)) & set(index_of)


def test_the_page_alone_cannot_be_mapped_to_the_dataset(tmp_path: Path, mini: Any) -> None:
    """Issue 16.D19: no fingerprint, no index-derived id, no seed in the page; ids differ page to page."""
    first, second = (write_human_page(MINI, tmp_path / name, max_side=16) for name in ("one", "two"))
    assert first.key.parent == first.page.parent and first.key.name.startswith("DO-NOT-PUBLISH")
    key = json.loads(first.key.read_text())
    for files in (first, second):
        html = files.page.read_text()
        data = page_json(files.page)
        assert set(data) == {"format", "export_format", "title", "dataset", "page_id", "items"}
        assert mini.fingerprint not in html and mini.fingerprint[:12] not in html
        for row in mini.rows:  # nor any id derived from the fingerprint and the index (the old scheme)
            derived = hashlib.sha256(f"{mini.fingerprint}:{row['index']}".encode()).hexdigest()
            assert derived[:16] not in html and derived[:8] not in html
        assert f'"seed": {key["seed"]}' not in html and str(key["seed"]) not in html
    one, two = page_json(first.page), page_json(second.page)
    assert one["page_id"] != two["page_id"]
    assert not {i["id"] for i in one["items"]} & {i["id"] for i in two["items"]}
    # the default order is drawn from a secret seed: two pages differ (18 items: a repeat is ~impossible)
    assert ([key_items(first)[i["id"]] for i in one["items"]] != [key_items(second)[i["id"]] for i in two["items"]])
    # the key file maps the page back, and scoring with it gives the right numbers
    rows = mini.by_index()
    answers = [{"id": i["id"], "choice": rows[key_items(second)[i["id"]]]["answer"]} for i in two["items"]]
    path = write(tmp_path / "a.json", {"format": EXPORT_FORMAT, "page_id": two["page_id"], "answers": answers})
    (_, _, results), = score_annotators([path], MINI, tmp_path / "out", keys=[second.page.parent])
    assert read_details(results, "rsmmvp_mini")["pair_accuracy"]["value"] == 1.0
    # ... and only the key of that page does
    with pytest.raises(InputError, match="whose key is not among"):
        score_annotators([path], MINI, tmp_path / "out2", keys=[first.key])
    with pytest.raises(UsageError, match="--key"):
        score_annotators([path], MINI, tmp_path / "out3")


def test_answers_of_first_format_pages_are_still_scored(tmp_path: Path, mini: Any) -> None:
    answers = [{"id": hashlib.sha256(f"{mini.fingerprint}:{r['index']}".encode()).hexdigest()[:16],
                "choice": r["answer"], "seconds": 1} for r in mini.rows]
    data = {"format": LEGACY_EXPORT_FORMAT, "dataset_fingerprint": mini.fingerprint, "annotator": "old", "answers": answers}
    (annotator, _, results), = score_annotators([write(tmp_path / "old.json", data)], MINI, tmp_path / "out")
    assert annotator.name == "old" and results["results"]["rsmmvp_mini"]["pair_accuracy,none"] == 1.0
    with pytest.raises(InputError, match="another dataset"):
        read_export(write(tmp_path / "x.json", {**data, "dataset_fingerprint": "0" * 64}), mini)


# ---- scoring --------------------------------------------------------------------------------


def test_answers_are_scored_with_the_models_scorer(tmp_path: Path, mini: Any, page: HumanPageFiles) -> None:
    rng = random.Random(0)
    wrong = {r["index"] for r in mini.rows if rng.random() < 0.3}
    data = export(page, mini, lambda r: other(r["answer"]) if r["index"] in wrong else r["answer"], "Ann Lee")
    written = score_annotators([write(tmp_path / "ann.json", data)], MINI, tmp_path / "out", keys=[page.key])
    (annotator, path, results), = written
    assert annotator.name == "Ann_Lee" and path.parent == tmp_path / "out" / "human" / "Ann_Lee"
    assert results["config"]["model"] == "human" and results["config"]["model_args"] == "annotator=Ann_Lee"
    metrics = results["results"]["rsmmvp_mini"]
    records = [{**r, "pred": other(r["answer"]) if r["index"] in wrong else r["answer"]} for r in mini.rows]
    expected = score(records, warn_incomplete=False)
    assert metrics["question_accuracy,none"] == pytest.approx(expected.question_accuracy)
    assert metrics["pair_accuracy,none"] == pytest.approx(expected.pair_accuracy)
    assert metrics["question_accuracy_stderr,none"] == pytest.approx(expected.question_accuracy_se)
    details = read_details(results, "rsmmvp_mini")
    assert details["pair_accuracy"]["ci_low"] == pytest.approx(expected.pair_accuracy_ci[0])
    assert details["dataset_fingerprint"] == mini.fingerprint and details["n_pairs"] == 9
    assert results["n-samples"]["rsmmvp_mini"] == {"original": 18, "effective": 18}
    samples = path.parent / path.name.replace("_results.json", "_samples_rsmmvp_mini.jsonl")
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(lines) == 18 and all(line["question_accuracy"]["pred"] == line["filtered_resps"][0] for line in lines)


def test_cannot_tell_is_wrong_and_never_judged(tmp_path: Path, mini: Any, page: HumanPageFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    with JudgeServer() as server:
        monkeypatch.setenv("RSMMVP_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("RSMMVP_JUDGE_MODEL", "judge")
        monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "cache"))
        server.default = "A"
        data = export(page, mini, lambda r: None if r["pattern"] == "presence" else r["answer"])
        (_, _, results), = score_annotators([write(tmp_path / "a.json", data)], MINI, tmp_path / "out", keys=[page.key])
        assert server.requests == []
    details = read_details(results, "rsmmvp_mini")
    presence = sum(r["pattern"] == "presence" for r in mini.rows)
    assert details["unreadable_rate"] == pytest.approx(presence / 18)
    assert details["question_accuracy"]["value"] == pytest.approx(1 - presence / 18)
    assert results["rsmmvp_human"]["cannot_tell"] == presence


def test_unfinished_annotator_is_reported_not_padded(tmp_path: Path, mini: Any, page: HumanPageFiles) -> None:
    first = mini.rows[0]
    data = export(page, mini, lambda r: r["answer"], "amy", skip={first["index"]})
    (_, path, results), = score_annotators([write(tmp_path / "amy.json", data)], MINI, tmp_path / "out", keys=[page.key])
    details = read_details(results, "rsmmvp_mini")
    assert details["n_questions"] == 17 and details["incomplete_pairs"] == [first["pair_id"]]
    assert results["n-samples"]["rsmmvp_mini"] == {"original": 18, "effective": 17}
    from rsmmvp_tasks.sharing.runs import load_run

    problems = load_run(path, "rsmmvp_mini").problems()
    assert any("17 of 18" in p for p in problems) and any("incomplete pair" in p for p in problems)


def test_several_annotators_agreement_majority_and_the_leaderboard(tmp_path: Path, mini: Any, page: HumanPageFiles) -> None:
    files = []
    for name, rate in (("ann", 0.0), ("bo", 0.25), ("cy", 0.4)):
        rng = random.Random(name)
        wrong = {r["index"] for r in mini.rows if rng.random() < rate}
        files.append(write(tmp_path / f"{name}.json",
                           export(page, mini, lambda r, w=wrong: other(r["answer"]) if r["index"] in w else r["answer"], name)))
    written = score_annotators(files, MINI, tmp_path / "out", keys=[page.key])
    assert [a.name for a, _, _ in written] == ["ann", "bo", "cy", "majority"]
    vote = written[-1][2]
    assert vote["config"]["model_args"] == "annotators=ann+bo+cy,vote=majority"
    agreed = json.loads((tmp_path / "out" / "human" / "agreement.json").read_text())
    assert agreed["annotators"] == ["ann", "bo", "cy"] and agreed["questions_answered_by_all"] == 18
    assert [p["annotators"] for p in agreed["pairwise"]] == [["ann", "bo"], ["ann", "cy"], ["bo", "cy"]]
    assert agreed == vote["rsmmvp_human"]["agreement"]
    board = tmp_path / "board.json"
    assert main(["leaderboard", "collect", str(tmp_path / "out"), "--out", str(board)]) == 0
    runs = json.loads(board.read_text())["runs"]
    assert len(runs) == 4 and {r["model"] for r in runs} == {"human"}


def test_kappas_and_majority() -> None:
    a, b = ["A", "A", "B", "B"], ["A", "B", "B", "B"]
    assert cohen_kappa(a, b) == pytest.approx(0.5)  # p_o = .75, p_e = (2*1 + 2*3)/16 = .5
    assert fleiss_kappa(list(zip(a, b, strict=True))) == pytest.approx((0.75 - 34 / 64) / (1 - 34 / 64))  # = Scott's pi for two
    assert cohen_kappa(["A", "A"], ["A", "A"]) is None  # undefined: no variation
    # Fleiss (1971)-style check against a hand computation: 3 raters, 4 items
    items = [["A", "A", "A"], ["A", "A", "B"], ["B", "B", "B"], ["A", "B", "cannot tell"]]
    p_i = [1.0, 1 / 3, 1.0, 0.0]
    shares = [6 / 12, 5 / 12, 1 / 12]
    expected = sum(x * x for x in shares)
    assert fleiss_kappa(items) == pytest.approx((sum(p_i) / 4 - expected) / (1 - expected))
    people = [Annotator("x", "x", {1: "A", 2: "A", 3: None}), Annotator("y", "y", {1: "A", 2: "B", 3: None}),
              Annotator("z", "z", {1: "B", 2: "B"})]
    assert majority_vote(people).choices == {1: "A", 2: "B"}  # question 3 was not answered by all
    assert majority_vote(people[:2] + [Annotator("w", "w", {1: "B", 2: None})]).choices == {1: "A", 2: None}
    summary = agreement(people)
    assert summary["questions_answered_by_all"] == 2 and summary["all_agree"] == 0.0


@pytest.mark.parametrize("breakage, message", [
    ("page", "whose key is not among"), ("no page", "field 'page_id'"), ("unknown", "names no question"),
    ("choice", "field 'choice' is 'C', none of"), ("twice", "answered twice"), ("format", "not an answer file"),
    ("json", "not a readable answer file"),
    # issue 16.C16: every field of the right type, every number finite
    ("id list", "field 'id' names no question"), ("id object", "field 'id' names no question"),
    ("choice list", "field 'choice'"), ("seconds inf", "'seconds' is inf"), ("seconds nan", "'seconds' is nan"),
    ("seconds text", "'seconds' is '5'"), ("seconds negative", "'seconds' is -1"),
])
def test_bad_answer_files_are_refused(tmp_path: Path, mini: Any, page: HumanPageFiles, breakage: str,
                                      message: str) -> None:
    data = export(page, mini, lambda r: r["answer"])
    first = data["answers"][0]
    changes: dict[str, Any] = {
        "page": lambda: data.update(page_id="0" * 16), "no page": lambda: data.pop("page_id"),
        "unknown": lambda: first.update(id="feedfeedfeedfeed"), "choice": lambda: first.update(choice="C"),
        "twice": lambda: data["answers"].append(first), "format": lambda: data.update(format="rsmmvp-review"),
        "id list": lambda: first.update(id=[first["id"]]), "id object": lambda: first.update(id={"id": first["id"]}),
        "choice list": lambda: first.update(choice=["A"]), "seconds inf": lambda: first.update(seconds=float("inf")),
        "seconds nan": lambda: first.update(seconds=float("nan")), "seconds text": lambda: first.update(seconds="5"),
        "seconds negative": lambda: first.update(seconds=-1),
    }
    changes.get(breakage, lambda: None)()
    path = write(tmp_path / "bad.json", data)  # json.dumps writes inf/nan as Infinity/NaN, as a hand edit could
    if breakage == "json":
        path.write_text("{not json")
    with pytest.raises(InputError, match=message):
        read_export(path, mini, read_page_keys([page.key]))


def test_huge_seconds_never_reach_a_results_file(tmp_path: Path, mini: Any, page: HumanPageFiles,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(export(page, mini, lambda r: r["answer"])).replace('"seconds": 2.5', '"seconds": 1e999', 1)
    path = tmp_path / "huge.json"
    path.write_text(text)
    argv = ["human", "score", str(path), "--key", str(page.key), "--dataset", MINI, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "huge.json: answer 1: 'seconds' is inf" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError):  # the writer of every results file refuses what JSON cannot hold
        dump_json({"median_seconds": float("inf")})


def test_cli_usage_errors(tmp_path: Path, mini: Any, page: HumanPageFiles, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "a.json", export(page, mini, lambda r: r["answer"]))
    key = ["--key", str(page.key)]
    assert exit_code(["human", "page", MINI, MINI, "--out", str(tmp_path / "x")]) == 2
    assert exit_code(["human", "score", str(good), *key, "--out", str(tmp_path / "x")]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert exit_code(["human", "score", *key, "--dataset", MINI, "--out", str(tmp_path / "x")]) == 2
    assert exit_code(["human", "page", MINI, "--out", str(tmp_path / "x"), "--task", "rsmmvp"]) == 2
    capsys.readouterr()
    assert exit_code(["human", "score", str(good), "--dataset", MINI, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rsmmvp human: error:") and "--key" in err and "Traceback" not in err
    other_key = write_human_page(MINI, tmp_path / "other", max_side=8).key
    assert exit_code(["human", "score", str(good), "--key", str(other_key), "--dataset", MINI, "--out",
                 str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rsmmvp human: error:") and "a.json: was answered on page" in err and "Traceback" not in err


def test_page_verb_old_form_and_task_names(tmp_path: Path, mini: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Issues 19.2 and 18.4: `human page` is the verb, the old form still works (one notice line), and a
    shipped task name stands for its dataset."""
    assert main(["human", "page", "rsmmvp_mini", "--out", str(tmp_path / "new"), "--max-side", "8"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == (tmp_path / "new" / "index.html").resolve().as_uri() and "deprecated" not in err
    assert "DO-NOT-PUBLISH.human-key." in err  # where the key is, and that it stays private
    assert main(["human", MINI, "--out", str(tmp_path / "old"), "--max-side", "8"]) == 0
    err = capsys.readouterr().err
    notices = [line for line in err.splitlines() if "deprecated" in line]
    assert len(notices) == 1 and f"rsmmvp human page {MINI}" in notices[0]
    assert (tmp_path / "old" / "index.html").is_file()
    # score --dataset with a task name: the run joins that task
    files = HumanPageFiles(tmp_path / "new" / "index.html", next((tmp_path / "new").glob("DO-NOT-PUBLISH*.json")))
    answers = write(tmp_path / "a.json", export(files, mini, lambda r: r["answer"], "Ann"))
    assert main(["human", "score", str(answers), "--key", str(tmp_path / "new"), "--dataset", "rsmmvp_mini",
                 "--out", str(tmp_path / "scored")]) == 0
    assert next((tmp_path / "scored" / "human" / "Ann").glob("*_samples_rsmmvp_mini.jsonl"))


def test_annotator_folders_are_unique_stable_and_keep_every_script(tmp_path: Path, mini: Any,
                                                                    page: HumanPageFiles) -> None:
    """Issue 16.B12: 张伟 and 李娜 do not collide, "majority" is the vote's, `a, a, a_2` gives three folders."""
    assert annotator_name("张伟") == "张伟" and annotator_name(" Ann  Lee ") == "Ann_Lee"
    assert annotator_name("a,b=c+d/e\\f") == "a_b_c_d_e_f" and annotator_name("", "answers file") == "answers_file"
    assert annotator_name("../..", "") == "annotator"
    assert unique_names(["a", "a", "a_2"]) == ["a", "a_3", "a_2"]
    assert unique_names(["Majority", "x", "X"]) == ["Majority_2", "x", "X_2"]
    names = ["张伟", "李娜", "majority", "a", "a", "a_2"]
    files = [write(tmp_path / f"{k}.json", export(page, mini, lambda r: r["answer"], name))
             for k, name in enumerate(names)]
    written = score_annotators(files, MINI, tmp_path / "out", keys=[page.key])
    folders = [path.parent.name for _, path, _ in written]
    assert folders == ["张伟", "李娜", "majority_2", "a", "a_3", "a_2", "majority"]
    assert len({f.casefold() for f in folders}) == len(folders)
    assert [r["config"]["model_args"] for _, _, r in written][:3] == ["annotator=张伟", "annotator=李娜",
                                                                       "annotator=majority_2"]
    assert written[-1][2]["config"]["model_args"] == "annotators=张伟+李娜+majority_2+a+a_3+a_2,vote=majority"
    again = score_annotators(files, MINI, tmp_path / "again", keys=[page.key])
    assert [path.parent.name for _, path, _ in again] == folders  # stable


def test_human_runs_are_stamped_with_a_utc_instant(tmp_path: Path, mini: Any, page: HumanPageFiles) -> None:
    """Issue 17.2: the run's date is an instant (ISO 8601 with its offset), in UTC, whatever the clock's zone."""
    local = datetime(2026, 3, 1, 9, 30, 5, tzinfo=timezone(timedelta(hours=8)))
    path = write(tmp_path / "a.json", export(page, mini, lambda r: r["answer"], "amy"))
    (_, results_path, results), = score_annotators([path], MINI, tmp_path / "out", keys=[page.key], now=local)
    assert results["date"] == "2026-03-01T01:30:05+00:00"
    assert datetime.fromisoformat(results["date"]) == local
    assert results_path.name == "20260301_013005_results.json"
    (_, _, now), = score_annotators([path], MINI, tmp_path / "now", keys=[page.key])
    stamped = datetime.fromisoformat(now["date"])
    assert stamped.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - stamped) < timedelta(minutes=5)


# ---- in the browser -------------------------------------------------------------------------


def _wait(predicate: Any, tries: int = 50) -> Any:
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


@pytest.mark.browser
def test_answer_in_browser_export_and_score(browser: Any, tmp_path: Path, mini: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    files = write_human_page(MINI, tmp_path / "page", max_side=64)
    page = files.page
    items = page_json(page)["items"]
    by_index = mini.by_index()
    rows = {item: by_index[index] for item, index in key_items(files).items()}
    open_page(browser, page)
    assert not browser.get_log("browser")  # no JavaScript error
    assert browser.find_element("css selector", "#progress").text == "0 / 18 answered"
    browser.find_element("css selector", "#annotator").send_keys("Dee", Keys.ESCAPE)

    def current() -> dict[str, Any]:
        return rows[items[int(browser.execute_script(
            "return Number(document.getElementById('counter').textContent.split(' ')[1]) - 1"))]["id"]]

    body = browser.find_element("css selector", "body")
    # the first 10 questions right with the number keys, then one "cannot tell", then the letter keys
    for _ in range(10):
        row = current()
        assert browser.find_element("css selector", "#question").text == row["question"]
        body.send_keys("1" if row["answer"] == "A" else "2")
    body.send_keys("0")
    cannot = items[10]["id"]
    assert browser.find_element("css selector", "#progress").text == "11 / 18 answered"

    # a reload keeps the answers, the position and the name (localStorage)
    open_page(browser, page, clear=False)
    assert browser.find_element("css selector", "#progress").text == "11 / 18 answered"
    assert browser.find_element("css selector", "#annotator").get_attribute("value") == "Dee"
    body = browser.find_element("css selector", "body")
    for _ in range(7):
        row = current()
        body.send_keys("b" if row["answer"] == "A" else "a")  # the last 7 wrong, by letter key
    assert browser.find_element("css selector", "#progress").text == "18 / 18 answered"
    assert browser.find_element("css selector", "#done").is_displayed()
    # go back one question and see the chosen option pressed; fix it with the mouse
    body.send_keys(Keys.ARROW_LEFT)
    row = current()
    pressed = browser.find_element("css selector", "#choices button[aria-pressed=true]")
    assert pressed.get_attribute("data-choice") == other(row["answer"])
    browser.find_element("css selector", f"#choices button[data-choice={row['answer']}]").click()

    browser.find_element("css selector", "#download").click()
    target = _wait(lambda: next(iter(browser.download_dir.glob("rsmmvp_human_Dee*.json")), None))
    assert target is not None, "the download button wrote no file"
    exported = json.loads(target.read_text())
    assert exported == {**json.loads(browser.execute_script("return window.rsmmvpExport()")),
                        "exported_at": exported["exported_at"],
                        "answers": exported["answers"]}
    assert exported["annotator"] == "Dee" and len(exported["answers"]) == 18
    by_id = {a["id"]: a["choice"] for a in exported["answers"]}
    assert by_id[cannot] is None
    assert all(isinstance(a["seconds"], (int, float)) for a in exported["answers"])

    out = tmp_path / "scored"
    assert main(["human", "score", str(target), "--key", str(files.key), "--dataset", MINI, "--out", str(out)]) == 0
    results = json.loads(next((out / "human" / "Dee").glob("*_results.json")).read_text())
    details = read_details(results, "rsmmvp_mini")
    # 10 right + 1 cannot tell + 6 wrong + 1 fixed = 11 right of 18
    assert details["question_accuracy"]["value"] == pytest.approx(11 / 18)
    assert details["unreadable_rate"] == pytest.approx(1 / 18)

    # importing the file into a fresh browser profile continues from it
    open_page(browser, page)
    assert browser.execute_script("return window.rsmmvpImport(arguments[0])", target.read_text()) == {"imported": 18}
    assert browser.find_element("css selector", "#progress").text == "18 / 18 answered"
