"""The human baseline: ``rsmmvp human DATASET --out DIR`` and ``rsmmvp human score``.

Fast tier: the shuffled order, a page that holds no answer, answer files scored with the models'
scorer into results files that ``rsmmvp leaderboard collect`` accepts, agreement statistics, every
refusal. Browser: the page answered in headless Chromium with the keyboard, reloaded, exported by
its download button, scored.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from judgeserver import JudgeServer

from conftest import open_page
from rsmmvp_tasks.cli import main
from rsmmvp_tasks import InputError
from rsmmvp_tasks import read_details
from rsmmvp_tasks import score
from rsmmvp_tasks.human.page import DATA_PLACEHOLDER, EXPORT_FORMAT, load_human_dataset, shuffled_order
from rsmmvp_tasks.human.scoring import (
    Annotator,
    agreement,
    cohen_kappa,
    fleiss_kappa,
    majority_vote,
    read_export,
    score_annotators,
)
from rsmmvp_tasks import mini_dataset_dir

MINI = str(mini_dataset_dir() / "rsmmvp_mini.parquet")


@pytest.fixture(scope="module")
def mini() -> Any:
    return load_human_dataset(MINI)


def page_json(page: Path) -> dict[str, Any]:
    html = page.read_text(encoding="utf-8")
    assert DATA_PLACEHOLDER not in html
    start = html.index('<script id="rsmmvp-human-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def export(dataset: Any, choose: Any, annotator: str = "", skip: set[int] | None = None) -> dict[str, Any]:
    """An answer file as the page writes it; ``choose(row)`` gives the choice (a letter or None)."""
    answers = [{"id": item, "choice": choose(row), "seconds": 2.5}
               for item, row in dataset.ids().items() if row["index"] not in (skip or set())]
    return {"format": EXPORT_FORMAT, "dataset_fingerprint": dataset.fingerprint, "annotator": annotator,
            "answers": answers}


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def other(letter: str) -> str:
    return {"A": "B", "B": "A"}[letter]


# ---- the order and the page -----------------------------------------------------------------


def test_shuffled_order_never_puts_a_pair_together() -> None:
    pair_ids = [f"p{i // 2}" for i in range(40)]
    orders = {seed: shuffled_order(pair_ids, seed) for seed in range(20)}
    for order in orders.values():
        assert sorted(order) == list(range(40))
        assert all(pair_ids[a] != pair_ids[b] for a, b in zip(order, order[1:]))
    assert orders[3] == shuffled_order(pair_ids, 3)  # reproducible
    assert len({tuple(o) for o in orders.values()}) == 20  # and shuffled
    assert shuffled_order(["a", "b", "a", "b"], 0) in ([0, 1, 2, 3], [0, 3, 2, 1], [2, 1, 0, 3], [2, 3, 0, 1],
                                                       [1, 0, 3, 2], [1, 2, 3, 0], [3, 0, 1, 2], [3, 2, 1, 0])
    with pytest.raises(InputError, match="at least two pairs"):
        shuffled_order(["only", "only"], 0)


def test_page_holds_questions_and_images_but_no_answers(tmp_path: Path, mini: Any) -> None:
    assert main(["human", MINI, "--out", str(tmp_path / "page"), "--seed", "5", "--max-side", "96"]) == 0
    page = tmp_path / "page" / "index.html"
    data = page_json(page)
    items = data["items"]
    assert len(items) == len(mini.rows) == 18
    assert all(set(item) == {"id", "question", "options", "src"} for item in items)
    assert all(item["src"].startswith("data:image/jpeg;base64,") for item in items)
    ids = mini.ids()
    assert {item["id"] for item in items} == set(ids)
    pairs = [ids[item["id"]]["pair_id"] for item in items]
    assert all(a != b for a, b in zip(pairs, pairs[1:]))  # never both images of a pair in a row
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched
    without_images = json.dumps({**data, "items": [{k: v for k, v in i.items() if k != "src"} for i in items]})
    for row in mini.rows:  # nothing that identifies a row or its answer
        assert f'"{row["pair_id"]}"' not in without_images
        assert '"answer"' not in without_images and '"pattern"' not in without_images
    assert data["dataset_fingerprint"] == mini.fingerprint
    assert main(["human", MINI, "--out", str(tmp_path / "p2")]) == 0  # seed 0
    other_seed = page_json(tmp_path / "p2" / "index.html")
    assert [i["id"] for i in other_seed["items"]] != [i["id"] for i in items]  # --seed changes the order only
    assert {i["id"] for i in other_seed["items"]} == {i["id"] for i in items}


# ---- scoring --------------------------------------------------------------------------------


def test_answers_are_scored_with_the_models_scorer(tmp_path: Path, mini: Any) -> None:
    rng = random.Random(0)
    wrong = {r["index"] for r in mini.rows if rng.random() < 0.3}
    data = export(mini, lambda r: other(r["answer"]) if r["index"] in wrong else r["answer"], "Ann Lee")
    written = score_annotators([write(tmp_path / "ann.json", data)], MINI, tmp_path / "out")
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


def test_cannot_tell_is_wrong_and_never_judged(tmp_path: Path, mini: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with JudgeServer() as server:
        monkeypatch.setenv("RSMMVP_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("RSMMVP_JUDGE_MODEL", "judge")
        monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "cache"))
        server.default = "A"
        data = export(mini, lambda r: None if r["pattern"] == "presence" else r["answer"])
        (_, _, results), = score_annotators([write(tmp_path / "a.json", data)], MINI, tmp_path / "out")
        assert server.requests == []
    details = read_details(results, "rsmmvp_mini")
    presence = sum(r["pattern"] == "presence" for r in mini.rows)
    assert details["unreadable_rate"] == pytest.approx(presence / 18)
    assert details["question_accuracy"]["value"] == pytest.approx(1 - presence / 18)
    assert results["rsmmvp_human"]["cannot_tell"] == presence


def test_unfinished_annotator_is_reported_not_padded(tmp_path: Path, mini: Any) -> None:
    first = mini.rows[0]
    data = export(mini, lambda r: r["answer"], "amy", skip={first["index"]})
    (_, path, results), = score_annotators([write(tmp_path / "amy.json", data)], MINI, tmp_path / "out")
    details = read_details(results, "rsmmvp_mini")
    assert details["n_questions"] == 17 and details["incomplete_pairs"] == [first["pair_id"]]
    assert results["n-samples"]["rsmmvp_mini"] == {"original": 18, "effective": 17}
    from rsmmvp_tasks.sharing.runs import load_run

    problems = load_run(path, "rsmmvp_mini").problems()
    assert any("17 of 18" in p for p in problems) and any("incomplete pair" in p for p in problems)


def test_several_annotators_agreement_majority_and_the_leaderboard(tmp_path: Path, mini: Any) -> None:
    files = []
    for name, rate in (("ann", 0.0), ("bo", 0.25), ("cy", 0.4)):
        rng = random.Random(name)
        wrong = {r["index"] for r in mini.rows if rng.random() < rate}
        files.append(write(tmp_path / f"{name}.json",
                           export(mini, lambda r, w=wrong: other(r["answer"]) if r["index"] in w else r["answer"], name)))
    written = score_annotators(files, MINI, tmp_path / "out")
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
    assert fleiss_kappa(list(zip(a, b))) == pytest.approx((0.75 - 34 / 64) / (1 - 34 / 64))  # = Scott's pi for two
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
    ("fingerprint", "another dataset"), ("unknown", "names no question"), ("choice", "is none of"),
    ("twice", "answered twice"), ("format", "not an answer file"), ("json", "not a readable answer file"),
])
def test_bad_answer_files_are_refused(tmp_path: Path, mini: Any, breakage: str, message: str) -> None:
    data = export(mini, lambda r: r["answer"])
    if breakage == "fingerprint":
        data["dataset_fingerprint"] = "0" * 64
    elif breakage == "unknown":
        data["answers"][0]["id"] = "feedfeedfeedfeed"
    elif breakage == "choice":
        data["answers"][0]["choice"] = "C"
    elif breakage == "twice":
        data["answers"].append(data["answers"][0])
    elif breakage == "format":
        data["format"] = "rsmmvp-review"
    path = write(tmp_path / "bad.json", data)
    if breakage == "json":
        path.write_text("{not json")
    with pytest.raises(InputError, match=message):
        read_export(path, mini)


def test_cli_usage_errors(tmp_path: Path, mini: Any, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "a.json", export(mini, lambda r: r["answer"]))
    assert main(["human", MINI, MINI, "--out", str(tmp_path / "x")]) == 2
    assert main(["human", "score", str(good), "--out", str(tmp_path / "x")]) == 2
    assert "needs --dataset" in capsys.readouterr().err
    assert main(["human", "score", "--dataset", MINI, "--out", str(tmp_path / "x")]) == 2
    assert main(["human", MINI, "--out", str(tmp_path / "x"), "--task", "rsmmvp"]) == 2
    bad = write(tmp_path / "b.json", {**export(mini, lambda r: r["answer"]), "dataset_fingerprint": "1" * 64})
    assert main(["human", "score", str(bad), "--dataset", MINI, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rsmmvp human: error:") and "another dataset" in err and "Traceback" not in err


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

    assert main(["human", MINI, "--out", str(tmp_path / "page"), "--max-side", "64"]) == 0
    page = tmp_path / "page" / "index.html"
    items = page_json(page)["items"]
    rows = mini.ids()
    open_page(browser, page)
    assert not browser.get_log("browser")  # no JavaScript error
    assert browser.find_element("css selector", "#progress").text == "0 / 18 answered"
    browser.find_element("css selector", "#annotator").send_keys("Dee", Keys.ESCAPE)

    def current() -> dict[str, Any]:
        return rows[items[int(browser.execute_script(
            "return Number(document.getElementById('counter').textContent.split(' ')[1]) - 1"))]["id"]]

    body = browser.find_element("css selector", "body")
    # the first 10 questions right with the number keys, then one "cannot tell", then the letter keys
    for k in range(10):
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
    for k in range(7):
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
    assert main(["human", "score", str(target), "--dataset", MINI, "--out", str(out)]) == 0
    results = json.loads(next((out / "human" / "Dee").glob("*_results.json")).read_text())
    details = read_details(results, "rsmmvp_mini")
    # 10 right + 1 cannot tell + 6 wrong + 1 fixed = 11 right of 18
    assert details["question_accuracy"]["value"] == pytest.approx(11 / 18)
    assert details["unreadable_rate"] == pytest.approx(1 / 18)

    # importing the file into a fresh browser profile continues from it
    open_page(browser, page)
    assert browser.execute_script("return window.rsmmvpImport(arguments[0])", target.read_text()) == {"imported": 18}
    assert browser.find_element("css selector", "#progress").text == "18 / 18 answered"
