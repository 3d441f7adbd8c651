"""The validator names every planted defect with its row, alone or all at once; the CLI exits non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from rawfixture import DEFECTS, PLANTED, make_raw_layout

from rsmmvp_tasks.cli import main
from rsmmvp_tasks.dataset.raw import read_raw
from rsmmvp_tasks.dataset.validate import CODES, validate_dataset


def _found(report) -> set[tuple[int | None, str]]:
    return {(v.row, v.code) for v in report.violations}


def test_clean_layout_has_no_violation(tmp_path: Path) -> None:
    report = validate_dataset(read_raw(make_raw_layout(tmp_path)))
    assert report.ok, report.format()
    assert (report.n_rows, report.n_pairs) == (10, 5)


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_alone_is_named_at_its_row(tmp_path: Path, defect: str) -> None:
    report = validate_dataset(read_raw(make_raw_layout(tmp_path, defects={defect})))
    assert PLANTED[defect] in _found(report), report.format()
    assert PLANTED[defect][1] in report.format()


def test_all_defects_at_once_are_all_listed(tmp_path: Path) -> None:
    report = validate_dataset(read_raw(make_raw_layout(tmp_path, defects=DEFECTS)))
    assert set(PLANTED.values()) <= _found(report), report.format()
    assert {code for _, code in PLANTED.values()} | {"missing_column", "options_mismatch"} == set(CODES)


def test_dataset_input_and_missing_column(tmp_path: Path) -> None:
    from rsmmvp_tasks.dataset.build import rows_to_dataset

    ds = rows_to_dataset(read_raw(make_raw_layout(tmp_path)))
    assert validate_dataset(ds).ok
    broken = ds.remove_columns("pattern")
    report = validate_dataset(broken)
    assert "missing_column" in report.codes() and "'pattern'" in report.format()


def test_validator_never_changes_the_data(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path, defects={"same_answer"}))
    before = [dict(r) for r in rows]
    validate_dataset(rows)
    assert rows == before


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(make_raw_layout(tmp_path / "clean"))]) == 0
    assert "no violation" in capsys.readouterr().out
    assert main(["validate", str(make_raw_layout(tmp_path / "bad", defects=DEFECTS))]) == 1
    out = capsys.readouterr().out
    for _, code in PLANTED.values():
        assert f"[{code}]" in out


def test_cli_on_the_shipped_sample(capsys: pytest.CaptureFixture[str]) -> None:
    from rsmmvp_tasks.paths import mini_dataset_dir

    assert main(["validate", str(mini_dataset_dir() / "rsmmvp_mini.parquet")]) == 0
    assert "no violation" in capsys.readouterr().out


def test_image_variants(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path))
    img_path = rows[0]["image"]
    as_bytes = [{**r, "image": Path(r["image"]).read_bytes()} for r in rows]
    assert validate_dataset(as_bytes).ok
    as_dict = [{**r, "image": {"bytes": None, "path": img_path + ".gone"}} for r in rows]
    assert validate_dataset(as_dict).codes() == {"image_missing"}


def test_options_mismatch_and_violation_fields(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path))
    rows[3]["options"] = ["No", "Yes"]
    report = validate_dataset(rows, check_images=False)
    (violation,) = report.violations
    assert (violation.row, violation.index, violation.pair_id, violation.code) == (2, 3, "1", "options_mismatch")
    assert report.format().splitlines()[1].startswith("[options_mismatch] row 2, index 3, pair 1: rows [2, 3]")


def test_pair_size_option(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path), pair_size=2)
    report = validate_dataset(rows, pair_size=3, check_images=False)
    assert report.codes() == {"pair_size"} and len(report.violations) == 5


def test_cli_unreadable_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "readme.txt").write_text("no table here")
    assert main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "readme.txt" in err and "Correct Answer" in err
    assert main(["validate", "nobody-here/not-cached"]) == 2
    assert "not in the local hub cache" in capsys.readouterr().err


def test_cli_no_images_skips_decoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = make_raw_layout(tmp_path, defects={"image_unreadable"})
    assert main(["validate", str(layout)]) == 1
    assert "[image_unreadable] row 6, index 7, pair 3" in capsys.readouterr().out
    assert main(["validate", str(layout), "--no-images"]) == 0
