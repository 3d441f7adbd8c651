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
``options_not_list``   ``options`` is not a list (e.g. one string: the prompt would list a character per option)
``empty_options``      fewer than two options, or an empty one (:func:`rsmmvp_tasks.schema.option_problems`)
``duplicate_options``  two options alike, compared ignoring case and spacing (``["Yes", "yes"]``)
``answer_range``       the answer is not one of the option letters
``unknown_pattern``    the pattern is not a known visual pattern (:data:`~rsmmvp_tasks.schema.PATTERNS`)
``image_missing``      no image
``image_unreadable``   the image cannot be decoded, or is truncated
``image_degenerate``   what the model sees (the image converted to RGB, as lmms-eval's models get it) is
                       near-constant: every channel spans fewer than :data:`DEGENERATE_RANGE` levels,
                       e.g. 12-bit data in a 16-bit image (all white), float reflectance (all black),
                       4-band uint16 (near black); the message names the image mode
``pair_size``          a pair does not have exactly ``pair_size`` rows
``question_mismatch``  rows of a pair ask different questions
``options_mismatch``   rows of a pair offer different options
``same_answer``        all rows of a pair have the same answer (pairs need opposite answers)
``card_sources``       the dataset card records no licence per image source (``image_sources`` in its header,
                       :mod:`rsmmvp_tasks.dataset.card`), or the card is missing from a built folder
``source_unlicensed``  the data holds images of a source the card's licence table does not name (and the
                       table has no ``*`` entry)
``same_image``         two rows of a pair show the same picture: the same decoded pixels (:func:`pixel_digest`),
                       however the files were encoded (PNG levels, PNG and lossless WebP)
=====================  ==========================================================================

The card checks (:func:`card_violations`) run where there is a card: ``rsmmvp validate`` on a built
folder or a parquet file beside its ``README.md``, and ``rsmmvp build`` before writing.

Image checks do not depend on process-wide PIL settings: lmms-eval sets
``PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True`` on import, which makes PIL pad a truncated file
silently; the check decodes with that flag off (restored afterwards), so a truncated image is
reported wherever the validator runs.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.dataset.card import SOURCES_KEY, card_sources
from rsmmvp_tasks.errors import UsageError
from rsmmvp_tasks.schema import (
    ALL_SOURCES,
    PAIR_SIZE,
    PATTERNS,
    REQUIRED_COLUMNS,
    option_letters,
    option_problems,
    source_name,
)

__all__ = [
    "CODES",
    "DEGENERATE_RANGE",
    "ValidationReport",
    "Violation",
    "card_violations",
    "pixel_digest",
    "validate_dataset",
]

CODES = (
    "missing_column",
    "duplicate_index",
    "empty_question",
    "options_not_list",
    "empty_options",
    "duplicate_options",
    "answer_range",
    "unknown_pattern",
    "image_missing",
    "image_unreadable",
    "image_degenerate",
    "pair_size",
    "question_mismatch",
    "options_mismatch",
    "same_answer",
    "same_image",
    "card_sources",
    "source_unlicensed",
)

#: an image whose RGB conversion spans fewer levels than this (of 255) in every channel is near-constant
DEGENERATE_RANGE = 16

