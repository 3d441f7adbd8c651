"""``rsmmvp leaderboard collect | compare | render | submit`` on real lmms-eval runs and hand-made edge cases.

- The statistics are checked against hand-computed cases (McNemar's exact test, Holm, the paired
  bootstrap's limits).
- The board is collected from real ``lmms-eval`` runs on ``rsmmvp_mini`` (dummy A, dummy B, the
  entry-point ``rule_vlm`` model, a ``--limit`` run), made once for this module; the expected
  numbers come from the dataset and the models' rules.
- Edge cases are copies of the real runs, edited: a limit, incomplete pairs, another fingerprint, a
  missing metric, the same model twice.
- ``index.html`` is loaded in headless Chromium (no console error, one row per model, sorting).
- ``submit`` talks to a real HTTP server on 127.0.0.1 (``local_hub``) that records the requests;
  the token never appears in stdout, stderr or any file written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, offline_env
from lmms_runs import copy_run, details_of, expected_pairs, make_runs, mini_rows, results_file
from local_hub import LocalHub, Repo

from rsmmvp_tasks import DataViolationError, dataset_fingerprint
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.sharing.board import ROW_KEYS, Board
from rsmmvp_tasks.sharing.render import DATA_PLACEHOLDER, render_board
from rsmmvp_tasks.sharing.stats import compare_outcomes, holm, mcnemar_exact, paired_bootstrap

TOKEN = "hf_localTestToken0123456789abcdef"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["leaderboard", *args])
    out, err = capsys.readouterr()
    return code, out, err


# ---- statistics, by hand --------------------------------------------------------------------


def test_mcnemar_exact_matches_hand_computed_cases() -> None:
    # two-sided: 2 * P(X <= min(b, c)), X ~ Binomial(b + c, 1/2), capped at 1
    assert mcnemar_exact(1, 6) == pytest.approx(2 * (1 + 7) / 2**7)  # = 0.125
    assert mcnemar_exact(6, 1) == mcnemar_exact(1, 6)
    assert mcnemar_exact(2, 10) == pytest.approx(2 * (1 + 12 + 66) / 2**12)  # = 0.03857...
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 2**5)  # = 0.0625: five discordant pairs cannot reach 5%
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 2**6)  # = 0.03125: six can
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_holm_adjustment() -> None:
    # sorted: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_paired_bootstrap_limits() -> None:
    assert paired_bootstrap([1, 0, 1], [1, 0, 1]) == (0.0, 0.0, 0.0)
    assert paired_bootstrap([1, 1, 1, 1], [0, 0, 0, 0]) == (1.0, 1.0, 1.0)
    a, b = [1, 1, 0, 1, 0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 0, 1, 0, 0, 1, 0]
    diff, low, high = paired_bootstrap(a, b)
    assert diff == pytest.approx(0.4) and low < diff < high and -1 <= low and high <= 1
    assert paired_bootstrap(a, b) == (diff, low, high)  # fixed seed: a board always prints the same interval
    with pytest.raises(ValueError):
        paired_bootstrap([1, 0], [1])


def test_compare_outcomes_hand_case() -> None:
    # 10 pairs: both right 2, only A 1, only B 6, both wrong 1 -> A - B = (3 - 8) / 10, p = 0.125
    a = {f"p{i}": v for i, v in enumerate([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])}
    b = {f"p{i}": v for i, v in enumerate([1, 1, 0, 1, 1, 1, 1, 1, 1, 0])}
    c = compare_outcomes(a, b)
    assert (c.n_pairs, c.both_right, c.only_a, c.only_b, c.both_wrong) == (10, 2, 1, 6, 1)
    assert c.difference == pytest.approx(-0.5) and c.p_value == pytest.approx(0.125) and not c.significant
    assert c.ci_low <= -0.5 <= c.ci_high
    with pytest.raises(DataViolationError, match="share no pair"):
        compare_outcomes({"x": True}, {"y": True})


def test_model_label_masks_secret_args() -> None:
    from rsmmvp_tasks.sharing.runs import model_label

    assert model_label("dummy", "response=A") == "dummy (response=A)"
    assert model_label("dummy", "") == "dummy"
    label = model_label("my_vlm", f"pretrained=org/m,token={TOKEN},max_new_tokens=8")
    assert TOKEN not in label and label == "my_vlm (max_new_tokens=8,pretrained=org/m)"  # secrets dropped, sorted


@pytest.mark.parametrize("variant", [
    "dtype=float32,pretrained=/w/llava", "pretrained=/w/llava,dtype=float32", " dtype = float32 , pretrained=/w/llava ",
    "pretrained=/w/llava,,dtype=float32,", f"pretrained=/w/llava,dtype=float32,token={TOKEN}",
    "pretrained=/w/llava,dtype=float32,api_key=sk-abcdefghijklmnopqrstuvwx", {"dtype": "float32", "pretrained": "/w/llava"},
])
def test_model_identity_is_normalised(variant: Any) -> None:
    from rsmmvp_tasks.sharing.runs import normalise_model_args

    assert normalise_model_args(variant) == "dtype=float32,pretrained=/w/llava"


def test_run_identity_labels_and_judge() -> None:
    from rsmmvp_tasks.sharing.runs import RunIdentity, judge_identity

    ident = RunIdentity(task="rsmmvp_circular", protocol="circular", fingerprint="ab" * 32,
                        model="llava_hf (device=cpu,pretrained=/data/models/llava-1.5-7b-hf/)", judge="off",
                        scoring_version="2", model_name="llava_hf",
                        model_args="device=cpu,pretrained=/data/models/llava-1.5-7b-hf/")
    assert ident.short_label == "llava-1.5-7b-hf"  # the last part of a local path
    assert "rsmmvp_circular (circular)" in ident.full_label and "abababababab" in ident.full_label
    assert "ab" * 32 in ident.describe() and "\n" not in ident.describe()
    hub = RunIdentity("rsmmvp", "plain", None, "llava_hf (pretrained=llava-hf/llava-1.5-7b-hf)", "off", "2",
                      "llava_hf", "pretrained=llava-hf/llava-1.5-7b-hf")
    assert hub.short_label == "llava-hf/llava-1.5-7b-hf" and RunIdentity("t", "plain", None, "dummy", "off", "2",
                                                                      "dummy").short_label == "dummy"
    # a judge that never answered (every call failed: switched off after a 401) did not judge the run
    failed = {"judge": {"model": "gpt-x", "judged": 3, "answered": 0, "none": 0, "unreadable": 0, "failed": 3}}
    assert judge_identity(failed) == "off" and judge_identity({}) == "off"
    answered = {"judge": {**failed["judge"], "answered": 2, "failed": 1}, "judge_prompt_version": "1"}
    assert judge_identity(answered) == "gpt-x (prompt 1)"
    # the summary's own verdict when it has one
    assert judge_identity({"judge": {**answered["judge"], "active": False}}) == "off"
    assert judge_identity({"judge": {**failed["judge"], "active": True, "prompt_version": "2"}}) == "gpt-x (prompt 2)"


# ---- hand-made boards (no lmms-eval) --------------------------------------------------------


def _row(label: str, outcomes: dict[str, int] | None, pattern_of: dict[str, str], *, task: str = "rsmmvp_mini",
         fingerprint: str | None = "f" * 64, judge: str = "off", args: str = "", **extra: Any) -> dict[str, Any]:
    """A board row made by hand (the identity from ``label``, ``task``, ``fingerprint``, ``judge``, ``args``)."""
    from rsmmvp_tasks.sharing.board import section_key
    from rsmmvp_tasks.sharing.runs import RunIdentity, protocol_of

    values = list((outcomes or {}).values())
    acc = sum(values) / len(values) if values else 0.0
    per_pattern: dict[str, dict[str, Any]] = {}
    for pid, ok in (outcomes or {}).items():
        e = per_pattern.setdefault(pattern_of[pid], {"pairs": 0, "right": 0})
        e["pairs"] += 1
        e["right"] += ok
    protocol = protocol_of(task, {})
    ident = RunIdentity(task, protocol, fingerprint, label, judge, "2", label.split(" ")[0], args)
    row = {
        "label": label, "model": label.split(" ")[0], "model_args": args, "task": task, "protocol": protocol,
        "section": section_key(task, fingerprint, protocol), "rank": 0, "identity": {**ident.to_dict(), "short_label": label},
        "date": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:00Z", "lmms_eval_version": "0.7.3",
        "rsmmvp_version": "0.2.0", "dataset_fingerprint": fingerprint, "source": f"/runs/{label}_results.json",
        "samples_source": None,
        "question_accuracy": {"value": acc, "ci_low": max(0.0, acc - 0.1), "ci_high": min(1.0, acc + 0.1)},
        "pair_accuracy": {"value": acc, "ci_low": max(0.0, acc - 0.2), "ci_high": min(1.0, acc + 0.2)},
        "unreadable_rate": 0.0, "n_questions": 2 * len(values), "n_pairs": len(values),
        "per_pattern": {p: {"pairs": e["pairs"], "pair_accuracy": e["right"] / e["pairs"], "ci_low": 0.0,
                            "ci_high": 1.0} for p, e in per_pattern.items()},
        "position_bias": None, "circular_gap": None, "caveats": [], "pair_outcomes": outcomes,
    }
    row.update(extra)
    assert set(row) == set(ROW_KEYS)
    return row


PATTERN_OF = {f"p{i}": ("presence" if i < 5 else "count") for i in range(10)}


def _hand_board(tmp_path: Path, *rows: dict[str, Any]) -> Path:
    """Rows given best first within each section get ranks 1, 2, ... per section."""
    ranks: dict[str, int] = {}
    for r in rows:
        ranks[r["section"]] = ranks.get(r["section"], 0) + 1
        r["rank"] = ranks[r["section"]]
    return Board(rows=list(rows), dataset_fingerprint="f" * 64, created="2026-01-01T00:00:00Z",
                 made_by="rsmmvp test").save(tmp_path / "board.json")


def test_compare_command_prints_the_hand_computed_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = {f"p{i}": v for i, v in enumerate([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])}
    b = {f"p{i}": v for i, v in enumerate([1, 1, 0, 1, 1, 1, 1, 1, 1, 0])}
    board = _hand_board(tmp_path, _row("model-b (x=1)", b, PATTERN_OF), _row("model-a", a, PATTERN_OF),
                        _row("model-c", None, PATTERN_OF))
    code, out, err = _cli(["compare", str(board), "model-a", "1"], capsys)
    assert code == 0, err
    assert "difference A - B: -50.0 points" in out
    assert "A right and B wrong on 1 pair(s), A wrong and B right on 6: p = 0.125" in out
    assert "not significant at 0.05" in out
    code, _, err = _cli(["compare", str(board), "model", "2"], capsys)
    assert code == 2 and "matches 3 rows" in err
    code, _, err = _cli(["compare", str(board), "9", "1"], capsys)
    assert code == 2 and "rows 1 to 3" in err
    code, _, err = _cli(["compare", str(board), "model-c", "1"], capsys)
    assert code == 2 and "--log_samples" in err and "model-c" in err
    code, _, err = _cli(["compare", str(tmp_path / "none.json"), "1", "2"], capsys)
    assert code == 2 and "leaderboard collect" in err


def _page_data(page: Path) -> dict[str, Any]:
    html = page.read_text(encoding="utf-8")
    assert DATA_PLACEHOLDER not in html
    start = html.index('<script id="rsmmvp-board" type="application/json">') + len(
        '<script id="rsmmvp-board" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_render_is_self_contained_and_escapes_labels(tmp_path: Path) -> None:
    evil = 'evil (prompt=</script><script>alert(1)</script>)'
    a = {f"p{i}": 1 for i in range(10)}
    b = {f"p{i}": 0 for i in range(10)}
    board = Board.load(_hand_board(tmp_path, _row("strong", a, PATTERN_OF), _row(evil, b, PATTERN_OF),
                                   _row("partial", None, PATTERN_OF, caveats=["made with --limit 4"])))
    files = render_board(board, tmp_path / "site", human=None)
    data = _page_data(files.html)  # parses: the label did not close the data's script element
    assert [r["label"] for r in data["rows"]] == ["strong", evil, "partial"]
    assert [s["human"] for s in data["sections"]] == [None] and data["chance"] == 25.0 and data["zone"] == "UTC"
    (comparison,) = data["pairwise"]  # the two rows with outcomes; 10 discordant pairs, all one way
    assert comparison["p_value"] == pytest.approx(2 / 2**10) and comparison["significant"] is True
    html = files.html.read_text(encoding="utf-8")
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg"}  # a namespace, not fetched
    md = files.markdown.read_text(encoding="utf-8")
    assert "| 3 | partial \u2020 |" in md and "\u2020 partial [rsmmvp_mini]: made with --limit 4" in md
    assert "| yes |" in md  # the significant difference is listed
    rows = list(csv.DictReader(io.StringIO(files.csv.read_text(encoding="utf-8"))))
    assert [r["label"] for r in rows] == ["strong", evil, "partial"]
    assert rows[0]["pair_accuracy_presence"] == "1.0" and rows[2]["caveats"] == "made with --limit 4"


# ---- real lmms-eval runs --------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_runs(tmp_path_factory.mktemp("board_runs"), ("a", "b", "rule", "limited"))


@pytest.mark.e2e
def test_collect_real_runs_one_row_per_model(runs: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    board_path = tmp_path / "board.json"
    code, out, err = _cli(["collect", str(runs["a"]), str(runs["b"]), str(runs["rule"]), "--out", str(board_path)], capsys)
    assert code == 0, err
    board = Board.load(board_path)
    rule = expected_pairs(None)
    assert [r["label"] for r in board.rows] == ["rule_vlm", "dummy (response=A)", "dummy (response=B)"]
    assert board.dataset_fingerprint == dataset_fingerprint(mini_rows())  # recomputed from the dataset
    by_label = {r["label"]: r for r in board.rows}
    assert by_label["rule_vlm"]["pair_outcomes"] == {k: int(v) for k, v in rule.items()}
    assert by_label["rule_vlm"]["pair_accuracy"]["value"] == pytest.approx(sum(rule.values()) / len(rule))
    assert by_label["dummy (response=A)"]["pair_outcomes"] == {k: int(v) for k, v in expected_pairs("A").items()}
    for row in board.rows:
        assert row["model"] in ("dummy", "rule_vlm") and row["task"] == "rsmmvp_mini"
        assert row["rsmmvp_version"] and row["lmms_eval_version"] and row["date"]
        assert row["n_pairs"] == len(rule) and row["caveats"] == []
        assert sum(e["pairs"] for e in row["per_pattern"].values()) == len(rule)
        assert Path(row["samples_source"]).is_file()
    assert by_label["dummy (response=A)"]["model_args"] == "response=A"
    assert "3 run(s) in 1 section(s)" in out and "1. #1 rule_vlm" in out


@pytest.mark.e2e
def test_limit_run_is_refused_unless_allow_partial(runs: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    board_path = tmp_path / "board.json"
    sources = [str(runs["a"]), str(runs["b"]), str(runs["limited"])]
    code, _, err = _cli(["collect", *sources, "--out", str(board_path)], capsys)
    limited = results_file(runs["limited"])
    assert code == 1 and "Traceback" not in err
    assert str(limited) in err and "made with --limit 5" in err and "incomplete pair" in err
    # the limited run is the newest run of dummy (response=A): the message says which run it replaced
    assert f"replaced {results_file(runs['a'])}" in err
    assert not board_path.exists()
    code, _, err = _cli(["collect", *sources, "--out", str(board_path), "--allow-partial"], capsys)
    assert code == 0 and "kept although partial" in err
    (row,) = [r for r in Board.load(board_path).rows if r["label"] == "dummy (response=A)"]
    assert row["source"] == str(limited) and any("--limit 5" in c for c in row["caveats"])
    files = render_board(Board.load(board_path), tmp_path / "site")
    assert "dummy (response=A) \u2020" in files.markdown.read_text(encoding="utf-8")


@pytest.mark.e2e
def test_hand_made_edge_cases(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "board.json")
    # incomplete pairs without --limit (the limited run, its limit erased)
    def erase_limit(d: dict[str, Any]) -> None:
        d["config"]["limit"] = None
        d["n-samples"]["rsmmvp_mini"]["effective"] = d["n-samples"]["rsmmvp_mini"]["original"]
    incomplete = copy_run(runs["limited"], tmp_path / "incomplete", erase_limit)
    code, _, err = _cli(["collect", str(runs["b"]), str(incomplete), "--out", out], capsys)
    assert code == 1 and str(incomplete) in err and "incomplete pair(s)" in err and "made with --limit" not in err

    # another dataset fingerprint (a run of another model on an edited dataset)
    def other_dataset(d: dict[str, Any]) -> None:
        details_of(d)["dataset_fingerprint"] = "0" * 64
        d["config"]["model_args"] = "response=C"
    other = copy_run(runs["a"], tmp_path / "other", other_dataset)
    # ... is a section of its own (its own ranking, never compared pair by pair with the others)
    code, _, err = _cli(["collect", str(runs["a"]), str(runs["b"]), str(other), "--out", out], capsys)
    assert code == 0, err
    board = Board.load(out)
    assert sorted(len(s.rows) for s in board.sections) == [1, 2]
    assert {r["rank"] for r in board.rows if r["dataset_fingerprint"] == "0" * 64} == {1}
    # ... and refused when the board is asked for one fingerprint, or kept alone when it is that one
    fingerprint = details_of(json.loads(results_file(runs["a"]).read_text()))["dataset_fingerprint"]
    code, _, err = _cli(["collect", str(runs["a"]), str(other), "--out", out, "--fingerprint", fingerprint], capsys)
    assert code == 1 and str(other) in err and "dataset fingerprint 000000000000 differs" in err
    code, _, err = _cli(["collect", str(other), "--out", out, "--fingerprint", "0" * 64], capsys)
    assert code == 0, err

    # a missing metric: unreadable, refused even with --allow-partial
    missing = copy_run(runs["b"], tmp_path / "missing", lambda d: details_of(d)["question_accuracy"].pop("value"))
    code, _, err = _cli(["collect", str(runs["a"]), str(missing), "--out", out, "--allow-partial"], capsys)
    assert code == 2 and str(missing) in err and "question_accuracy.value" in err

    # the same model twice: the newest is kept, and the note says which file was left out
    newer = copy_run(runs["a"], tmp_path / "newer", lambda d: d.update(date="20991231_235959"),
                      stamp="20991231_235959")
    code, _, err = _cli(["collect", str(runs["a"]), str(newer), str(runs["b"]), "--out", out], capsys)
    assert code == 0, err
    # lmms-eval stamped it in its default zone, Asia/Singapore (UTC+8): shown in UTC
    assert "dummy (response=A) [rsmmvp_mini, judge off] was found 2 times: kept the newest (2099-12-31T15:59:59Z" in err
    assert f"left out {results_file(runs['a'])}" in err
    board = Board.load(out)
    assert len(board.rows) == 2 and {r["source"] for r in board.rows} >= {str(newer)}
    assert any("was found 2 times" in n for n in board.notes)

    # a glob that matches nothing, a folder without results, a results file that is not JSON
    code, _, err = _cli(["collect", str(tmp_path / "nowhere" / "*.json"), "--out", out], capsys)
    assert code == 2 and "matches no file" in err
    (tmp_path / "empty").mkdir()
    code, _, err = _cli(["collect", str(tmp_path / "empty"), "--out", out], capsys)
    assert code == 2 and "no lmms-eval results file" in err
    (tmp_path / "bad_results.json").write_text("{not json")
    code, _, err = _cli(["collect", str(tmp_path / "bad_results.json"), "--out", out], capsys)
    assert code == 2 and "bad_results.json" in err


@pytest.mark.e2e
def test_compare_real_runs(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = tmp_path / "board.json"
    assert _cli(["collect", str(runs["a"]), str(runs["b"]), str(runs["rule"]), "--out", str(board)], capsys)[0] == 0
    code, out, err = _cli(["compare", str(board), "rule", "response=A"], capsys)
    assert code == 0, err
    rule, always_a = expected_pairs(None), expected_pairs("A")
    only_rule = sum(rule[p] and not always_a[p] for p in rule)
    only_a = sum(always_a[p] and not rule[p] for p in rule)
    assert only_rule > 0 and only_a == 0  # always-A gets no pair right
    diff = 100 * (sum(rule.values()) - sum(always_a.values())) / len(rule)
    assert f"difference A - B: {diff:+.1f} points" in out
    assert f"A right and B wrong on {only_rule} pair(s), A wrong and B right on {only_a}" in out
    assert f"p = {2 / 2 ** only_rule:.4g}" in out
    code, out, _ = _cli(["compare", str(board), "response=A", "response=B"], capsys)
    assert code == 0 and "difference A - B: +0.0 points" in out and "p = 1" in out
    code, _, err = _cli(["compare", str(board), "dummy", "rule"], capsys)
    assert code == 2 and "matches 2 rows" in err


@pytest.fixture(scope="module")
def real_site(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("site")
    assert main(["leaderboard", "collect", str(runs["a"]), str(runs["b"]), str(runs["rule"]),
                 "--out", str(base / "board.json")]) == 0
    assert main(["leaderboard", "render", str(base / "board.json"), "--out", str(base / "site"), "--human", "91.7"]) == 0
    return base / "site"


@pytest.mark.e2e
def test_render_real_board(real_site: Path) -> None:
    md = (real_site / "leaderboard.md").read_text(encoding="utf-8")
    table = [line for line in md.splitlines() if re.match(r"^\| [123] \| ", line)]
    assert [line.split(" | ")[1] for line in table] == ["rule_vlm", "dummy (response=A)", "dummy (response=B)"]
    assert "### Which differences are real" in md and "| 1. rule_vlm | 2. dummy (response=A) |" in md
    rows = list(csv.DictReader(io.StringIO((real_site / "leaderboard.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 3 and rows[0]["label"] == "rule_vlm"
    assert (real_site / "per_pattern_heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = _page_data(real_site / "index.html")
    assert len(data["rows"]) == 3 and len(data["pairwise"]) == 3 and data["sections"][0]["human"] == 91.7
    assert all("pair_outcomes" not in r for r in data["rows"])  # the page carries numbers, not per-pair data


@pytest.mark.e2e
@pytest.mark.browser
def test_page_in_chromium(real_site: Path, browser: Any) -> None:
    chromium = browser
    chromium.get((real_site / "index.html").resolve().as_uri())
    assert chromium.execute_script("return window.rsmmvpReady") is True
    assert not [e for e in chromium.get_log("browser") if e.get("level") in ("SEVERE", "WARNING")]
    body = chromium.find_elements("css selector", "table.board tbody tr")
    assert [r.find_element("css selector", "td .label").text for r in body] == [
        "rule_vlm", "dummy (response=A)", "dummy (response=B)"]
    # the reference lines are drawn in the overview and in every per-pattern chart
    assert len(chromium.find_elements("css selector", ".overview line[data-ref=human]")) == 1
    assert len(chromium.find_elements("css selector", ".overview line[data-ref=chance]")) == 1
    figures = chromium.find_elements("css selector", ".patterns figure")
    assert figures and len(chromium.find_elements("css selector", ".patterns line[data-ref=chance]")) == len(figures)
    # the pairwise matrix: 3 x 3 cells, none significant on 9 pairs
    assert len(chromium.find_elements("css selector", "table.matrix td[data-significant]")) == 6
    assert "No difference between two compared runs" in chromium.find_element("css selector", ".significant").text
    # sorting: pair accuracy ascending puts rule_vlm last
    header = chromium.find_element("css selector", "table.board th[data-key=pair]")
    header.click()  # first click on a number column: descending
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    labels = [r.find_element("css selector", "td .label").text
              for r in chromium.find_elements("css selector", "table.board tbody tr")]
    assert labels[-1] == "rule_vlm"
    # the full identity: in the label's tooltip and, on demand, in a details row
    first = chromium.find_element("css selector", "table.board tbody tr")
    assert "rsmmvp_mini (plain)" in first.find_element("css selector", ".label").get_attribute("title")
    first.find_element("css selector", "button.more").click()
    assert "judge off" in chromium.find_element("css selector", "tr.identity").text


LONG_ROOT = "/mnt/shared/checkpoints/remote-sensing/experiments/2026-run-0042"


def _long_label_board(tmp_path: Path) -> Board:
    """10 models given as long local paths, each with a plain and a circular run (position bias, gap)."""
    rows = []
    for k in range(10):
        name = f"llava-rs-finetune-{k:02d}-lora-rank64-epoch{3 + k}"
        args = f"device=cpu,dtype=float32,pretrained={LONG_ROOT}/{name}/"
        plain = _outcomes([1] * (10 - k // 2) + [0] * (k // 2))
        circ = _outcomes([1] * (8 - k // 2) + [0] * (2 + k // 2))
        for task, outcomes, extra in (("rsmmvp_mini", plain, {}), ("rsmmvp_mini_circular", circ, {
                "position_bias": {"value": 0.05 * k, "ci_low": max(0.0, 0.05 * k - 0.1), "ci_high": 0.05 * k + 0.1,
                                  "biased": k, "questions": 20}})):
            row = _row(name, outcomes, PATTERN_OF, task=task, args=args, **extra)
            # half the labels as short labels, half as long as a label gets when short ones collide
            row["label"] = name if k % 2 else f"llava_hf ({args})"
            row["model"] = "llava_hf"
            row["identity"]["model"] = f"llava_hf ({args})"
            row["identity"]["full_label"] = f"llava_hf ({args}) \u00b7 {task} \u00b7 judge off \u00b7 scoring 2"
            row["source"] = f"{LONG_ROOT}/{name}/outputs/{task}/20260101_000000_results.json"
            rows.append(row)
    rows.sort(key=lambda r: (r["task"], -r["pair_accuracy"]["value"]))
    from rsmmvp_tasks.sharing.board import _circular_gaps

    _circular_gaps(rows)
    return Board.load(_hand_board(tmp_path, *rows))


@pytest.mark.browser
def test_page_layout_with_long_local_path_labels(browser: Any, tmp_path: Path) -> None:
    """At 1280 px: no horizontal scroll, no cell content overflowing its cell, every label's start visible."""
    chromium = browser
    files = render_board(_long_label_board(tmp_path), tmp_path / "site", human=None)
    chromium.set_window_size(1280, 1000)
    chromium.get(files.html.resolve().as_uri())
    assert chromium.execute_script("return window.rsmmvpReady") is True
    assert not [e for e in chromium.get_log("browser") if e.get("level") in ("SEVERE", "WARNING")]
    assert len(chromium.find_elements("css selector", "section.board-section")) == 2
    assert chromium.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth") is True
    overflowing = chromium.execute_script("""
        const bad = [];
        for (const cell of document.querySelectorAll('table.board td, table.board th, table.matrix td')) {
          const box = cell.getBoundingClientRect();
          for (const child of cell.querySelectorAll('*')) {
            const r = child.getBoundingClientRect();
            if (r.width && (r.left < box.left - 1 || r.right > box.right + 1)) bad.push(cell.textContent.slice(0, 60));
          }
          if (cell.scrollWidth > cell.clientWidth + 1 && !cell.matches('table.matrix td')) bad.push(cell.textContent.slice(0, 60));
        }
        return bad;""")
    assert overflowing == []
    # every SVG bar label starts inside its chart and shows the label's first characters (cut on the right only)
    labels = chromium.execute_script("""
        return [...document.querySelectorAll('text.bar-label')].map((t) => {
          const chart = t.ownerSVGElement.getBoundingClientRect(), box = t.getBoundingClientRect();
          return {shown: t.firstChild.textContent, full: t.dataset.full, inside: box.left >= chart.left - 1};
        });""")
    assert labels and all(item["inside"] for item in labels)
    assert all(item["full"].startswith(item["shown"].rstrip("\u2026")) and len(item["shown"]) >= 12 for item in labels)
    # matrix row heads cut on the right: the start of each label is what shows
    heads = chromium.execute_script("""
        return [...document.querySelectorAll('table.matrix th.rowhead')].filter((th) => th.textContent).map((th) => {
          const cell = th.getBoundingClientRect(), range = document.createRange();
          range.setStart(th.firstChild, 0); range.setEnd(th.firstChild, 4);
          const r = range.getBoundingClientRect();
          return r.left >= cell.left - 1 && r.right <= cell.right + 1;
        });""")
    assert heads and all(heads)
    # the position bias and the plain - circular gap are shown
    circular = chromium.find_elements("css selector", "section.board-section")[1]
    headers = [th.text for th in circular.find_elements("css selector", "table.board th")]
    assert any("Position bias" in h for h in headers) and any("circular" in h.lower() for h in headers)
    height = chromium.execute_script("return document.body.scrollHeight")
    chromium.set_window_size(1280, min(height + 40, 6000))
    shot = tmp_path / "leaderboard.png"
    chromium.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
    target = os.environ.get("RSMMVP_LEADERBOARD_SCREENSHOT")  # set it to refresh docs/leaderboard.png
    if target:
        shutil.copy(shot, target)


