"""The real Landsat-8 scene shipped in the repository (issue 18.1): small, uint16, georeferenced, licensed, and the
README's remote-sensing example runs on it as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rsfixtures import LANDSAT_CROP

from rsmmvp_tasks.cli import main

REPO = Path(__file__).resolve().parent.parent


def test_crop_is_small_real_georeferenced_and_licensed() -> None:
    import rasterio

    assert LANDSAT_CROP.stat().st_size < 3_000_000
    with rasterio.open(LANDSAT_CROP) as ds:
        assert ds.dtypes == ("uint16",) * 3 and ds.crs.to_string() == "EPSG:32621"
        assert ds.res == (30.0, 30.0) and ds.descriptions == ("B2", "B3", "B4")
        assert "U.S. Geological Survey" in ds.tags()["TIFFTAG_COPYRIGHT"]
        band = ds.read(1)
        assert 0 < (band == 0).mean() < 0.3 and band.max() > 4000  # a corner of fill, 12-bit-range data
    notice = (LANDSAT_CROP.parent / "README.md").read_text()
    assert "public domain" in notice and "U.S. Geological Survey" in notice


def _readme_tile_command() -> tuple[str, int, int]:
    """The README's `rsmmvp tile` line on the shipped crop and the counts its comment promises."""
    texts = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for path in texts:
        for line in path.read_text().splitlines():
            m = re.match(r"rsmmvp tile (examples/data/landsat8_crop\.tif .*?)\s+# (\d+) tiles written, (\d+) skipped", line)
            if m:
                return m.group(1), int(m.group(2)), int(m.group(3))
    raise AssertionError("no `rsmmvp tile examples/data/landsat8_crop.tif ... # N tiles written, M skipped` line")


def test_readme_tile_example_runs_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    args, written, skipped = _readme_tile_command()
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    assert main(["tile", *args.split(), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{written} tiles written" in out and f"{skipped} skipped" in out
