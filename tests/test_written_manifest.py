"""Never over someone else's file (issue 16.B13): written-file manifests with content hashes, and the commands that
write into a folder a user names (leaderboard render --out, human page --out) refusing files they did not write or
that were edited since."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest

from rsmmvp_tasks.cli import main
from rsmmvp_tasks.fileio import (
    WRITTEN_MANIFEST,
    NotOwnedError,
    check_owned,
    guarded_write_text,
    not_owned,
    owned_outputs,
    read_manifest,
)


def test_guarded_write_replaces_its_own_file_only(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.md"
    target.parent.mkdir()
    guarded_write_text(target, "first")
    guarded_write_text(target, "second")  # its own, unchanged since: replaced
    assert target.read_text() == "second"
    assert read_manifest(target.parent)["report.md"] == __import__("hashlib").sha256(b"second").hexdigest()
    target.write_text("second, annotated by hand")
    with pytest.raises(NotOwnedError, match=r"report.md \(changed since rsmmvp wrote it\)"):
        guarded_write_text(target, "third")
    assert target.read_text() == "second, annotated by hand"
    guarded_write_text(target, "third", overwrite=True)
    assert target.read_text() == "third"
    theirs = tmp_path / "out" / "notes.md"
    theirs.write_text("mine")
    with pytest.raises(NotOwnedError, match=r"notes.md \(not written by rsmmvp\)") as err:
        guarded_write_text(theirs, "x")
    assert "--overwrite" in str(err.value) and "\n" not in str(err.value)


def test_owned_outputs_checks_every_target_before_writing_any(tmp_path: Path) -> None:
    out = tmp_path / "site"
    with owned_outputs(out, ["a.txt", "b.txt"]):
        (out / "a.txt").write_text("a")
        (out / "b.txt").write_text("b")
    assert set(read_manifest(out)) == {"a.txt", "b.txt"} and (out / WRITTEN_MANIFEST).is_file()
    (out / "b.txt").write_text("edited")
    with pytest.raises(NotOwnedError):
        with owned_outputs(out, [out / "a.txt", out / "b.txt"]):  # absolute targets inside the folder too
            (out / "a.txt").write_text("NEW")  # never reached
    assert (out / "a.txt").read_text() == "a"
    assert not_owned(out, ["a.txt", "b.txt", "absent.txt"]) == ["b.txt (changed since rsmmvp wrote it)"]
    check_owned(out, ["b.txt"], overwrite=True)  # the way out
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "a.txt").write_text("a")
    (legacy / WRITTEN_MANIFEST).write_text(json.dumps({"files": ["a.txt"]}))  # names only: cannot vouch
    assert not_owned(legacy, ["a.txt"]) == ["a.txt (changed since rsmmvp wrote it)"]


def _board(tmp_path: Path) -> Path:
    from test_leaderboard import (  # hand-made rows, as the leaderboard tests make them
        PATTERN_OF,
        _hand_board,
        _row,
    )

    return _hand_board(tmp_path, _row("m2", {f"p{i}": 1 for i in range(10)}, PATTERN_OF),
                       _row("m1", {f"p{i}": i % 2 for i in range(10)}, PATTERN_OF))


def test_render_out_refuses_an_edited_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = _board(tmp_path)
    site = tmp_path / "site"
    assert main(["leaderboard", "render", str(board), "--out", str(site)]) == 0
    assert main(["leaderboard", "render", str(board), "--out", str(site)]) == 0  # its own files: replaced
    (site / "leaderboard.md").write_text("# Our board, with a paragraph written by hand\n")
    capsys.readouterr()
    assert main(["leaderboard", "render", str(board), "--out", str(site)]) == 2
    err = capsys.readouterr().err
    assert "leaderboard.md (changed since rsmmvp wrote it)" in err and "--overwrite" in err
    assert (site / "leaderboard.md").read_text().startswith("# Our board")
    assert main(["leaderboard", "render", str(board), "--out", str(site), "--overwrite"]) == 0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "index.html").write_text("<p>someone's site</p>")
    assert main(["leaderboard", "render", str(board), "--out", str(tmp_path / "other")]) == 2
    assert "index.html (not written by rsmmvp)" in capsys.readouterr().err
    assert (tmp_path / "other" / "index.html").read_text() == "<p>someone's site</p>"


def test_human_page_out_refuses_an_index_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rsmmvp_tasks.paths import mini_dataset_dir

    mini = str(mini_dataset_dir() / "rsmmvp_mini.parquet")
    out = tmp_path / "page"
    out.mkdir()
    (out / "index.html").write_text("<h1>the lab's home page</h1>")
    assert main(["human", "page", mini, "--out", str(out), "--max-side", "64"]) == 2
    assert "index.html (not written by rsmmvp)" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "<h1>the lab's home page</h1>" and len(list(out.iterdir())) == 1
    assert main(["human", "page", mini, "--out", str(out), "--max-side", "64", "--overwrite"]) == 0
    assert main(["human", "page", mini, "--out", str(out), "--max-side", "64"]) == 0  # its own page now


@pytest.mark.e2e
def test_report_out_refuses_an_annotated_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lmms_runs import make_runs

    run = make_runs(tmp_path / "runs", ("a",))["a"]
    out = tmp_path / "report"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert main(["report", str(run), "--out", str(out)]) == 0  # its own files: replaced
    assert {"report.md", "report.html", "per_pattern.csv", "per_pattern.png"} <= set(read_manifest(out))
    (out / "report.md").write_text((out / "report.md").read_text() + "\nReviewed by Ana: the model is blind here.\n")
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(out)]) == 2
    assert "report.md (changed since rsmmvp wrote it)" in capsys.readouterr().err
    assert "Reviewed by Ana" in (out / "report.md").read_text()
    assert main(["report", str(run), "--out", str(out), "--overwrite"]) == 0
    assert "Reviewed by Ana" not in (out / "report.md").read_text()


def test_human_score_out_refuses_an_edited_agreement(tmp_path: Path) -> None:
    from datetime import datetime

    from test_human import MINI, export, write

    from rsmmvp_tasks.human.page import write_human_page
    from rsmmvp_tasks.human.scoring import load_human_dataset, score_annotators

    page = write_human_page(MINI, tmp_path / "page", max_side=32)
    mini = load_human_dataset(MINI)
    files = [write(tmp_path / f"{n}.json", export(page, mini, lambda r: r["answer"], n)) for n in ("ann", "bo", "cy")]
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    score_annotators(files, MINI, tmp_path / "out", keys=[page.key], now=when)
    score_annotators(files, MINI, tmp_path / "out", keys=[page.key], now=when)  # its own files: replaced
    agreement = tmp_path / "out" / "human" / "agreement.json"
    agreement.write_text('{"note": "kept by hand"}')
    with pytest.raises(NotOwnedError, match=r"agreement.json \(changed since rsmmvp wrote it\)"):
        score_annotators(files, MINI, tmp_path / "out", keys=[page.key])
    assert agreement.read_text() == '{"note": "kept by hand"}'
    score_annotators(files, MINI, tmp_path / "out", keys=[page.key], overwrite=True)
    assert "kept by hand" not in agreement.read_text()