# ---- identity, instants, sections (issue 17) and the samples tie, field checks (issue 16) -------------


def _collect(capsys: pytest.CaptureFixture[str], out: Path, *sources: Path, extra: tuple[str, ...] = ()
             ) -> tuple[int, str, Board | None]:
    code, _, err = _cli(["collect", *map(str, sources), "--out", str(out), *extra], capsys)
    return code, err, (Board.load(out) if code == 0 else None)


@pytest.mark.e2e
def test_model_args_in_another_order_or_with_a_secret_are_one_model(runs: dict[str, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    def respelled(d: dict[str, Any]) -> None:
        d["config"]["model_args"] = f" token={TOKEN} ,response=A,"
        d["date"] = "20991231_235959"
    again = copy_run(runs["a"], tmp_path / "again", respelled, stamp="20991231_235959")
    code, err, board = _collect(capsys, tmp_path / "board.json", runs["a"], again, runs["b"], runs["rule"])
    assert code == 0, err
    assert board is not None and len(board.rows) == 3  # not a fourth row entering the Holm family
    (row,) = [r for r in board.rows if r["label"] == "dummy (response=A)"]
    assert row["source"] == str(again) and row["model_args"] == "response=A"
    assert TOKEN not in (tmp_path / "board.json").read_text()


@pytest.mark.e2e
def test_samples_of_another_run_are_never_attached(runs: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # two runs started in the same second into two folders; the first logged no samples. Always-A and always-B
    # have the same counts and accuracies, so only the tie to the results file tells their samples apart.
    stamp = "20260101_120000"
    no_samples = copy_run(runs["a"], tmp_path / "tree" / "one", stamp=stamp, samples=False)
    copy_run(runs["b"], tmp_path / "tree" / "two", stamp=stamp)
    code, err, board = _collect(capsys, tmp_path / "board.json", tmp_path / "tree")
    assert code == 0, err
    assert board is not None
    by_source = {r["source"]: r for r in board.rows}
    assert by_source[str(no_samples)]["pair_outcomes"] is None and by_source[str(no_samples)]["samples_source"] is None
    code, _, err = _cli(["compare", str(tmp_path / "board.json"), "response=A", "response=B"], capsys)
    assert code == 2 and "--log_samples" in err
    # the same folder and second (one results file overwrote the other's): the records digest tells them apart
    clash = copy_run(runs["a"], tmp_path / "clash", stamp=stamp, samples=False)
    other_samples = next((tmp_path / "tree" / "two").glob("*_samples_*.jsonl"))
    shutil.copy(other_samples, clash.parent / other_samples.name)
    assert details_of(json.loads(clash.read_text())).get("records_digest")
    code, err, _ = _collect(capsys, tmp_path / "board.json", clash)
    assert code == 2 and "records digest differs" in err and str(clash) in err


@pytest.mark.e2e
def test_times_are_instants_whatever_zone_they_were_stamped_in(runs: dict[str, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # 12:00 in Singapore (lmms-eval's default zone) is 04:00 UTC; 05:00 with --timezone UTC is an hour later
    singapore = copy_run(runs["a"], tmp_path / "sg", lambda d: d.update(date="20260101_120000"), stamp="20260101_120000")

    def utc(d: dict[str, Any]) -> None:
        d.update(date="20260101_050000")
        d["config"].setdefault("resolved_cli_args", {})["timezone"] = "UTC"
    in_utc = copy_run(runs["a"], tmp_path / "utc", utc, stamp="20260101_050000")
    code, err, board = _collect(capsys, tmp_path / "board.json", singapore, in_utc)
    assert code == 0, err
    assert board is not None
    (row,) = board.rows
    assert row["source"] == str(in_utc) and row["date"] == "2026-01-01T05:00:00Z"
    assert "left out " + str(singapore) + " (2026-01-01T04:00:00Z)" in err
    # an ISO time with an offset (human runs) is an instant too; one without is older than any dated run
    iso = copy_run(runs["a"], tmp_path / "iso", lambda d: d.update(date="2026-01-01T06:30:00+01:00"), stamp="x1")
    naive = copy_run(runs["a"], tmp_path / "naive", lambda d: d.update(date="2030-01-01T00:00:00"), stamp="x2")
    code, err, board = _collect(capsys, tmp_path / "board.json", in_utc, iso, naive)
    assert code == 0 and board is not None
    assert board.rows[0]["source"] == str(iso) and board.rows[0]["date"] == "2026-01-01T05:30:00Z" or \
        board.rows[0]["source"] == str(in_utc)
    assert board.rows[0]["source"] != str(naive) and "has no time zone" in err


@pytest.mark.e2e
def test_judged_and_unjudged_runs_are_different_rows(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    entry = {"model": "gpt-x", "judged": 4, "answered": 3, "none": 1, "unreadable": 0, "failed": 0,
             "unreadable_rate_before": 0.2, "unreadable_rate_after": 0.0}

    def judged(d: dict[str, Any]) -> None:
        details_of(d)["judge"] = dict(entry)
        details_of(d)["judge_prompt_version"] = "1"

    def failed(d: dict[str, Any]) -> None:  # every judge call failed (a 401): the rules alone scored it
        details_of(d)["judge"] = {**entry, "answered": 0, "none": 0, "failed": 4}
        d["date"] = "20991231_235959"
    with_judge = copy_run(runs["a"], tmp_path / "judged", judged)
    all_failed = copy_run(runs["a"], tmp_path / "failed", failed, stamp="20991231_235959")
    code, err, board = _collect(capsys, tmp_path / "board.json", with_judge, all_failed, runs["a"], runs["b"])
    assert code == 0, err
    assert board is not None
    labels = sorted(r["label"] for r in board.rows)
    assert labels == ["dummy (response=A) [judge: gpt-x (prompt 1)]", "dummy (response=A) [no judge]",
                      "dummy (response=B) [no judge]"], labels
    by_label = {r["label"]: r for r in board.rows}
    assert by_label["dummy (response=A) [no judge]"]["source"] == str(all_failed)  # newest unjudged run
    assert by_label["dummy (response=A) [judge: gpt-x (prompt 1)]"]["source"] == str(with_judge)  # kept, not dropped
    assert by_label["dummy (response=A) [judge: gpt-x (prompt 1)]"]["identity"]["judge"] == "gpt-x (prompt 1)"


@pytest.mark.e2e
def test_realistic_runs_sections_identities_and_the_kept_run(runs: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Real lmms-eval runs: one model unjudged, judged (a local chat-completions server) and with a judge that
    answers 401 (made last); always-A again with --timezone UTC (made after the default-zone run, so its UTC stamp
    reads earlier as text); rule_vlm's circular run beside its plain one."""
    from conftest import run_lmms_eval
    from judgeserver import JudgeServer

    unsure = ["--model", "dummy", "--model_args", "response=I cannot tell", "--tasks", "rsmmvp_mini"]
    made: dict[str, Path] = {}

    def run(name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        out = tmp_path / name
        result = run_lmms_eval(args, out, env_extra={"RSMMVP_CACHE": str(tmp_path / f"cache_{name}"), **(env or {})})
        assert result.results is not None, result.output[-3000:]
        made[name] = out

    with JudgeServer() as server:
        judge_env = {"RSMMVP_JUDGE_BASE_URL": server.base_url, "RSMMVP_JUDGE_MODEL": "judge-model",
                     "RSMMVP_JUDGE_API_KEY": "sk-test-0123456789abcdef"}
        run("unjudged", unsure)
        server.default = "A"
        run("judged", unsure, judge_env)
        server.mode, server.status = "error", 401
        run("judge_401", unsure, judge_env)
    run("utc", ["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini", "--timezone", "UTC"])
    plugin = str(runs["rule"].parent / "plugin")
    run("circular", ["--model", "rule_vlm", "--tasks", "rsmmvp_mini_circular"], {"PYTHONPATH": plugin})

    sources = [runs["a"], runs["rule"], *made.values()]
    code, err, board = _collect(capsys, tmp_path / "board.json", *sources)
    assert code == 0, err
    assert board is not None
    assert [(s.task, s.protocol) for s in board.sections] == [("rsmmvp_mini", "plain"),
                                                              ("rsmmvp_mini_circular", "circular")]
    def made_by(row: dict[str, Any]) -> str:
        return next((name for name, out in made.items() if row["source"].startswith(str(out) + "/")), row["label"])
    rows = {made_by(r): r for r in board.rows}
    # judged and unjudged: two rows; the run whose every judge call failed is the newest unjudged one
    assert "judged" in rows and "judge_401" in rows and "unjudged" not in rows
    assert rows["judged"]["identity"]["judge"].startswith("judge-model (prompt ")
    assert rows["judge_401"]["identity"]["judge"] == "off"
    assert "[judge: judge-model" in rows["judged"]["label"] and "judge" not in rows["judge_401"]["label"].replace(
        "[no judge]", "")
    # the --timezone UTC run is the newer instant: kept, although its stamp sorts first as text
    utc_stamp = Path(rows["utc"]["source"]).name[:15]
    (singapore,) = [p.name[:15] for p in runs["a"].rglob("*_results.json")]
    assert utc_stamp < singapore
    assert rows["utc"]["identity"]["model"] == "dummy (response=A)" and rows["utc"]["date"].endswith("Z")
    assert not any(r["source"].startswith(str(runs["a"])) for r in board.rows)
    # circular: position bias with its interval, and the plain - circular gap on both rule_vlm rows
    circular = rows["circular"]
    assert circular["position_bias"] is not None and 0 <= circular["position_bias"]["ci_low"] <= \
        circular["position_bias"]["value"] <= circular["position_bias"]["ci_high"] <= 1
    (plain_rule,) = [r for r in board.rows if r["model"] == "rule_vlm" and r["protocol"] == "plain"]
    assert plain_rule["circular_gap"] is not None and plain_rule["circular_gap"] == circular["circular_gap"]
    # compare: refused across protocols unless asked, and then it says what it compares
    i, j = board.rows.index(plain_rule) + 1, board.rows.index(circular) + 1
    code, _, err = _cli(["compare", str(tmp_path / "board.json"), str(i), str(j)], capsys)
    assert code == 2 and "--across-protocols" in err
    code, out, err = _cli(["compare", str(tmp_path / "board.json"), str(i), str(j), "--across-protocols"], capsys)
    assert code == 0 and "how much its score depends on the protocol" in out, err


def _outcomes(values: list[int]) -> dict[str, int]:
    return {f"p{i}": v for i, v in enumerate(values)}


def test_sections_rank_and_test_apart_and_compare_refuses_across(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    best, worst = _outcomes([1] * 10), _outcomes([0] * 10)
    rows = [
        _row("m1", best, PATTERN_OF), _row("m2", worst, PATTERN_OF),
        _row("m1", _outcomes([1] * 3 + [0] * 7), PATTERN_OF, task="rsmmvp_mini_circular",
             position_bias={"value": 0.2, "ci_low": 0.1, "ci_high": 0.4, "biased": 2, "questions": 10}),
        _row("m2", worst, PATTERN_OF, task="rsmmvp_mini_circular"),
        _row("m1", best, PATTERN_OF, fingerprint="0" * 64),
    ]
    board_path = _hand_board(tmp_path, *rows)
    board = Board.load(board_path)
    assert [len(s.rows) for s in board.sections] == [2, 2, 1]
    assert [s.protocol for s in board.sections] == ["plain", "circular", "plain"]
    from rsmmvp_tasks.sharing.board import pairwise

    items = pairwise(board)
    assert {(board.rows[c["a"]]["section"], c["family"]) for c in items} == {(rows[0]["section"], 1),
                                                                              (rows[2]["section"], 1)}
    # one section's rows only; across protocols refused unless asked, across datasets always
    code, _, err = _cli(["compare", str(board_path), "1", "3"], capsys)
    assert code == 2 and "--across-protocols" in err and "circular" in err
    code, out, err = _cli(["compare", str(board_path), "1", "3", "--across-protocols"], capsys)
    assert code == 0, err
    assert "across protocols: this compares rsmmvp_mini (plain) with rsmmvp_mini_circular (circular)" in out
    assert "difference A - B: +70.0 points" in out
    for flags in ([], ["--across-protocols"]):
        code, _, err = _cli(["compare", str(board_path), "1", "5", *flags], capsys)
        assert code == 2 and "cannot be compared pair by pair" in err and "Traceback" not in err
    files = render_board(board, tmp_path / "site", human=None)
    md = files.markdown.read_text(encoding="utf-8")
    assert md.count("## rsmmvp_mini") == 3 and "position bias [95%]" in md and "20.0% [10.0, 40.0]" in md
    assert "this section's 1 comparisons" in md


@pytest.mark.parametrize("field, value", [("pair_outcomes", {"p0": "yes"}), ("rank", "1"), ("per_pattern", []),
                                          ("identity", {"task": "t"}), ("pair_accuracy", {"value": "high"})])
def test_a_damaged_board_is_an_input_error_naming_row_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                field: str, value: Any) -> None:
    path = _hand_board(tmp_path, _row("m1", _outcomes([1] * 10), PATTERN_OF), _row("m2", _outcomes([0] * 10), PATTERN_OF))
    data = json.loads(path.read_text())
    data["runs"][1][field] = value
    path.write_text(json.dumps(data))
    for args in (["compare", str(path), "1", "2"], ["render", str(path), "--out", str(tmp_path / "site")]):
        code, _, err = _cli(args, capsys)
        assert code == 2 and "row 2" in err and field in err and "Traceback" not in err


def test_position_bias_has_a_wilson_interval() -> None:
    from rsmmvp_tasks.sharing.runs import Run

    def run(circular: Any) -> Run:
        return Run(source="x", task="rsmmvp_mini_circular", model="m", model_args="", date="-", lmms_eval_version=None,
                   limit=None, offset=0, n_samples={}, details={"circular": circular} if circular is not None else {})
    pb = run({"position_biased": 0, "all_readable": 10}).position_bias
    assert pb is not None and pb["value"] == 0.0 and pb["ci_low"] == 0.0 and 0.25 < pb["ci_high"] < 0.3
    pb = run({"position_biased": 9, "all_readable": 9}).position_bias
    assert pb is not None and pb["value"] == 1.0 and pb["ci_high"] == 1.0 and pb["ci_low"] < 1.0
    assert run(None).position_bias is None and run({"position_biased": 0, "all_readable": 0}).position_bias is None
    assert run({"position_biased": "3", "all_readable": 9}).position_bias is None


def test_runs_without_a_fingerprint_are_never_compared_pair_by_pair(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # kept with --allow-partial: their pair ids "p0".."p9" coincide, but nothing says the questions do
    rows = [_row("m1", _outcomes([1] * 10), PATTERN_OF, fingerprint=None, caveats=["records no dataset fingerprint"]),
            _row("m2", _outcomes([0] * 10), PATTERN_OF, fingerprint=None, caveats=["records no dataset fingerprint"])]
    board_path = _hand_board(tmp_path, *rows)
    from rsmmvp_tasks.sharing.board import pairwise

    assert pairwise(Board.load(board_path)) == []
    code, _, err = _cli(["compare", str(board_path), "1", "2", "--across-protocols"], capsys)
    assert code == 2 and "not recorded" in err and "cannot be compared pair by pair" in err


def test_plain_circular_gap_is_set_where_both_runs_exist() -> None:
    from rsmmvp_tasks.sharing.board import _circular_gaps

    rows = [_row("m1", _outcomes([1] * 10), PATTERN_OF), _row("m1", _outcomes([1] * 4 + [0] * 6), PATTERN_OF,
                                                                task="rsmmvp_mini_circular"),
            _row("m2", _outcomes([1] * 10), PATTERN_OF)]
    _circular_gaps(rows)
    assert rows[0]["circular_gap"]["points"] == pytest.approx(60.0) == rows[1]["circular_gap"]["points"]
    assert rows[2]["circular_gap"] is None


def test_pairwise_computes_only_what_is_read(tmp_path: Path) -> None:
    from rsmmvp_tasks.sharing.board import TOP_K, pairwise, read_pairs

    n = 30
    rows = [_row(f"m{k:02d}", _outcomes([1] * (10 - k // 3) + [0] * (k // 3)), PATTERN_OF) for k in range(n)]
    board = Board.load(_hand_board(tmp_path, *rows))
    items = pairwise(board)
    # adjacent ranks (n - 1) and every two of the top k; the adjacent ones among the top k counted once
    expected = TOP_K * (TOP_K - 1) // 2 + (n - TOP_K)
    assert len(items) == expected == len(read_pairs(list(range(n))))
    assert {(c["a"], c["b"]) for c in items} >= {(k, k + 1) for k in range(n - 1)}
    assert all(c["family"] == expected for c in items)


@pytest.mark.e2e
@pytest.mark.parametrize("case, field", [
    ("duplicate", "index"), ("per_pattern_list", "per_pattern"), ("offset_string", "config.offset"),
    ("date_huge", "date"), ("index_text", "index"), ("timezone_bad", "timezone"), ("limit_text", "config.limit"),
    ("n_samples_text", "n-samples"), ("pred_number", "pred"),
])
def test_damaged_fields_are_input_errors_naming_file_and_field(runs: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str], case: str,
                                                              field: str) -> None:
    edits = {
        "per_pattern_list": lambda d: details_of(d).update(per_pattern=[1, 2]),
        "offset_string": lambda d: d["config"].update(offset="3"),
        "date_huge": lambda d: d.update(date=1e20),
        "timezone_bad": lambda d: d["config"].update(resolved_cli_args={"timezone": "Mars/Olympus"}),
        "limit_text": lambda d: d["config"].update(limit="five"),
        "n_samples_text": lambda d: d["n-samples"]["rsmmvp_mini"].update(original="many"),
    }
    copy = copy_run(runs["a"], tmp_path / "run", edits.get(case))
    samples = next(copy.parent.glob("*_samples_*.jsonl"))
    lines = samples.read_text().splitlines()
    bad = samples
    if case == "duplicate":
        samples.write_text("\n".join(lines + [lines[0]]) + "\n")
    elif case in ("index_text", "pred_number"):
        first = json.loads(lines[0])
        first["question_accuracy"].update(index="one") if case == "index_text" else first["question_accuracy"].update(pred=1)
        samples.write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    else:
        bad = copy
    for command in (["leaderboard", "collect", str(copy), "--out", str(tmp_path / "b.json")],
                    ["report", str(copy), "--out", str(tmp_path / "report")]):
        code = main(command)
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert str(bad) in err and field in err and "Traceback" not in err


# ---- submit ---------------------------------------------------------------------------------


def _submit_env(home: Path, endpoint: str | None = None) -> dict[str, str]:
    env = offline_env(home)
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(k)
    env.update(HF_TOKEN=TOKEN, HF_HUB_DISABLE_TELEMETRY="1")
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    return env


def _rsmmvp(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "rsmmvp"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and needle.encode() in f.read_bytes()]


@pytest.mark.e2e
def test_submit_dry_run_and_refusal(runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: a dry run must not call it
    code, out, err = _cli(["submit", str(runs["rule"]), "--repo", "org/rsmmvp-board", "--dry-run"], capsys)
    assert code == 0, err
    results = results_file(runs["rule"])
    (samples,) = results.parent.glob("*_samples_rsmmvp_mini.jsonl")
    assert f"{results} -> rule_vlm/{results.name}" in out and f"{samples} -> rule_vlm/{samples.name}" in out
    assert "pull request to the dataset repo org/rsmmvp-board at http://127.0.0.1:9" in out
    assert "token: found" in out and "dry run: nothing was sent" in out
    assert TOKEN not in out + err
    code, _, err = _cli(["submit", str(runs["limited"]), "--repo", "org/rsmmvp-board", "--dry-run"], capsys)
    assert code == 1 and "made with --limit 5" in err and str(results_file(runs["limited"])) in err
    code, _, err = _cli(["submit", str(runs["rule"]), "--repo", "not a repo"], capsys)
    assert code == 2 and "ORG/NAME" in err


@pytest.mark.e2e
def test_submit_opens_a_pull_request_on_a_local_hub_and_collect_reads_it_back(
        runs: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "hf_home"
    with LocalHub() as hub:
        hub.repos["org/rsmmvp-board"] = Repo()
        env = _submit_env(home, hub.endpoint)
        outputs = []
        for name in ("rule", "a"):
            proc = _rsmmvp(["leaderboard", "submit", str(runs[name]), "--repo", "org/rsmmvp-board"], env, tmp_path)
            assert proc.returncode == 0, proc.stderr[-3000:]
            outputs += [proc.stdout, proc.stderr]
        assert "pull request opened: " + hub.endpoint + "/datasets/org/rsmmvp-board/discussions/1" in outputs[0]
        commits = [r for r in hub.requests if r.method == "POST" and r.path.endswith("/commit/main")]
        assert len(commits) == 2 and all(r.query.get("create_pr") == ["1"] for r in commits)
        assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in commits)  # the token was used ...
        repo = hub.repos["org/rsmmvp-board"]
        results = results_file(runs["rule"])
        from rsmmvp_tasks.sharing.submit import public_bytes  # the files arrived whole, local paths reduced

        assert repo.files[f"rule_vlm/{results.name}"] == public_bytes(results)  # (tests/test_publish_submit.py)
        assert repo.commits[0]["header"]["summary"] == "Add RSMMVP results: rule_vlm on rsmmvp_mini"
        assert len(repo.files) == 4  # two runs, each results JSON + samples JSONL

        # the hub repo, read back as a source of collect
        board = tmp_path / "board.json"
        proc = _rsmmvp(["leaderboard", "collect", "hf:org/rsmmvp-board", "--out", str(board)], env, tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs += [proc.stdout, proc.stderr]
        rows = Board.load(board).rows
        assert [r["label"] for r in rows] == ["rule_vlm", "dummy"]  # short labels: nothing to tell apart
        assert rows[1]["model_args"] == "response=A" and "dummy (response=A)" in rows[1]["identity"]["full_label"]
        assert rows[0]["source"] == f"hf:org/rsmmvp-board/rule_vlm/{results.name}"
        assert rows[0]["pair_outcomes"] is not None

        # no repo: the hub's 404 becomes a one-line error
        proc = _rsmmvp(["leaderboard", "submit", str(runs["b"]), "--repo", "org/missing"], env, tmp_path)
        assert proc.returncode == 3 and "org/missing does not exist" in proc.stderr and "Traceback" not in proc.stderr
        outputs += [proc.stdout, proc.stderr]
    for text in outputs:
        assert TOKEN not in text
    assert not _files_containing(tmp_path, TOKEN)


@pytest.mark.e2e
def test_submit_without_token_and_collect_hub_offline(runs: dict[str, Path], tmp_path: Path) -> None:
    env = _submit_env(tmp_path / "hf_home", "http://127.0.0.1:9")
    env.pop("HF_TOKEN")
    proc = _rsmmvp(["leaderboard", "submit", str(runs["rule"]), "--repo", "org/board"], env, tmp_path)
    assert proc.returncode == 2 and "no Hugging Face token" in proc.stderr
    offline = offline_env(tmp_path / "hf_home")
    proc = _rsmmvp(["leaderboard", "collect", "hf:org/results", "--out", str(tmp_path / "b.json")], offline, tmp_path)
    assert proc.returncode == 3 and "hf:org/results" in proc.stderr and "local hub cache" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "b.json").exists()
