"""Checking a dataset against the RSMMVP contract, listing every violation with its row.

:func:`validate_dataset` takes a :class:`datasets.Dataset` or a list of row dicts (images as PIL
images, ``{"bytes", "path"}`` dicts, bytes or file paths) and returns a
:class:`ValidationReport` listing every :class:`Violation`, not just the first. It never
changes the data: fixing labels is a human's job.

Violation codes
---------------
=====================  ==========================================================================
``missing_column``     a required column of :data:`rsmmvp_tasks.schema.REQUIRED_COLUMNS` is absent
``duplicate_index``    two rows share an ``index``
``empty_question``     the question is empty
``empty_options``      fewer than two non-empty options
``answer_range``       the answer is not one of the option letters
``unknown_pattern``    the pattern is not a known visual pattern (:data:`~rsmmvp_tasks.schema.PATTERNS`)
``image_missing``      no image
``image_unreadable``   the image cannot be decoded
``pair_size``          a pair does not have exactly ``pair_size`` rows
``question_mismatch``  rows of a pair ask different questions
``options_mismatch``   rows of a pair offer different options
``same_answer``        all rows of a pair have the same answer (pairs need opposite answers)
=====================  ==========================================================================
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from rsmmvp_tasks.schema import PAIR_SIZE, PATTERNS, REQUIRED_COLUMNS, option_letters

__all__ = ["Violation", "ValidationReport", "validate_dataset", "CODES"]

CODES = (
    "missing_column", "duplicate_index", "empty_question", "empty_options", "answer_range", "unknown_pattern",
    "image_missing", "image_unreadable", "pair_size", "question_mismatch", "options_mismatch", "same_answer",
)


@dataclass(frozen=True)
class Violation:
    """One breach of the contract. ``row`` is the 0-based position in the data, when it has one."""

    code: str
    message: str
    row: int | None = None
    index: int | None = None
    pair_id: str | None = None

    def format(self) -> str:
        where = ", ".join(
            part for part in (
                f"row {self.row}" if self.row is not None else "",
                f"index {self.index}" if self.index is not None else "",
                f"pair {self.pair_id}" if self.pair_id is not None else "",
            ) if part
        )
        return f"[{self.code}] {where + ': ' if where else ''}{self.message}"


@dataclass
class ValidationReport:
    n_rows: int
    n_pairs: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def codes(self) -> set[str]:
        return {v.code for v in self.violations}

    def format(self) -> str:
        head = f"{self.n_rows} rows, {self.n_pairs} pairs: "
        if self.ok:
            return head + "no violation"
        return head + f"{len(self.violations)} violation(s)\n" + "\n".join(v.format() for v in self.violations)


def _image_problem(image: Any) -> tuple[str, str] | None:
    """``None`` if the image decodes, else (code, reason)."""
    from PIL import Image

    if image is None or image == "" or (isinstance(image, Mapping) and not image.get("bytes") and not image.get("path")):
        return ("image_missing", "no image")
    try:
        if isinstance(image, Image.Image):
            image.load()
            return None
        if isinstance(image, Mapping):
            source: Any = io.BytesIO(image["bytes"]) if image.get("bytes") else image["path"]
        elif isinstance(image, (bytes, bytearray)):
            source = io.BytesIO(image)
        else:
            source = str(image)
        with Image.open(source) as im:
            im.load()
        return None
    except FileNotFoundError:
        return ("image_missing", f"image file not found: {image if isinstance(image, str) else image.get('path')}")
    except Exception as exc:
        return ("image_unreadable", f"cannot decode the image ({type(exc).__name__}: {exc})")


def _rows(data: Any) -> tuple[list[str], Iterable[Mapping[str, Any]]]:
    """Column names and rows; a Dataset's images are read undecoded (bytes/path dicts)."""
    if hasattr(data, "column_names") and hasattr(data, "features"):
        import datasets

        if "image" in data.column_names and isinstance(data.features["image"], datasets.Image):
            data = data.cast_column("image", datasets.Image(decode=False))
        return list(data.column_names), data
    rows = list(data)
    columns = sorted({k for r in rows for k in r}) if rows else list(REQUIRED_COLUMNS)
    return columns, rows


def validate_dataset(data: Any, *, pair_size: int = PAIR_SIZE, check_images: bool = True) -> ValidationReport:
    """Check ``data`` against the contract; see the module docstring for what is checked."""
    columns, rows = _rows(data)
    violations: list[Violation] = []
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            violations.append(Violation("missing_column", f"required column {column!r} is absent (columns: {columns})"))
    seen_index: dict[Any, int] = {}
    pairs: dict[str, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
    n_rows = 0
    for i, row in enumerate(rows):
        n_rows += 1
        index, pair = row.get("index"), row.get("pair_id")
        pair = None if pair is None else str(pair)

        def add(code: str, message: str) -> None:
            violations.append(Violation(code, message, row=i, index=index, pair_id=pair))

        if index in seen_index:
            add("duplicate_index", f"index {index} is also used by row {seen_index[index]}")
        else:
            seen_index[index] = i
        if "question" in columns and not str(row.get("question") or "").strip():
            add("empty_question", "the question is empty")
        options = [str(o).strip() for o in (row.get("options") or [])]
        if "options" in columns and sum(bool(o) for o in options) < 2:
            add("empty_options", f"needs at least 2 non-empty options, has {options}")
        letters = option_letters(min(len(options), 26))
        if "answer" in columns and str(row.get("answer")) not in letters:
            add("answer_range", f"answer {row.get('answer')!r} is not one of the option letters {letters}")
        if "pattern" in columns and row.get("pattern") not in PATTERNS:
            add("unknown_pattern", f"pattern {row.get('pattern')!r} is not one of {sorted(PATTERNS)}")
        if check_images and "image" in columns:
            problem = _image_problem(row.get("image"))
            if problem:
                add(*problem)
        if pair is not None:
            pairs[pair].append((i, row))

    for pair, members in sorted(pairs.items()):
        first_row = members[0][0]
        if len(members) != pair_size:
            violations.append(Violation("pair_size", f"has {len(members)} row(s) (rows {[m[0] for m in members]}), "
                                        f"expected {pair_size}", row=first_row, pair_id=pair))
        questions = {str(r.get("question") or "").strip() for _, r in members}
        if len(questions) > 1:
            violations.append(Violation("question_mismatch", f"rows {[m[0] for m in members]} ask different "
                                        f"questions: {sorted(questions)}", row=first_row, pair_id=pair))
        option_sets = {tuple(str(o).strip() for o in (r.get("options") or [])) for _, r in members}
        if len(option_sets) > 1:
            violations.append(Violation("options_mismatch", f"rows {[m[0] for m in members]} offer different "
                                        f"options: {sorted(option_sets)}", row=first_row, pair_id=pair))
        answers = [str(r.get("answer")) for _, r in members]
        if len(members) > 1 and len(set(answers)) == 1:
            violations.append(Violation("same_answer", f"rows {[m[0] for m in members]} all have answer {answers[0]!r}; "
                                        "the images of a pair need different answers", row=first_row, pair_id=pair))
    return ValidationReport(n_rows=n_rows, n_pairs=len(pairs), violations=violations)
