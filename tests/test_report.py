"""``rsmmvp report``: one real lmms-eval run as markdown, CSV, chart and HTML; runs it cannot read are refused.

The runs are real ``lmms-eval`` runs on ``rsmmvp_mini`` made once for this module (see ``lmms_runs``),
plus a circular run of ``dummy`` (always "A"); the expected numbers, option texts and images are
taken from the dataset and the model's rule, not read from the runs.
"""

from __future__ import annotations

import base64
import csv
import html as htmlmod
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import datasets
import pytest
from conftest import run_lmms_eval
from lmms_runs import (
    copy_run,
    details_of,
    expected_pairs,
    make_runs,
    mini_rows,
    results_file,
)
from PIL import Image, ImageStat

from rsmmvp_tasks import PATTERNS
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.paths import mini_dataset_dir
from rsmmvp_tasks.sharing.formatting import md_escape
from rsmmvp_tasks.sharing.pairview import THUMB_SIDE, short_reply
from rsmmvp_tasks.sharing.plots import HUMAN, HUMAN_AUTO, human_reference
from rsmmvp_tasks.sharing.stats import wilson_interval

pytestmark = pytest.mark.e2e  # the module's runs come from lmms-eval in a subprocess


CIRCULAR = ["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini_circular"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("report_runs")
    made = make_runs(base, ("rule", "limited"))
    circular = run_lmms_eval(CIRCULAR, base / "circular")
    assert circular.results is not None, circular.output[-4000:]
    made["circular"] = base / "circular"
    return made


def _mini_by_index() -> dict[int, dict[str, Any]]:
    data = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    return {int(r["index"]): r for r in data}


def _pair_sections(md: str) -> dict[str, str]:
    """``{pair_id: its section}`` of the wrong pairs in report.md."""
    parts = re.split(r"^#### Pair ", md, flags=re.MULTILINE)[1:]
    return {p.split(":")[0].split()[0]: p.split("\n### ")[0].split("\n## ")[0] for p in parts}


def _thumbs(page: str) -> dict[int, Image.Image]:
    found = re.findall(r'<img data-index="(\d+)" alt="[^"]*" src="data:image/jpeg;base64,([^"]+)">', page)
    return {int(i): Image.open(io.BytesIO(base64.b64decode(b))) for i, b in found}


def _report(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _section(md: str, title: str) -> str:
    start = md.index(f"## {title}")
    end = md.find("\n## ", start + 1)
    return md[start:] if end < 0 else md[start:end]


def _pattern_of_pairs() -> dict[str, str]:
    return {str(r["pair_id"]): str(r["pattern"]) for r in mini_rows()}


def test_report_of_a_real_run_matches_the_dataset(runs: dict[str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    code, stdout, err = _report([str(runs["rule"]), "--out", str(out)], capsys)
    assert code == 0, err
    right = expected_pairs(None)  # the rule plugin's pairs, from the dataset
    patterns = _pattern_of_pairs()
    assert 0 < sum(right.values()) < len(right)  # some pairs right, some wrong: every section has content
    pair_acc = sum(right.values()) / len(right)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# RSMMVP report: rule_vlm on rsmmvp_mini")
    assert f"| pair accuracy (headline) | {100 * pair_acc:.1f}% |" in md
    assert f"| pairs / questions | {len(right)} / {2 * len(right)} |" in md
    assert "Warning" not in md  # a whole-dataset run
    fingerprint = details_of(json.loads(results_file(runs["rule"]).read_text()))["dataset_fingerprint"]
    assert f"| dataset fingerprint | {fingerprint} |" in md

    # per-pattern CSV: one row per pattern present, counts and accuracies as the dataset says
    rows = list(csv.DictReader(io.StringIO((out / "per_pattern.csv").read_text(encoding="utf-8"))))
    by_pattern: dict[str, list[bool]] = {}
    for pid, ok in right.items():
        by_pattern.setdefault(patterns[pid], []).append(ok)
    assert [r["pattern"] for r in rows] == [p for p in PATTERNS if p in by_pattern]
    for r in rows:
        outcomes = by_pattern[r["pattern"]]
        assert int(r["pairs"]) == len(outcomes)
        assert float(r["pair_accuracy"]) == pytest.approx(sum(outcomes) / len(outcomes))
        assert int(r["wrong_pairs"]) == outcomes.count(False)
        assert float(r["ci_low"]) <= float(r["pair_accuracy"]) <= float(r["ci_high"])

    # the wrong pairs, listed per pattern, are exactly the pairs the rule gets wrong
    wrong = _section(md, "Pairs the model got wrong")
    listed = set(_pair_sections(wrong))
    assert listed == {pid for pid, ok in right.items() if not ok}
    assert "I cannot tell from this image." in wrong  # the raw reply of an unreadable answer is shown
    assert "no choice read" in wrong
    for pattern in {patterns[p] for p in listed}:
        n_wrong = by_pattern[pattern].count(False)
        assert f"### {PATTERNS[pattern]} ({n_wrong} of {len(by_pattern[pattern])} pairs wrong)" in wrong

    png = Image.open(out / "per_pattern.png")
    assert png.format == "PNG" and png.size[0] > 400
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "<table" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # nothing fetched from the network
    assert str(out / "report.md") in stdout


def test_default_folder_and_no_human_line(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    results = results_file(runs["rule"])
    code, stdout, _ = _report([str(results), "--no-human"], capsys)
    assert code == 0
    out = results.parent / f"{results.name.removesuffix('_results.json')}_report_rsmmvp_mini"
    assert (out / "report.html").is_file() and str(out / "report.md") in stdout
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "human 91.7%" not in md and "chance 25%" in md
    shutil.rmtree(out)  # the folder is shared with the other tests of this module


def test_limited_run_is_reported_with_a_warning(runs: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _report([str(runs["limited"]), "--out", str(tmp_path)], capsys)
    assert code == 0
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "> **Warning:** made with --limit 5 (5 of 18 questions evaluated)" in md
    assert "incomplete pair(s) left out of pair accuracy" in md
    assert "warning:" in stdout and "--limit 5" in stdout
    assert "Warning:" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_run_without_samples_has_no_wrong_pair_list(runs: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    only = tmp_path / "run"
    only.mkdir()
    shutil.copy(results_file(runs["rule"]), only)
    code, _, _ = _report([str(only), "--out", str(tmp_path / "report")], capsys)
    assert code == 0
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "Pairs the model got wrong" not in md and "run lmms-eval with --log_samples" in md
    header = (tmp_path / "report" / "per_pattern.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "pattern,description,pairs,pair_accuracy,ci_low,ci_high"


def test_unreadable_runs_are_refused_naming_the_file(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # a metric missing from the details
    missing = copy_run(runs["rule"], tmp_path / "missing", lambda d: details_of(d)["pair_accuracy"].pop("ci_low"))
    code, _, err = _report([str(missing), "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and str(missing) in err and "pair_accuracy.ci_low" in err and "Traceback" not in err
    # no details at all (a results file of an older rsmmvp, or edited)
    def drop(d: dict[str, Any]) -> None:
        task = d["results"]["rsmmvp_mini"]
        for k in [k for k in task if k.startswith("rsmmvp_details")]:
            del task[k]
    old = copy_run(runs["rule"], tmp_path / "old", drop)
    code, _, err = _report([str(old)], capsys)
    assert code == 2 and str(old) in err and "rsmmvp_details" in err
    # samples of another run beside the results
    mixed = copy_run(runs["rule"], tmp_path / "mixed")
    (samples,) = mixed.parent.glob("*_samples_rsmmvp_mini.jsonl")
    (limited_samples,) = runs["limited"].rglob("*_samples_rsmmvp_mini.jsonl")
    shutil.copy(limited_samples, samples)
    code, _, err = _report([str(mixed)], capsys)
    assert code == 2 and "does not belong to this run" in err
    # a task that is not in the run, two runs in one folder, no run at all
    code, _, err = _report([str(runs["rule"]), "--task", "rsmmvp"], capsys)
    assert code == 2 and "no task 'rsmmvp'" in err
    code, _, err = _report([str(tmp_path)], capsys)
    assert code == 2 and "results files here" in err
    code, _, err = _report([str(tmp_path / "nothing")], capsys)
    assert code == 2 and "no such file or folder" in err


def test_wrong_pairs_show_both_images_option_texts_and_answers(runs: dict[str, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _report([str(runs["rule"]), "--out", str(tmp_path)], capsys)
    assert code == 0, err
    rows = _mini_by_index()
    wrong = {pid for pid, ok in expected_pairs(None).items() if not ok}
    wrong_rows = {i for i, r in rows.items() if str(r["pair_id"]) in wrong}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")

    # every image of every wrong pair, as a small JPEG of that very image (its mean colour, not another's)
    thumbs = _thumbs(page)
    assert set(thumbs) == wrong_rows
    for index, thumb in thumbs.items():
        assert thumb.format == "JPEG" and max(thumb.size) <= THUMB_SIDE
        source = rows[index]["image"].convert("RGB").resize(thumb.size)
        mine = ImageStat.Stat(thumb.convert("RGB")).mean
        assert max(abs(a - b) for a, b in zip(mine, ImageStat.Stat(source).mean, strict=False)) < 8
        others = [rows[i]["image"] for i in rows if i != index and str(rows[i]["pair_id"]) == str(rows[index]["pair_id"])]
        assert all(ImageStat.Stat(o.convert("RGB").resize(thumb.size)).mean != mine for o in others)
        assert (tmp_path / "images" / f"{index}.jpg").is_file() and f"](images/{index}.jpg)" in md

    # per pair: the question, every option as text, the right answer as letter and text, the reply
    sections = _pair_sections(_section(md, "Pairs the model got wrong"))
    for pid in wrong:
        section = sections[pid]
        pair_rows = [r for r in rows.values() if str(r["pair_id"]) == pid]
        assert md_escape(pair_rows[0]["question"].strip()) in section
        for r in pair_rows:
            for letter, option in zip("ABCDEFGH", r["options"], strict=False):
                assert f"{letter}. {md_escape(option)}" in section
            right = r["options"]["ABCDEFGH".index(r["answer"])]
            assert f"{r['answer']} ({md_escape(right)})" in section
            assert htmlmod.escape(right) in page


def test_human_line_only_on_the_full_task_by_default(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert human_reference("rsmmvp", HUMAN_AUTO) == HUMAN and human_reference("rsmmvp_circular") == HUMAN
    assert human_reference("rsmmvp_mini", HUMAN_AUTO) is None and human_reference("my_own_task") is None
    assert human_reference("rsmmvp_mini", 80.0) == 80.0 and human_reference("rsmmvp", None) is None
    # the shipped sample: no human line unless asked for
    code, _, _ = _report([str(runs["rule"]), "--out", str(tmp_path / "mini")], capsys)
    assert code == 0 and "Reference pair accuracy: chance 25%" in (tmp_path / "mini" / "report.md").read_text(encoding="utf-8")
    code, _, _ = _report([str(runs["rule"]), "--out", str(tmp_path / "set"), "--human", "80"], capsys)
    assert code == 0 and "Reference pair accuracy: human 80% (--human), chance 25%" in \
        (tmp_path / "set" / "report.md").read_text(encoding="utf-8")

    # the same run as the full `rsmmvp` task: the paper's line by default
    def as_full_task(d: dict[str, Any]) -> None:
        for key in ("results", "configs", "n-samples", "versions", "n-shot", "higher_is_better"):
            if isinstance(d.get(key), dict) and "rsmmvp_mini" in d[key]:
                d[key]["rsmmvp"] = d[key].pop("rsmmvp_mini")
    full = copy_run(runs["rule"], tmp_path / "full", as_full_task, samples=False)
    code, _, err = _report([str(full), "--out", str(tmp_path / "full_report")], capsys)
    assert code == 0, err
    assert f"human {HUMAN:g}% (RSMMVP paper)" in (tmp_path / "full_report" / "report.md").read_text(encoding="utf-8")


def test_circular_run_shows_position_bias_and_each_orders_choice(runs: dict[str, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _report([str(runs["circular"]), "--out", str(tmp_path)], capsys)
    assert code == 0, err
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    rows = _mini_by_index()
    low, high = wilson_interval(len(rows), len(rows))  # always "A": every question keeps its letter
    assert f"| position bias (same letter in every order) | 100.0% | [{100 * low:.1f}, {100 * high:.1f}] |" in md
    assert "rsmmvp_mini_circular (circular)" in md
    sections = _pair_sections(_section(md, "Pairs the model got wrong"))
    assert set(sections) == {str(r["pair_id"]) for r in rows.values()}  # "A" in both orders: every pair wrong
    for pid, section in sections.items():
        r = next(r for r in rows.values() if str(r["pair_id"]) == pid)
        first, second = (md_escape(o) for o in r["options"])
        assert section.split("\n")[0].strip().endswith(md_escape(r["question"].strip()))  # the question is shown
        # order 1 shows the options as they are, order 2 moved; "A" names a different option in each
        assert f"| order 1 (A. {first} · B. {second}): chose | A = {first} " in section
        assert f"| order 2 (A. {second} · B. {first}): chose | A = {second} " in section
        assert "A/B" not in section


def test_markup_in_names_args_and_replies_is_shown_never_rendered(runs: dict[str, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    attack = "<img src=x onerror=alert(1)>"
    link = "[click](javascript:alert(1))"

    def hostile_args(d: dict[str, Any]) -> None:
        d["config"]["model_args"] = f"note={attack}"

    run = copy_run(runs["rule"], tmp_path / "run", hostile_args)
    (samples,) = run.parent.glob("*_samples_rsmmvp_mini.jsonl")
    lines = [json.loads(x) for x in samples.read_text(encoding="utf-8").splitlines() if x.strip()]
    for line in lines:  # the replies say the same letter, wrapped in markup
        line["filtered_resps"] = [f"{attack} {link} | <script>alert(2)</script> {line['filtered_resps'][0]}"]
    samples.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    code, _, err = _report([str(run), "--out", str(tmp_path / "report")], capsys)
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    for text in (md, page):
        assert "<img src=x" not in text and "<script>" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "\\[click\\](javascript:" in md and not re.search(r"(?<!\\)\[click(?<!\\)\]", md)  # no link


def test_report_without_the_dataset_says_so_and_still_shows_the_text(runs: dict[str, Path], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def elsewhere(d: dict[str, Any]) -> None:
        d["configs"]["rsmmvp_mini"]["dataset_kwargs"]["data_files"] = {"test": "/nowhere/other_data.parquet"}

    run = copy_run(runs["rule"], tmp_path / "run", elsewhere)
    code, _, err = _report([str(run), "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    md = (tmp_path / "a" / "report.md").read_text(encoding="utf-8")
    assert "Images not shown: /nowhere/other_data.parquet is not on this machine" in md
    assert "Pass --dataset PATH" in md and "](images/" not in md
    assert "<img data-index" not in (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    rows = _mini_by_index()
    wrong = [r for r in rows.values() if not expected_pairs(None)[str(r["pair_id"])]]
    for r in wrong:  # question and options read back from the logged prompt
        assert md_escape(r["question"].strip()) in md and f"A. {md_escape(r['options'][0])}" in md

    # --dataset brings the images back; another dataset is refused by fingerprint
    code, _, err = _report([str(run), "--out", str(tmp_path / "b"), "--dataset",
                            str(mini_dataset_dir() / "rsmmvp_mini.parquet")], capsys)
    assert code == 0, err
    assert set(_thumbs((tmp_path / "b" / "report.html").read_text(encoding="utf-8"))) == {int(r["index"]) for r in wrong}
    other = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    other = other.map(lambda r: {"question": r["question"] + " (edited)"})
    other.to_parquet(str(tmp_path / "other.parquet"))
    code, _, err = _report([str(run), "--out", str(tmp_path / "c"), "--dataset", str(tmp_path / "other.parquet")], capsys)
    assert code == 2 and "not the dataset this run evaluated" in err and "Traceback" not in err


def test_short_reply_keeps_head_and_tail() -> None:
    assert short_reply("A") == ("A",)
    assert short_reply("line one\n\n  line   two ") == ("line one", "line two")
    long = "\n".join(f"step {i}: looking at the image" for i in range(20)) + "\nAnswer: B"
    cut = short_reply(long)
    assert len(cut) <= 5 and cut[0].startswith("step 0") and cut[-1] == "Answer: B" and "…" in cut


@pytest.mark.browser
def test_report_page_reads_at_1280_px(runs: dict[str, Path], tmp_path: Path, browser: Any,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _report([str(runs["rule"]), "--out", str(tmp_path)], capsys)
    assert code == 0
    browser.set_window_size(1280, 1000)
    browser.get((tmp_path / "report.html").resolve().as_uri())
    assert browser.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shown = browser.execute_script(
        "return [...document.querySelectorAll('img[data-index]')].map(i => [i.complete && i.naturalWidth > 0, "
        "i.getBoundingClientRect().width])")
    assert shown and all(ok and width >= 100 for ok, width in shown)
    overflow = browser.execute_script(
        "return [...document.querySelectorAll('td, th')].filter(c => c.scrollWidth > c.clientWidth + 1).length")
    assert overflow == 0


def test_report_says_whether_and_how_the_run_was_judged(runs: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _report([str(runs["rule"]), "--out", str(tmp_path / "plain")], capsys)
    assert code == 0
    assert "| judge | off (answers read by the rules only) |" in (tmp_path / "plain" / "report.md").read_text(encoding="utf-8")

    def judged(failed: int) -> Any:
        def edit(d: dict[str, Any]) -> None:
            answered = 18 - failed
            details_of(d)["judge"] = {"model": "gpt-x", "prompt_version": "1", "judged": 18, "answered": answered,
                                      "none": 0, "unreadable": 0, "failed": failed,
                                      "unreadable_rate_before": 0.1111, "unreadable_rate_after": 0.1111}
        return edit

    for name, failed, expected in (
        ("judged", 0, ("| judge | gpt-x (prompt 1): 18 replies sent, 0 calls failed; unreadable 11.1% by the "
                       "rules, 11.1% after the judge |")),
        ("all_failed", 18, ("| judge | off: every judge call failed (18 replies sent, 18 calls failed); answers "
                            "read by the rules only |")),
    ):
        run = copy_run(runs["rule"], tmp_path / name, judged(failed), samples=False)
        code, _, err = _report([str(run), "--out", str(tmp_path / f"{name}_report")], capsys)
        assert code == 0, err
        md = (tmp_path / f"{name}_report" / "report.md").read_text(encoding="utf-8")
        assert expected in md, md[:3000]


def test_a_circular_runs_pairs_keep_their_question(runs: dict[str, Path]) -> None:
    """The leaderboard's and report's reading of a circular run (``Run.pairs``) keeps each pair's question."""
    from rsmmvp_tasks.sharing.runs import load_single_run

    run = load_single_run(runs["circular"])
    rows = _mini_by_index()
    assert run.pairs
    for pair in run.pairs.values():
        first = next(r for r in rows.values() if str(r["pair_id"]) == pair.pair_id)
        assert pair.question == first["question"].strip()
