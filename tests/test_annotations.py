"""The annotation reader: PAIRS + annotations (JSON or CSV) -> rows of the dataset contract."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from mined_pairs import CLIP_ID, SSL_ID, annotation, make_pairs

from rsmmvp_tasks import read_pairs
from rsmmvp_tasks.mining.annotations import (
    CSV_COLUMNS,
    rows_from_annotations,
    write_annotation_template,
)
from rsmmvp_tasks.schema import OPTIONAL_COLUMNS, PAIR_SIZE, PATTERNS, REQUIRED_COLUMNS


def write_json(path: Path, annotations: list[dict], sha: str | None) -> Path:
    path.write_text(json.dumps({"pairs_sha256": sha, "annotations": annotations}))
    return path


def test_json_round_trip_rows_follow_the_contract(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pairs = make_pairs(tmp_path, n=4)
    table = read_pairs(pairs)
    anns = [
        annotation(1),
        annotation(2, question="How many red buildings?", options=["None", "One", "Two"], answer_a="A",
                   answer_b="B", pattern="Quantity and Count"),
        annotation(3, skip=True, question=""),
        annotation(4, question="", options=["", ""], answer_a="", answer_b="", pattern=""),  # left empty
    ]
    ann_path = write_json(tmp_path / "ann.json", anns, table.sha256)
    with caplog.at_level(logging.INFO, logger="rsmmvp_tasks.mining.annotations"):
        rows = rows_from_annotations(pairs, ann_path)

    assert [r["index"] for r in rows] == [1, 2, 3, 4]
    assert [r["pair_id"] for r in rows] == ["pair-0001"] * PAIR_SIZE + ["pair-0002"] * PAIR_SIZE
    for row in rows:
        assert set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) <= set(row)
        assert row["pattern"] in PATTERNS
        assert Path(row["image"]).is_file()
        assert row["encoders"] == f"clip={CLIP_ID};ssl={SSL_ID}"
    assert [r["answer"] for r in rows] == ["B", "A", "A", "B"]
    assert rows[2]["options"] == ["None", "One", "Two"]
    assert rows[2]["pattern"] == "count"  # MMVP long name canonicalised
    assert [r["source"] for r in rows[:2]] == ["img/0a.png", "img/0b.png"]
    assert Path(rows[0]["image"]) == (tmp_path / "img/0a.png").resolve()
    assert rows[0]["clip_similarity"] == pytest.approx(table.records[0]["clip_similarity"])
    assert rows[3]["ssl_similarity"] == pytest.approx(table.records[1]["ssl_similarity"])
    assert "2 pair(s) annotated" in caplog.text and "1 skipped" in caplog.text and "1 not annotated" in caplog.text


@pytest.mark.parametrize(("encoding", "delimiter"), [("utf-8-sig", ","), ("cp1252", ";")])  # as Excel saves it
def test_filled_csv_template(tmp_path: Path, encoding: str, delimiter: str) -> None:
    pairs = make_pairs(tmp_path, n=3, fmt="csv", with_rank=False)  # ranks from row order
    template = write_annotation_template(read_pairs(pairs), tmp_path / "template.csv")
    with open(template, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    assert [r["pair_rank"] for r in rows] == ["1", "2", "3"] and all(not r["question"] for r in rows)
    rows[0].update(question="Is there a red building?", option_a="Yes", option_b="No", answer_a="b", answer_b="Yes",
                   pattern="existence")  # a lower-case letter and an option's text; an alias pattern
    rows[1].update(skip="x")
    rows[2].update(question="De quelle couleur est le bâtiment ?", option_a="Red", option_b="Grey", answer_a="B", answer_b="A",
                   pattern="Color and Appearance")
    filled = tmp_path / "filled.csv"
    with open(filled, "w", newline="", encoding=encoding) as f:
        writer = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)

    out = rows_from_annotations(pairs, filled)
    assert [(r["pair_id"], r["answer"], r["pattern"]) for r in out] == [
        ("pair-0001", "B", "presence"), ("pair-0001", "A", "presence"),
        ("pair-0003", "B", "color"), ("pair-0003", "A", "color"),
    ]
    assert out[0]["options"] == ["Yes", "No"]
    assert out[2]["question"] == "De quelle couleur est le bâtiment ?"
    assert [r["index"] for r in out] == [1, 2, 3, 4]


def test_every_bad_annotation_is_reported_at_once(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, n=5)
    sha = read_pairs(pairs).sha256
    anns = [
        annotation(1, question=""),
        annotation(2, answer_a="A", answer_b="A"),
        annotation(3, answer_b="C"),
        annotation(4, pattern="weather"),
        annotation(5),  # the good one must not hide the others
    ]
    with pytest.raises(ValueError) as err:
        rows_from_annotations(pairs, write_json(tmp_path / "ann.json", anns, sha))
    msg = str(err.value)
    assert "4 pair(s) have bad annotations" in msg
    for rank, problem in [(1, "no question"), (2, "same answer"), (3, "'C' is not an option letter"),
                          (4, "unknown pattern 'weather'")]:
        line = next(ln for ln in msg.splitlines() if f"pair rank {rank} " in ln)
        assert problem in line, line
        assert f"img/{rank - 1}a.png" in line
    assert "pair rank 5 " not in msg


def test_annotations_of_another_pairs_table_are_refused(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "one", n=2)
    other = make_pairs(tmp_path / "two", n=3)
    other_sha = read_pairs(other).sha256
    # pair 3 does not exist in `pairs`; the hash names the other table
    ann = write_json(tmp_path / "ann.json", [annotation(1), annotation(3)], other_sha)
    with pytest.raises(ValueError, match=r"was made for a PAIRS table with sha256 .*not for .*pair_rank 3 is not in"):
        rows_from_annotations(pairs, ann)
    # same rank, other images
    wrong = write_json(tmp_path / "wrong.json", [annotation(1, image_b="img/9b.png")], read_pairs(pairs).sha256)
    with pytest.raises(ValueError, match=r"pair_rank 1 names images .*img/9b.png.* but PAIRS has"):
        rows_from_annotations(pairs, wrong)


def test_pairs_saved_in_another_format_still_match_by_images(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pairs = make_pairs(tmp_path, n=2)
    as_csv = make_pairs(tmp_path, n=2, fmt="csv")  # same pairs, other bytes
    ann = write_json(tmp_path / "ann.json", [annotation(1), annotation(2)], read_pairs(pairs).sha256)
    with caplog.at_level(logging.WARNING):
        rows = rows_from_annotations(as_csv, ann)
    assert len(rows) == 4
    assert "made for another PAIRS file" in caplog.text


def test_nothing_annotated_and_bad_tables_are_clear_errors(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, n=2)
    sha = read_pairs(pairs).sha256
    with pytest.raises(ValueError, match=r"no annotated pair \(1 skipped, 1 not annotated"):
        rows_from_annotations(pairs, write_json(tmp_path / "a.json", [annotation(1, skip=True)], sha))
    with pytest.raises(ValueError, match=r"not valid JSON"):
        (tmp_path / "broken.json").write_text("{")
        rows_from_annotations(pairs, tmp_path / "broken.json")
    bad = tmp_path / "bad.csv"
    bad.write_text("image_a,image_b,clip_similarity\nx.png,y.png,0.9\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['ssl_similarity'\]"):
        read_pairs(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("image_a,image_b,clip_similarity,ssl_similarity,rank\na,b,0.9,0.3,1\nc,d,0.9,0.3,1\n")
    with pytest.raises(ValueError, match=r"rank\(s\) \[1\] appear more than once"):
        read_pairs(dup)
    with pytest.raises(ValueError, match="rsmmvp mine"):
        read_pairs(tmp_path / "absent.parquet")


def test_pairs_written_by_rsmmvp_mine(tmp_path: Path) -> None:
    """The real writer's output: ids in image_a/b, files in path_a/b, parquet + csv side by side."""
    import pandas as pd

    from rsmmvp_tasks.mining.pairs import PAIRS_COLUMNS, write_pairs

    frame = pd.read_parquet(make_pairs(tmp_path / "src", n=2))
    frame["path_a"] = [str((tmp_path / "src" / p).resolve()) for p in frame["image_a"]]
    frame["path_b"] = [str((tmp_path / "src" / p).resolve()) for p in frame["image_b"]]
    frame["image_a"] = ["id-a1", "id-a2"]
    frame["image_b"] = ["id-b1", "id-b2"]
    parquet, as_csv, _ = write_pairs(frame[list(PAIRS_COLUMNS)], {"pairs": 2}, tmp_path / "mined" / "PAIRS")
    sha = read_pairs(parquet).sha256
    anns = [annotation(1, image_a="id-a1", image_b="id-b1"), annotation(2, image_a="id-a2", image_b="id-b2", skip=True)]
    for table in (parquet, as_csv):
        rows = rows_from_annotations(table, write_json(tmp_path / "ann.json", anns, sha))
        assert [r["source"] for r in rows] == ["id-a1", "id-b1"]
        assert [r["image"] for r in rows] == [frame["path_a"][0], frame["path_b"][0]]
        assert rows[0]["encoders"] == f"clip={CLIP_ID};ssl={SSL_ID}"


