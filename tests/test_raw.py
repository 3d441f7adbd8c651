"""Reading raw MMVP-style layouts: table formats, column variants, option/answer forms, helpful errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rawfixture import make_raw_layout

from rsmmvp_tasks.dataset.raw import RawLayoutError, parse_answer, parse_options, read_raw


def _essentials(rows: list[dict]) -> list[tuple]:
    return [
        (
            r["index"],
            r["pair_id"],
            r["question"],
            tuple(r["options"]),
            r["answer"],
            r["pattern"],
            Path(r["image"]).name if r["image"] else None,
        )
        for r in rows
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    return _essentials(read_raw(make_raw_layout(tmp_path_factory.mktemp("ref"))))


def test_mmvp_layout(reference: list[tuple]) -> None:
    assert len(reference) == 10
    assert reference[0] == (1, "0", "How many tanks are there?", ("Yes", "No"), "A", "count", "1.jpg")
    assert {r[1] for r in reference} == {"0", "1", "2", "3", "4"}


@pytest.mark.parametrize("fmt", ["tsv", "json", "jsonl", "xlsx"])
def test_every_table_format_reads_the_same(tmp_path: Path, fmt: str, reference: list[tuple]) -> None:
    assert _essentials(read_raw(make_raw_layout(tmp_path, table_format=fmt))) == reference


def test_snake_case_columns(tmp_path: Path, reference: list[tuple]) -> None:
    assert _essentials(read_raw(make_raw_layout(tmp_path, snake_case=True, image_subdir="imgs"))) == reference


def test_option_columns_answer_text_and_image_column(tmp_path: Path) -> None:
    (tmp_path / "pics").mkdir()
    from PIL import Image

    for name in ("x.png", "y.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / "pics" / name)
    pd.DataFrame(
        [
            {
                "ID": 1,
                "question": "Is there a ship?",
                "Option A": "Yes",
                "Option_B": "No",
                "Answer": "yes",
                "Category": "Presence of Specific Features",
                "File Name": "pics/x.png",
                "pair": "p",
            },
            {
                "ID": 2,
                "question": "Is there a ship?",
                "Option A": "Yes",
                "Option_B": "No",
                "Answer": "B.",
                "Category": "presence",
                "File Name": "y.png",
                "pair": "p",
            },
        ]
    ).to_csv(tmp_path / "meta.csv", index=False)
    rows = read_raw(tmp_path)
    assert [(r["options"], r["answer"], r["pattern"], r["pair_id"], Path(r["image"]).name) for r in rows] == [
        (["Yes", "No"], "A", "presence", "p", "x.png"),
        (["Yes", "No"], "B", "presence", "p", "y.png"),
    ]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("(a) Two (b) Four", ["Two", "Four"]),
        ("A. Two B. Four", ["Two", "Four"]),
        ('["Two", "Four"]', ["Two", "Four"]),
        (["Two", "Four"], ["Two", "Four"]),
        ("(a) North-south (b) East-west (c) Neither", ["North-south", "East-west", "Neither"]),
    ],
)
def test_parse_options(value: object, expected: list[str]) -> None:
    assert parse_options(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("(a)", "A"), ("b", "B"), ("(B)", "B"), ("A.", "A"), ("four", "B"), ("(z)", "Z"), ("maybe", "maybe")],
)
def test_parse_answer(value: str, expected: str) -> None:
    assert parse_answer(value, ["Two", "Four"]) == expected


def test_missing_image_is_kept_as_none_for_the_validator(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path, defects={"image_missing"}))
    assert rows[4]["image"] is None and rows[5]["image"] is not None


def test_unparseable_layout_lists_what_it_found(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "data.csv").write_text("foo,bar\n1,2\n")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "1.jpg").write_bytes(b"x")
    with pytest.raises(RawLayoutError) as err:
        read_raw(tmp_path)
    message = str(err.value)
    for expected in ("notes.txt", "data.csv", "img/1.jpg", "Question", "Correct Answer", "lack"):
        assert expected in message


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(RawLayoutError, match="not a folder"):
        read_raw(tmp_path / "nope")


def test_float_indices_from_spreadsheets_and_bad_index(tmp_path: Path) -> None:
    layout = make_raw_layout(tmp_path)
    table = pd.read_csv(layout / "Questions.csv")
    table["Index"] = table["Index"].astype(float)
    table.to_csv(layout / "Questions.csv", index=False)
    assert [r["index"] for r in read_raw(layout)] == list(range(1, 11))
    table.loc[2, "Index"] = 2.5
    table.to_csv(layout / "Questions.csv", index=False)
    with pytest.raises(RawLayoutError, match="table row 3: index '2.5' is not an integer"):
        read_raw(layout)