_STRICT_DECODING = threading.Lock()


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


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Decode with ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` off, whatever the process set; restore it after."""
    from PIL import ImageFile

    with _STRICT_DECODING:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def _image_source(image: Any) -> bytes | Any:
    """The encoded bytes of an accepted image form, or a PIL image as is; raises FileNotFoundError."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, Mapping):
        if image.get("bytes"):
            return bytes(image["bytes"])
        image = image["path"]
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    return Path(str(image)).read_bytes()


def _degenerate(im: Any) -> str | None:
    """Why what the model sees of ``im`` (``im.convert("RGB")``) is near-constant, or ``None``."""
    extrema = im.convert("RGB").getextrema()
    if max(high - low for low, high in extrema) >= DEGENERATE_RANGE:
        return None
    low, high = min(lo for lo, _ in extrema), max(hi for _, hi in extrema)
    look = "all black" if high < DEGENERATE_RANGE else "all white" if low > 255 - DEGENERATE_RANGE else "flat"
    mode = f"mode {im.mode}"
    bits = getattr(im, "tag_v2", {}).get(258)  # a TIFF's bits per sample: PIL may read 16-bit bands as 8-bit RGB
    if isinstance(bits, tuple) and bits and max(bits) > 8:
        mode += f" from {len(bits)} band(s) of {max(bits)} bits"
    wide = im.mode not in ("RGB", "RGBA", "RGBX", "L", "LA", "P", "PA", "1", "CMYK", "YCbCr") or "bits" in mode
    fix = (
        "scale the data to 8-bit RGB first (e.g. a 2-98 percentile stretch of three bands)"
        if wide
        else "check that it is the right file"
    )
    return (
        f"what the model sees is near-constant: the image ({mode}, {im.size[0]}x{im.size[1]}) converted to RGB "
        f"is {look} (values {low}..{high} of 0..255); {fix}"
    )


def pixel_digest(im: Any) -> str:
    """sha256 of what the model sees of ``im``: its size and the bytes of its RGB conversion.

    Two files holding one picture (PNG at two compression levels, PNG and lossless WebP, with or
    without metadata) have the same digest; any pixel that differs changes it.
    """
    rgb = im.convert("RGB")
    h = hashlib.sha256(f"{rgb.size[0]}x{rgb.size[1]}:".encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


def _image_problem(image: Any) -> tuple[tuple[str, str] | None, str | None]:
    """(``None`` or (code, reason), :func:`pixel_digest` of the decoded image or ``None`` when it has none)."""
    from PIL import Image

    if (
        image is None
        or image == ""
        or (isinstance(image, Mapping) and not image.get("bytes") and not image.get("path"))
    ):
        return ("image_missing", "no image"), None
    try:
        source = _image_source(image)
    except FileNotFoundError:
        return ("image_missing", f"image file not found: {image if isinstance(image, str) else image.get('path')}"), None
    except OSError as exc:
        return ("image_unreadable", f"cannot read the image file ({type(exc).__name__}: {exc})"), None
    try:
        with _strict_decoding(), (
            nullcontext(source) if isinstance(source, Image.Image) else Image.open(io.BytesIO(source))
        ) as im:
            im.load()
            why = _degenerate(im)
            digest = pixel_digest(im)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this row's violation, not a crash
        return ("image_unreadable", f"cannot decode the image ({type(exc).__name__}: {exc})"), None
    return (None if why is None else ("image_degenerate", why)), digest


def _options_list(value: Any) -> list[str] | None:
    """The options as stripped strings; ``None`` when ``value`` is not a list (a string, a number)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, (str, bytes))):
        return [str(o).strip() for o in list(value)]
    return None


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


def _row_problems(
    row: Mapping[str, Any], columns: list[str], check_images: bool
) -> tuple[list[tuple[str, str]], str | None]:
    """(code, message) of each breach within one row (pairs and duplicates are checked elsewhere), and
    the :func:`pixel_digest` of the row's image (``None`` unchecked or absent)."""
    problems: list[tuple[str, str]] = []
    if "question" in columns and not str(row.get("question") or "").strip():
        problems.append(("empty_question", "the question is empty"))
    options = _options_list(row.get("options"))
    if "options" in columns and options is None:
        value = row.get("options")
        problems.append(
            (
                "options_not_list",
                f"options is a {type(value).__name__} ({str(value)[:60]!r}), not a list of option texts; the prompt "
                "would list one option per character. Store a list, e.g. ['Yes', 'No']",
            )
        )
    elif "options" in columns:
        problems += option_problems(options)
        letters = option_letters(min(len(options), 26))
        if "answer" in columns and str(row.get("answer")) not in letters:
            problems.append(
                ("answer_range", f"answer {row.get('answer')!r} is not one of the option letters {letters}")
            )
    if "pattern" in columns and row.get("pattern") not in PATTERNS:
        problems.append(("unknown_pattern", f"pattern {row.get('pattern')!r} is not one of {sorted(PATTERNS)}"))
    digest = None
    if check_images and "image" in columns:
        problem, digest = _image_problem(row.get("image"))
        if problem:
            problems.append(problem)
    return problems, digest


def _pair_problems(
    members: list[tuple[int, Mapping[str, Any]]], pair_size: int, digests: Mapping[int, str | None]
) -> list[tuple[str, str]]:
    """(code, message) of each breach across the rows of one pair."""
    where = [position for position, _ in members]
    problems: list[tuple[str, str]] = []
    if len(members) != pair_size:
        problems.append(("pair_size", f"form a pair of {len(members)} row(s), expected {pair_size}"))
    questions = {str(r.get("question") or "").strip() for _, r in members}
    if len(questions) > 1:
        problems.append(("question_mismatch", f"ask different questions: {sorted(questions)}"))
    option_sets = {tuple(_options_list(r.get("options")) or [str(r.get("options"))]) for _, r in members}
    if len(option_sets) > 1:
        problems.append(("options_mismatch", f"offer different options: {sorted(option_sets)}"))
    answers = [str(r.get("answer")) for _, r in members]
    if len(members) > 1 and len(set(answers)) == 1:
        problems.append(("same_answer", f"all have answer {answers[0]!r}; the images of a pair need different answers"))
    by_image: dict[str, list[int]] = defaultdict(list)
    for position, _ in members:
        if digests.get(position):
            by_image[digests[position]].append(position)
    for rows in by_image.values():
        if len(rows) > 1:
            problems.append(("same_image", f"{rows} show the same picture (identical decoded pixels); a pair needs different images"))
    return [(code, f"rows {where} {message}") for code, message in problems]


def validate_dataset(data: Any, *, pair_size: int = PAIR_SIZE, check_images: bool = True) -> ValidationReport:
    """Check ``data`` against the contract; see the module docstring for what is checked.

    Row-level violations come in row order, then pair-level ones in pair order; a pair-level
    violation points at the first row of its pair. ``pair_size`` below 1 raises
    :class:`~rsmmvp_tasks.errors.UsageError`.
    """
    if not isinstance(pair_size, int) or pair_size < 1:
        raise UsageError(f"pair size must be a whole number of at least 1, got {pair_size!r}")
    columns, rows = _rows(data)
    violations = [
        Violation(None, None, None, "missing_column", f"required column {column!r} is absent (columns: {columns})")
        for column in REQUIRED_COLUMNS
        if column not in columns
    ]
    seen_index: dict[Any, int] = {}
    pairs: dict[str, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
    digests: dict[int, str | None] = {}
    n_rows = 0
    for i, row in enumerate(rows):
        n_rows += 1
        index, pair = row.get("index"), row.get("pair_id")
        pair = None if pair is None else str(pair)
        problems, digests[i] = _row_problems(row, columns, check_images)
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
            for code, message in _pair_problems(members, pair_size, digests)
        ]
    return ValidationReport(n_rows=n_rows, n_pairs=len(pairs), violations=violations)


def card_violations(card: str | None, data: Any, *, where: str = "README.md") -> list[Violation]:
    """The breaches of the card's licence table by ``data`` (rows or a Dataset): ``card_sources`` when
    ``card`` (the card's text; ``None``: no card) records no licence per image source, else one
    ``source_unlicensed`` per source name of the data the table does not cover (first row shown)."""
    if card is None:
        return [Violation(None, None, None, "card_sources", f"no dataset card ({where}): a built dataset needs one "
                          "stating the licence of each image source; rebuild it with `rsmmvp build --license ...`")]
    entries = card_sources(card)
    if entries is None:
        return [Violation(None, None, None, "card_sources",
                          f"{where} records no licence per image source (no `{SOURCES_KEY}` list in its header); "
                          "rebuild with `rsmmvp build --license ID` (one licence for every source) or `--sources FILE` "
                          "(source,license,attribution per source)")]
    covered = {e.source for e in entries}
    if ALL_SOURCES in covered:
        return []
    if hasattr(data, "column_names"):
        data = data.select_columns([c for c in ("index", "pair_id", "source") if c in data.column_names])
    first: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for i, row in enumerate(data):
        first.setdefault(source_name(row.get("source")), (i, row))
    return [
        Violation(i, row.get("index"), None if row.get("pair_id") is None else str(row.get("pair_id")),
                  "source_unlicensed",
                  f"images of source {name or '(none: no source column)'!r} have no licence in {where}'s table "
                  f"(it names {sorted(covered)}); add a line for it (`rsmmvp build --sources FILE`) or '*'")
        for name, (i, row) in sorted(first.items())
        if name not in covered
    ]