# ---- issue 9 (hardening) ------------------------------------------------------------------------


def fill_template(template: Path, out: Path, fills: dict[int, dict[str, str]], drop: tuple[str, ...] = ()) -> Path:
    """A filled copy of ``template`` (rows keyed by pair_rank), as a spreadsheet user saves it, minus ``drop`` columns."""
    with open(template, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.update(fills.get(int(row["pair_rank"]), {}))
        for col in drop:
            row.pop(col)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[c for c in CSV_COLUMNS if c not in drop])
        writer.writeheader()
        writer.writerows(rows)
    return out


ANSWERED = {"question": "Is there a red building?", "option_a": "Yes", "option_b": "No", "answer_a": "B",
            "answer_b": "A", "pattern": "presence"}


def test_rank_only_annotations_do_not_move_to_another_pair(tmp_path: Path) -> None:
    """Issue 9.8: a CSV keyed by rank only, applied to a re-mined table whose ranks changed, is refused
    (it used to attach the question to whatever pair now has that rank)."""
    from rsmmvp_tasks.mining.annotations import AnnotationError

    first = make_pairs(tmp_path, n=3)
    template = write_annotation_template(read_pairs(first), tmp_path / "template.csv")
    rank_only = fill_template(template, tmp_path / "filled.csv", {1: ANSWERED}, drop=("image_a", "image_b"))
    remined = make_pairs(tmp_path, n=3, ranks=[3, 1, 2], name="remined")  # pair 0 (was rank 1) is now rank 3
    with pytest.raises(AnnotationError, match=r"name their pair by pair_rank only .*Fill in image_a and image_b"):
        rows_from_annotations(remined, rank_only)
    with pytest.raises(AnnotationError, match="pair_rank only"):  # also on the same table: a CSV carries no hash
        rows_from_annotations(first, rank_only)
    from rsmmvp_tasks.cli import (
        main,  # `rsmmvp build` used to exit 0 here, with the question on the wrong pair
    )

    assert main(["build", "--pairs", str(remined), "--annotations", str(rank_only), "--out", str(tmp_path / "ds")]) == 2
    assert not (tmp_path / "ds").exists()
    # JSON naming ranks only is accepted when its hash proves it was made for this very file ...
    sha = read_pairs(first).sha256
    entry = annotation(1)
    del entry["image_a"], entry["image_b"]
    rows = rows_from_annotations(first, write_json(tmp_path / "same.json", [entry], sha))
    assert [r["source"] for r in rows] == ["img/0a.png", "img/0b.png"]
    # ... and refused for the re-mined one
    with pytest.raises(AnnotationError, match=r"was made for another PAIRS file"):
        rows_from_annotations(remined, write_json(tmp_path / "other.json", [entry], sha))


