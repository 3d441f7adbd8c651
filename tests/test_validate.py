"""The validator names every planted defect with its row, alone or all at once; the CLI exits non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from rawfixture import DEFECTS, PLANTED, make_raw_layout, model_blind_images

from rsmmvp_tasks import read_raw
from rsmmvp_tasks.cli import main
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
    # codes not planted by the fixture have tests of their own below
    assert {code for _, code in PLANTED.values()} | {
        "missing_column",
        "options_mismatch",
        "options_not_list",
        "image_degenerate",
        "same_image",
        "duplicate_options",
        "card_sources",  # card checks: tests/test_publish.py
        "source_unlicensed",
    } == set(CODES)


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
    assert main(["validate", "nobody-here/not-cached"]) == 3  # the hub cannot be reached (offline tests)
    assert "not in the local hub cache" in capsys.readouterr().err


def test_cli_no_images_skips_decoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = make_raw_layout(tmp_path, defects={"image_unreadable"})
    assert main(["validate", str(layout)]) == 1
    assert "[image_unreadable] row 6, index 7, pair 3" in capsys.readouterr().out
    assert main(["validate", str(layout), "--no-images"]) == 0


# --- issue 9: what the model would see, the same image twice, options as a string, truncation ---


@pytest.mark.parametrize("kind, mode", [("12bit_in_16bit", "I;16"), ("float_reflectance", "mode F"),
                                         ("4band_uint16", "4 band(s) of 16 bits")])
def test_images_the_model_sees_as_near_constant_are_violations(tmp_path: Path, kind: str, mode: str) -> None:
    rows = read_raw(make_raw_layout(tmp_path))
    rows[2]["image"] = model_blind_images()[kind]
    report = validate_dataset(rows)
    (violation,) = report.violations
    assert (violation.row, violation.code) == (2, "image_degenerate")
    assert mode in violation.message and "scale the data to 8-bit RGB" in violation.message


def test_a_real_dark_image_with_detail_is_not_degenerate(tmp_path: Path) -> None:
    import io

    import numpy as np
    from PIL import Image

    rows = read_raw(make_raw_layout(tmp_path))
    dark = (np.random.default_rng(1).random((40, 40, 3)) * 40).astype(np.uint8)  # dim, but 40 levels of detail
    buf = io.BytesIO()
    Image.fromarray(dark).save(buf, format="PNG")
    rows[2]["image"] = buf.getvalue()
    assert validate_dataset(rows).ok


def test_both_rows_of_a_pair_with_the_same_image(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path))
    rows[3]["image"] = Path(rows[2]["image"]).read_bytes()  # same bytes, another form (bytes vs path)
    report = validate_dataset(rows)
    (violation,) = report.violations
    assert (violation.row, violation.code, violation.pair_id) == (2, "same_image", "1")
    assert "[2, 3] show the same picture" in violation.message
    assert validate_dataset(rows, check_images=False).ok  # image checks off: not looked at


def test_options_stored_as_a_string_are_refused(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path))
    for row in rows[:2]:
        row["options"] = "(a) Yes (b) No"  # a string: the prompt would list 14 one-character options
    report = validate_dataset(rows, check_images=False)
    assert {(v.row, v.code) for v in report.violations} == {(0, "options_not_list"), (1, "options_not_list")}
    assert "not a list" in report.format()


def test_truncated_image_is_unreadable_even_with_lmms_evals_global_flag(tmp_path: Path) -> None:
    import io

    import numpy as np
    from PIL import Image, ImageFile

    rows = read_raw(make_raw_layout(tmp_path))
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(2).random((64, 64, 3)) * 255).astype(np.uint8)).save(buf, format="JPEG")
    whole = buf.getvalue()
    Path(rows[2]["image"]).write_bytes(whole[: len(whole) * 2 // 3])  # PIL pads this silently when the flag is on
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # what `import lmms_eval.api.task` does process-wide
    try:
        report = validate_dataset(rows)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the process setting is left as it was
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before
    assert {(v.row, v.code) for v in report.violations} == {(2, "image_unreadable")}
    assert "truncated" in report.format().lower()


def test_pair_size_below_one_is_a_usage_error(tmp_path: Path) -> None:
    from rsmmvp_tasks.errors import UsageError

    rows = read_raw(make_raw_layout(tmp_path))
    with pytest.raises(UsageError, match="at least 1"):
        validate_dataset(rows, pair_size=0)


def _encodings_of_one_picture(path: Path) -> list[bytes]:
    """The picture at ``path`` encoded four ways: PNG at two compression levels, lossless WebP, PNG with text."""
    import io

    from PIL import Image, PngImagePlugin

    picture = Image.open(path).convert("RGB")
    out = []
    for fmt, kwargs in (
        ("PNG", {"compress_level": 0}),
        ("PNG", {"compress_level": 9}),
        ("WEBP", {"lossless": True}),
        ("PNG", {"pnginfo": PngImagePlugin.PngInfo()}),
    ):
        if "pnginfo" in kwargs:
            kwargs["pnginfo"].add_text("Comment", "saved again")
        buf = io.BytesIO()
        picture.save(buf, format=fmt, **kwargs)
        out.append(buf.getvalue())
    assert len(set(out)) == len(out)  # four different files
    return out


@pytest.mark.parametrize("second", [1, 2, 3])
def test_one_picture_encoded_twice_is_the_same_image(tmp_path: Path, second: int) -> None:
    rows = read_raw(make_raw_layout(tmp_path))
    encodings = _encodings_of_one_picture(Path(rows[2]["image"]))
    rows[2]["image"], rows[3]["image"] = encodings[0], encodings[second]
    report = validate_dataset(rows)
    assert [(v.row, v.code) for v in report.violations] == [(2, "same_image")], report.format()


def test_one_pixel_apart_is_not_the_same_image(tmp_path: Path) -> None:
    import io

    from PIL import Image

    rows = read_raw(make_raw_layout(tmp_path))
    picture = Image.open(rows[2]["image"]).convert("RGB")
    other = picture.copy()
    r, g, b = other.getpixel((0, 0))
    other.putpixel((0, 0), ((r + 1) % 256, g, b))
    for k, im in ((2, picture), (3, other)):
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        rows[k]["image"] = buf.getvalue()
    assert validate_dataset(rows).ok


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (["Yes", "Yes"], "duplicate_options"),
        (["Yes", " yes "], "duplicate_options"),
        (["North  south", "north south"], "duplicate_options"),
        (["Yes", "No", ""], "empty_options"),
        (["Yes", "No", "   "], "empty_options"),
        (["Yes", ""], "empty_options"),
    ],
)
def test_duplicate_or_empty_options_are_refused(tmp_path: Path, options: list[str], code: str) -> None:
    rows = read_raw(make_raw_layout(tmp_path))
    for row in rows[:2]:
        row["options"] = list(options)
    report = validate_dataset(rows, check_images=False)
    assert {(v.row, v.code) for v in report.violations} == {(0, code), (1, code)}, report.format()


def test_parsed_trailing_empty_option_is_refused_by_validate_and_process_docs(tmp_path: Path) -> None:
    from rsmmvp_tasks.dataset.build import rows_to_dataset
    from rsmmvp_tasks.dataset.raw import parse_options
    from rsmmvp_tasks.errors import DataViolationError
    from rsmmvp_tasks.evaluation import circular, task

    rows = read_raw(make_raw_layout(tmp_path))
    for row in rows[:2]:
        row["options"] = parse_options("(a) Yes (b) No (c)")
    assert "empty_options" in validate_dataset(rows, check_images=False).codes()
    ds = rows_to_dataset(rows)
    for process_docs in (task.process_docs, circular.process_docs):
        with pytest.raises(DataViolationError, match="empty_options"):
            process_docs(ds)
    for row in rows[:2]:
        row["options"] = ["Yes", "YES"]
    with pytest.raises(DataViolationError, match="duplicate_options"):
        task.process_docs(rows_to_dataset(rows))


def test_cli_refuses_duplicate_options_in_a_raw_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    root = make_raw_layout(tmp_path)
    [table] = [p for p in root.rglob("*.csv")]
    frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    frame.loc[0, "Options"] = frame.loc[1, "Options"] = "(a) Yes (b) yes"
    frame.to_csv(table, index=False)
    assert main(["validate", str(root)]) == 1
    assert "[duplicate_options]" in capsys.readouterr().out


@pytest.mark.parametrize("options", [["North  south", "north south"], ["Yes", "No", " "]])
def test_annotations_follow_the_same_option_rule(tmp_path: Path, options: list[str]) -> None:
    """The review-page annotations are refused by the contract's own rule (schema.option_problems), spacing included."""
    import json

    from mined_pairs import annotation, make_pairs

    from rsmmvp_tasks import read_pairs
    from rsmmvp_tasks.mining.annotations import rows_from_annotations

    pairs = make_pairs(tmp_path, n=2)
    anns = [annotation(1, options=options, answer_a="A", answer_b="B"), annotation(2)]
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"pairs_sha256": read_pairs(pairs).sha256, "annotations": anns}))
    with pytest.raises(ValueError, match="pair rank 1 ") as err:
        rows_from_annotations(pairs, path)
    assert "same text" in str(err.value) or "empty" in str(err.value)
