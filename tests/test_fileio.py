"""The shared helpers: missing values (rsmmvp_tasks.values) and safe file writing (rsmmvp_tasks.fileio)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pandas as pd
import pytest

from rsmmvp_tasks.fileio import atomic_write_text, csv_safe_cell, restore_csv_cell, write_csv_safe
from rsmmvp_tasks.values import is_missing, none_if_missing, text_or_empty


@pytest.mark.parametrize("value", [None, float("nan"), np.float32("nan"), np.float64("nan"), pd.NA, pd.NaT])
def test_missing_values(value):
    assert is_missing(value) and none_if_missing(value) is None and text_or_empty(value) == ""


@pytest.mark.parametrize("value", ["", " ", 0, 0.0, False, "nan", [], np.float32(1.5)])
def test_present_values(value):
    assert not is_missing(value)
    assert none_if_missing(value) is value


FORMULAS = ['=HYPERLINK("http://evil","open").png', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_formula_cells_are_neutralised_and_restored(cell):
    safe = csv_safe_cell(cell)
    assert safe == "'" + cell
    assert restore_csv_cell(safe) == cell


@pytest.mark.parametrize("cell", ["-0.5", "+3", -1, 2.5, "forest", "'quoted text", None])
def test_data_cells_are_left_alone(cell):
    assert csv_safe_cell(cell) == cell
    assert restore_csv_cell(cell) == cell


def test_write_csv_safe_frame_and_rows(tmp_path):
    name = '=HYPERLINK("http://evil","open").png'
    frame = pd.DataFrame({"image": [name, "a.png"], "score": [-0.5, math.nan]})
    for data in (frame, frame.to_dict(orient="records")):
        out = write_csv_safe(tmp_path / "t.csv", data)
        rows = list(csv.reader(out.open(encoding="utf-8")))
        assert rows[0] == ["image", "score"]
        assert rows[1] == ["'" + name, "-0.5"]
        assert rows[2] == ["a.png", ""]
        assert not any(c.startswith("=") for r in rows for c in r)
    with pytest.raises(ValueError, match="columns"):
        write_csv_safe(tmp_path / "u.csv", [["a", "b"]])
    write_csv_safe(tmp_path / "u.csv", [["=a", "b"]], columns=["x", "y"])
    assert (tmp_path / "u.csv").read_text() == "x,y\n'=a,b\n"


def test_atomic_write_leaves_no_temp(tmp_path):
    atomic_write_text(tmp_path / "f.txt", "one")
    atomic_write_text(tmp_path / "f.txt", "two")
    assert (tmp_path / "f.txt").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
