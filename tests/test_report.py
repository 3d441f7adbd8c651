"""``rsmmvp report``: one real lmms-eval run as markdown, CSV, chart and HTML; runs it cannot read are refused.

The runs are real ``lmms-eval`` runs on ``rsmmvp_mini`` made once for this module (see ``lmms_runs``);
the expected numbers are computed from the dataset and the model's rule, not read from the runs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from lmms_runs import copy_run, details_of, expected_pairs, make_runs, mini_rows, results_file
from PIL import Image

from rsmmvp_tasks.cli import main
from rsmmvp_tasks import PATTERNS

pytestmark = pytest.mark.e2e  # the module's runs come from lmms-eval in a subprocess


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_runs(tmp_path_factory.mktemp("report_runs"), ("rule", "limited"))


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
    listed = set(re.findall(r"^\| (\S+) \| [^|]*\S[^|]* \| \d+ \|", wrong, flags=re.MULTILINE))
    assert listed == {pid for pid, ok in right.items() if not ok}
    assert "I cannot tell from this image." in wrong  # the raw reply of an unreadable answer is shown
    assert "| unreadable |" in wrong
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
