"""The RSMMVP dataset contract: the one definition every other module imports.

Format
------
One row per question. A *pair* is the set of rows sharing ``pair_id`` (two rows in MMVP and
RSMMVP: the same question asked about two CLIP-blind images, with opposite answers).

========================  ==========================  ==================================================
column                    type                        meaning
========================  ==========================  ==================================================
``index``                 int                         unique row id (MMVP's 1-based ``Index``)
``pair_id``               str                         shared by the rows of one pair
``question``              str                         the question, identical within a pair
``options``               list[str]                   2+ answer options, in letter order (A, B, ...); none
                                                      empty, no two alike (:func:`option_problems`)
``answer``                str                         the correct option letter, ``"A"``, ``"B"``, ...
``pattern``               str                         visual pattern, one of :data:`PATTERNS`
``image``                 image                       the image the question is asked about
``source``                str (optional)              provenance: ``<source name>:<detail>`` or a file id; its
                                                      :func:`source_name` keys the card's licence table
``clip_similarity``       float (optional)            CLIP cosine similarity of the pair's images
``ssl_similarity``        float (optional)            self-supervised (DINOv2) cosine similarity
``encoders``              str (optional)              encoders used for mining, ``"clip=<id>;ssl=<id>"``
``imagery``               str (optional)              JSON: the image's place (scene, window, CRS, bounds,
                                                      centre lon/lat) and how its pixels were made
                                                      (:mod:`rsmmvp_tasks.imagery.provenance`)
========================  ==========================  ==================================================

A built dataset folder (``rsmmvp build``) holds the rows as parquet at :data:`PARQUET_NAME` (what
``datasets.load_dataset(folder)`` reads through the card's :data:`PARQUET_GLOB`), a
``save_to_disk`` copy in ``disk/`` and the card ``README.md``.

Visual patterns follow MMVP's nine (Tong et al., 2024) plus remote-sensing ones (texture, size).
Pattern names are stored canonical (the keys of :data:`PATTERNS`); :func:`normalize_pattern`
maps MMVP's long names and common spellings onto them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "BUILD_MANIFEST",
    "PAIRS_REQUIRED_COLUMNS",
    "is_pairs_table",
    "ALL_SOURCES",
    "IMAGE_SUFFIXES",
    "OPTIONAL_COLUMNS",
    "PAIR_SIZE",
    "PARQUET_GLOB",
    "PARQUET_NAME",
    "PATTERNS",
    "REQUIRED_COLUMNS",
    "features",
    "letter_to_index",
    "normalize_name",
    "normalize_pattern",
    "option_key",
    "option_letters",
    "option_problems",
    "source_name",
]

#: Columns every row must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("index", "pair_id", "question", "options", "answer", "pattern", "image")

#: Provenance columns a dataset may carry (mined datasets do).
OPTIONAL_COLUMNS: tuple[str, ...] = ("source", "clip_similarity", "ssl_similarity", "encoders", "imagery")

#: Rows per pair in MMVP and RSMMVP.
PAIR_SIZE = 2

#: Image file types read from folders (raw layouts, mining sources), compared lower-case.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")

#: Where a built dataset folder keeps its rows, relative to the folder (one shard, split ``test``).
PARQUET_NAME = "data/test-00000-of-00001.parquet"

#: The files of the ``test`` split of a built folder; the card's ``data_files`` (what load_dataset reads).
PARQUET_GLOB = "data/test-*.parquet"
#: the file in a built folder that lists what ``rsmmvp build`` wrote there (names and sha256); never published
BUILD_MANIFEST = ".rsmmvp-build.json"
#: the columns a PAIRS table (``rsmmvp mine``'s output, :mod:`rsmmvp_tasks.mining.pairs`) needs at least
PAIRS_REQUIRED_COLUMNS: tuple[str, ...] = ("image_a", "image_b", "clip_similarity", "ssl_similarity")

#: Canonical pattern name -> human-readable description (MMVP's names where they exist).
PATTERNS: dict[str, str] = {
    "orientation": "Orientation and Direction",
    "presence": "Presence of Specific Features",
    "state": "State and Condition",
    "count": "Quantity and Count",
    "position": "Positional and Relational Context",
    "color": "Color and Appearance",
    "structure": "Structural and Physical Characteristics",
    "text": "Texts",
    "viewpoint": "Viewpoint and Perspective",
    "texture": "Texture and Land-Cover Pattern",
    "size": "Size and Scale",
}

_PATTERN_ALIASES: dict[str, str] = {
    "direction": "orientation",
    "features": "presence",
    "existence": "presence",
    "condition": "state",
    "quantity": "count",
    "counting": "count",
    "number": "count",
    "location": "position",
    "relation": "position",
    "spatial": "position",
    "colour": "color",
    "appearance": "color",
    "shape": "structure",
    "structural": "structure",
    "perspective": "viewpoint",
    "texts": "text",
    "scale": "size",
    "land cover": "texture",
}


def normalize_name(name: Any) -> str:
    """A name compared loosely: lower-case, runs of spaces, ``_`` and ``-`` as one space.

    Used for column names of raw tables and for pattern names:
    ``normalize_name(" Correct_Answer ") == "correct answer"``.
    """
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def normalize_pattern(name: str) -> str | None:
    """Map a pattern name (canonical, MMVP long form or common alias) to its canonical key.

    Returns ``None`` for an unknown name, so callers can report it instead of guessing.

    >>> normalize_pattern("Orientation and Direction")
    'orientation'
    >>> normalize_pattern("Quantity_and_Count")
    'count'
    >>> normalize_pattern("weather") is None
    True
    """
    if not isinstance(name, str) or not name.strip():
        return None
    key = normalize_name(name)
    if key in PATTERNS:
        return key
    for canonical, long_name in PATTERNS.items():
        if key == normalize_name(long_name):
            return canonical
    if key in _PATTERN_ALIASES:
        return _PATTERN_ALIASES[key]
    return None


def option_letters(n: int) -> list[str]:
    """The letters of ``n`` options: ``option_letters(3) == ["A", "B", "C"]``."""
    if not 0 <= n <= 26:
        raise ValueError(f"between 0 and 26 options are supported, got {n}")
    return list(string.ascii_uppercase[:n])


def letter_to_index(letter: str) -> int:
    """``"A" -> 0``, ``"b" -> 1``; raises ``ValueError`` on anything that is not one letter."""
    if not isinstance(letter, str) or len(letter.strip()) != 1 or not letter.strip().isalpha():
        raise ValueError(f"not an option letter: {letter!r}")
    return ord(letter.strip().upper()) - ord("A")


def option_key(option: Any) -> str:
    """How two options are compared for sameness: case-folded, runs of whitespace as one space, stripped.

    ``option_key(" Yes ") == option_key("yes") == option_key("YES")``; ``option_key("North  south") ==
    option_key("north south")``.
    """
    return re.sub(r"\s+", " ", str(option)).strip().casefold()


def option_problems(options: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """The breaches of the contract by one row's option list, as ``(code, message)``; ``[]`` when fine.

    The contract: at least two options, none empty (or only whitespace), and no two the same once
    compared by :func:`option_key` (``["Yes", "yes "]`` are one option twice: a model choosing either
    would be right, or wrong, by letter alone). Codes: ``empty_options`` (fewer than two options, or
    an empty one: ``["Yes", "No", ""]``, what ``"(a) Yes (b) No (c)"`` parses to) and
    ``duplicate_options``. Both :func:`rsmmvp_tasks.dataset.validate.validate_dataset` (``rsmmvp
    validate``, ``build``) and every task's ``process_docs`` (through the validator) apply this check.

    >>> option_problems(["Yes", "No"])
    []
    >>> [code for code, _ in option_problems(["Yes", " yes"])]
    ['duplicate_options']
    """
    texts = [str(o) for o in options]
    letters = option_letters(min(len(texts), 26))
    problems: list[tuple[str, str]] = []
    empty = [letter for letter, text in zip(letters, texts, strict=False) if not text.strip()]
    if len(texts) - len(empty) < 2:
        problems.append(("empty_options", f"needs at least 2 non-empty options, has {texts}"))
    elif empty:
        problems.append(
            ("empty_options", f"option(s) {', '.join(empty)} of {texts} are empty; remove them or write their text")
        )
    seen: dict[str, str] = {}
    for letter, text in zip(letters, texts, strict=False):
        key = option_key(text)
        if not key:
            continue
        if key in seen:
            problems.append(
                (
                    "duplicate_options",
                    f"options {seen[key]} and {letter} of {texts} are the same text (compared ignoring case and "
                    "spacing); every option must differ",
                )
            )
        else:
            seen[key] = letter
    return problems


#: the source name of a licence-table row that covers every image not named by another row
ALL_SOURCES = "*"


def source_name(source: Any) -> str:
    """The name of the source an image comes from: the key of the dataset card's licence table.

    The row's ``source`` text up to its first ``:`` when it has one (``"landsat8:LC08_x window ..."``
    -> ``"landsat8"``), else its first path component (a mined tile id ``"LC08_x/LC08_x_r0_c0.png"`` ->
    ``"LC08_x"``, the scene), else the text itself; ``""`` for a row without a source.

    >>> source_name("landsat8:LC08_L1TP_224077 (B4,B3,B2)"), source_name("LC08_x/LC08_x_r0_c0.png"), source_name(None)
    ('landsat8', 'LC08_x', '')
    """
    if source is None or not isinstance(source, str):
        return ""
    text = source.strip()
    if ":" in text:
        return text.split(":", 1)[0].strip()
    return text.replace("\\", "/").split("/", 1)[0].strip()


def features(with_provenance: bool = True) -> Any:
    """The :class:`datasets.Features` of the contract (imports ``datasets`` lazily)."""
    import datasets

    cols: dict[str, Any] = {
        "index": datasets.Value("int64"),
        "pair_id": datasets.Value("string"),
        "question": datasets.Value("string"),
        "options": datasets.Sequence(datasets.Value("string")),
        "answer": datasets.Value("string"),
        "pattern": datasets.Value("string"),
        "image": datasets.Image(),
    }
    if with_provenance:
        cols.update(
            {
                "source": datasets.Value("string"),
                "clip_similarity": datasets.Value("float32"),
                "ssl_similarity": datasets.Value("float32"),
                "encoders": datasets.Value("string"),
                "imagery": datasets.Value("string"),
            }
        )
    return datasets.Features(cols)


def missing_columns(columns: Mapping[str, Any] | list[str]) -> list[str]:
    """Required columns absent from ``columns`` (a row, a features mapping or a name list)."""
    present = set(columns)
    return [c for c in REQUIRED_COLUMNS if c not in present]


def is_pairs_table(columns: Iterable[str]) -> bool:
    """Whether a table with these columns is a mined PAIRS table, not a dataset (e.g. to tell a user who validates
    one what to do with it)."""
    return set(PAIRS_REQUIRED_COLUMNS) <= set(columns)
