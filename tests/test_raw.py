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
        # markers run a, b, c in order; anything else is option text (issue 9.4)
        ("(a) tree(s) present (b) none", ["tree(s) present", "none"]),
        ("A. Zone C: urban B. rural", ["Zone C: urban", "rural"]),
        ("(a) Left, (b) Right", ["Left", "Right"]),
        ("(a) Left; (b) Right (c) Both", ["Left", "Right", "Both"]),
        ("(A) Yes (B) No", ["Yes", "No"]),
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
    with pytest.raises(RawLayoutError, match="no such folder"):
        read_raw(tmp_path / "nope")
    (tmp_path / "file.csv").write_text("a,b\n")
    with pytest.raises(RawLayoutError, match="a file; a raw layout is a folder"):
        read_raw(tmp_path / "file.csv")


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


# --- issue 9.3: images are matched by relative path; an ambiguous name is refused with its candidates ---


def _image(path: Path, shade: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 0, 0)).save(path)


def _table(root: Path, images: list[str] | None, n: int = 2) -> None:
    rows = [
        {"Index": i + 1, "Question": "Is it red?", "Options": "(a) Yes (b) No", "Correct Answer": "(a)" if i % 2 else "(b)"}
        for i in range(n)
    ]
    if images is not None:
        for row, image in zip(rows, images, strict=False):
            row["Image"] = image
    pd.DataFrame(rows).to_csv(root / "Questions.csv", index=False)


def test_same_name_in_two_folders_is_matched_by_relative_path(tmp_path: Path) -> None:
    _image(tmp_path / "left" / "1.png", 10)
    _image(tmp_path / "right" / "1.png", 200)
    _table(tmp_path, ["left/1.png", "right/1.png"])
    rows = read_raw(tmp_path)
    assert [Path(r["image"]).relative_to(tmp_path).as_posix() for r in rows] == ["left/1.png", "right/1.png"]


def test_same_name_in_two_folders_without_a_path_is_refused(tmp_path: Path) -> None:
    _image(tmp_path / "left" / "1.png", 10)
    _image(tmp_path / "right" / "1.png", 200)
    _table(tmp_path, ["1.png", "right/1.png"])
    with pytest.raises(RawLayoutError) as err:
        read_raw(tmp_path)
    message = str(err.value)
    assert "table row 1, image '1.png': left/1.png, right/1.png" in message and "refusing to guess" in message
    assert "table row 2" not in message  # right/1.png is a path: not ambiguous


def test_names_differing_only_in_case_are_different_files(tmp_path: Path) -> None:
    _image(tmp_path / "imgs" / "Img.jpg", 10)
    _image(tmp_path / "imgs" / "img.jpg", 200)
    _table(tmp_path, ["img.jpg", "Img.jpg"])
    assert [Path(r["image"]).name for r in read_raw(tmp_path)] == ["img.jpg", "Img.jpg"]
    _table(tmp_path, ["IMG.JPG", "Img.jpg"])  # matches both when case is ignored: refused
    with pytest.raises(RawLayoutError, match=r"image 'IMG.JPG': imgs/Img.jpg, imgs/img.jpg"):
        read_raw(tmp_path)


def test_a_thumbnails_folder_of_the_same_names_is_refused_not_used(tmp_path: Path) -> None:
    layout = make_raw_layout(tmp_path)
    for image in (layout / "MMVP Images").glob("*.jpg"):
        _image(layout / "thumbnails" / image.name, 0)
    with pytest.raises(RawLayoutError) as err:
        read_raw(layout)
    message = str(err.value)
    assert "10 row(s)" in message and "index 1 (no image column): MMVP Images/1.jpg, thumbnails/1.jpg" in message
    # hidden folders (caches, checkpoints) are not part of the layout
    (layout / "thumbnails").rename(layout / ".thumbnails")
    assert [Path(r["image"]).parent.name for r in read_raw(layout)] == ["MMVP Images"] * 10


# --- issue 9.5: two candidate question tables are refused; --table picks one ---


def test_two_question_tables_are_refused_and_table_picks_one(tmp_path: Path) -> None:
    layout = make_raw_layout(tmp_path)
    table = pd.read_csv(layout / "Questions.csv")
    table.rename(columns={"Correct Answer": "Answer"}).assign(
        Answer=lambda t: t["Answer"].map({"(a)": "(b)", "(b)": "(a)"})  # a stale copy with flipped answers
    ).to_csv(layout / "old_questions_backup.csv", index=False)
    with pytest.raises(RawLayoutError) as err:
        read_raw(layout)
    message = str(err.value)
    assert "2 files could be the question table" in message and "--table" in message
    assert "Questions.csv (10 rows)" in message and "old_questions_backup.csv (10 rows)" in message
    chosen = read_raw(layout, table="Questions.csv")
    backup = read_raw(layout, table=layout / "old_questions_backup.csv")
    assert [r["answer"] for r in chosen] == ["B" if r["answer"] == "A" else "A" for r in backup]
    with pytest.raises(RawLayoutError, match="no such file"):
        read_raw(layout, table="nope.csv")
    (layout / "notes.csv").write_text("x,y\n1,2\n")
    with pytest.raises(RawLayoutError, match="not a question table"):
        read_raw(layout, table="notes.csv")
