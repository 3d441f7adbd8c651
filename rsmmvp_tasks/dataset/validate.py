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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rsmmvp_tasks.schema import PAIR_SIZE, PATTERNS, REQUIRED_COLUMNS, option_letters

__all__ = ["CODES", "ValidationReport", "Violation", "validate_dataset"]

CODES = (
    "missing_column",
    "duplicate_index",
    "empty_question",
    "empty_options",
    "answer_range",
    "unknown_pattern",
    "image_missing",
    "image_unreadable",
    "pair_size",
    "question_mismatch",
    "options_mismatch",
    "same_answer",
)


@dataclass(frozen=True)
class Violation:
    """One breach of the contract.

    ``row`` is the 0-based position in the data, ``index`` the row's ``index`` value and ``pair_id``
    its pair, each ``None`` where it does not apply (a missing column has none of them).
    """

    row: int | None
    index: int | None
    pair_id: str | None
    code: str
    message: str

    def format(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"row {self.row}" if self.row is not None else "",
                f"index {self.index}" if self.index is not None else "",
                f"pair {self.pair_id}" if self.pair_id is not None else "",
            )
            if part
        )
        return f"[{self.code}] {where + ': ' if where else ''}{self.message}"


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_dataset`: sizes and every violation found (empty: ``ok``)."""

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

    if (
        image is None
        or image == ""
        or (isinstance(image, Mapping) and not image.get("bytes") and not image.get("path"))
    ):
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
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this row's violation, not a crash
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


def _row_problems(row: Mapping[str, Any], columns: list[str], check_images: bool) -> list[tuple[str, str]]:
    """(code, message) of each breach within one row (pairs and duplicates are checked elsewhere)."""
    problems: list[tuple[str, str]] = []
    if "question" in columns and not str(row.get("question") or "").strip():
        problems.append(("empty_question", "the question is empty"))
    options = [str(o).strip() for o in (row.get("options") or [])]
    if "options" in columns and sum(bool(o) for o in options) < 2:
        problems.append(("empty_options", f"needs at least 2 non-empty options, has {options}"))
    letters = option_letters(min(len(options), 26))
    if "answer" in columns and str(row.get("answer")) not in letters:
        problems.append(("answer_range", f"answer {row.get('answer')!r} is not one of the option letters {letters}"))
    if "pattern" in columns and row.get("pattern") not in PATTERNS:
        problems.append(("unknown_pattern", f"pattern {row.get('pattern')!r} is not one of {sorted(PATTERNS)}"))
    if check_images and "image" in columns:
        problem = _image_problem(row.get("image"))
        if problem:
            problems.append(problem)
    return problems


def _pair_problems(members: list[tuple[int, Mapping[str, Any]]], pair_size: int) -> list[tuple[str, str]]:
    """(code, message) of each breach across the rows of one pair."""
    where = [position for position, _ in members]
    problems: list[tuple[str, str]] = []
    if len(members) != pair_size:
        problems.append(("pair_size", f"form a pair of {len(members)} row(s), expected {pair_size}"))
    questions = {str(r.get("question") or "").strip() for _, r in members}
    if len(questions) > 1:
        problems.append(("question_mismatch", f"ask different questions: {sorted(questions)}"))
    option_sets = {tuple(str(o).strip() for o in (r.get("options") or [])) for _, r in members}
    if len(option_sets) > 1:
        problems.append(("options_mismatch", f"offer different options: {sorted(option_sets)}"))
    answers = [str(r.get("answer")) for _, r in members]
    if len(members) > 1 and len(set(answers)) == 1:
        problems.append(("same_answer", f"all have answer {answers[0]!r}; the images of a pair need different answers"))
    return [(code, f"rows {where} {message}") for code, message in problems]


def validate_dataset(data: Any, *, pair_size: int = PAIR_SIZE, check_images: bool = True) -> ValidationReport:
    """Check ``data`` against the contract; see the module docstring for what is checked.

    Row-level violations come in row order, then pair-level ones in pair order; a pair-level
    violation points at the first row of its pair.
    """
    columns, rows = _rows(data)
    violations = [
        Violation(None, None, None, "missing_column", f"required column {column!r} is absent (columns: {columns})")
        for column in REQUIRED_COLUMNS
        if column not in columns
    ]
    seen_index: dict[Any, int] = {}
    pairs: dict[str, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
    n_rows = 0
    for i, row in enumerate(rows):
        n_rows += 1
        index, pair = row.get("index"), row.get("pair_id")
        pair = None if pair is None else str(pair)
        problems = _row_problems(row, columns, check_images)
        if index in seen_index:
            problems.insert(0, ("duplicate_index", f"index {index} is also used by row {seen_index[index]}"))
        else:
            seen_index[index] = i
        violations += [Violation(i, index, pair, code, message) for code, message in problems]
        if pair is not None:
            pairs[pair].append((i, row))
    for pair, members in sorted(pairs.items()):
        first_row, first = members[0]
        violations += [
            Violation(first_row, first.get("index"), pair, code, message)
            for code, message in _pair_problems(members, pair_size)
        ]
    return ValidationReport(n_rows=n_rows, n_pairs=len(pairs), violations=violations)