def test_annotations_follow_their_images_after_re_mining(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 9.8: annotations carry their pair's image ids (the page's export, the CSV template), and attach by
    them: after re-mining, each question stays with its images, under the pair's new rank."""
    first = make_pairs(tmp_path, n=3)
    table = read_pairs(first)
    template = write_annotation_template(table, tmp_path / "template.csv")
    with open(template, newline="", encoding="utf-8-sig") as f:
        assert [(r["image_a"], r["image_b"]) for r in csv.DictReader(f)] == [(r["image_a"], r["image_b"]) for r in table.records]
    filled = fill_template(template, tmp_path / "filled.csv", {1: ANSWERED})
    exported = write_json(tmp_path / "ann.json", [annotation(1), annotation(2, skip=True)], table.sha256)
    remined = make_pairs(tmp_path, n=3, ranks=[3, 1, 2], name="remined")
    for ann in (filled, exported):
        with caplog.at_level(logging.WARNING):
            rows = rows_from_annotations(remined, ann)
        assert [(r["pair_id"], r["source"]) for r in rows] == [("pair-0003", "img/0a.png"), ("pair-0003", "img/0b.png")]
        assert "now belongs to other images" in caplog.text


def test_annotation_template_cannot_run_formulas(tmp_path: Path) -> None:
    """Issue 9.18: an image named like a formula is text in annotations_template.csv, and reads back as its name."""
    import pandas as pd

    make_pairs(tmp_path, n=1)
    evil = '=HYPERLINK("evil.example","open").png'  # a legal file name
    (tmp_path / "img" / "0a.png").rename(tmp_path / evil)
    pairs = tmp_path / "evil.parquet"
    pd.DataFrame([{"image_a": evil, "image_b": "img/0b.png", "clip_similarity": 0.97, "ssl_similarity": -0.2,
                   "rank": 1}]).to_parquet(pairs)
    template = write_annotation_template(read_pairs(pairs), tmp_path / "template.csv")
    raw = template.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    with open(template, newline="", encoding="utf-8-sig") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert "'" + evil in cells and evil not in cells
    assert "-0.2000" in cells  # numbers stay numbers
    rows = rows_from_annotations(pairs, fill_template(template, tmp_path / "filled.csv", {1: ANSWERED}))
    assert rows[0]["source"] == evil and Path(rows[0]["image"]) == (tmp_path / evil).resolve()
