"""Reading a raw MMVP-style layout (a question table plus image files) into contract rows.

The layout of MMVP's hub copy (``MMVP/MMVP``), which RSMMVP's hub repo follows::

    Questions.csv            Index, Question, Options, Correct Answer   e.g. 1, "Is ...?", "(a) Yes (b) No", "(a)"
    MMVP Images/1.jpg        one image per row, named by Index; pairs are Index 2k-1 and 2k

What :func:`read_raw` accepts, because the exact layout of a repo cannot always be seen first:

- the table anywhere under the root, as ``.csv``, ``.tsv``, ``.json``, ``.jsonl`` or ``.xlsx``
  (a name containing "question" is tried first);
- column names in any case, with spaces, underscores or hyphens (:data:`COLUMN_ALIASES`);
- options as ``"(a) X (b) Y"``, ``"A. X B. Y"``, a JSON list, a list, or one column per option
  (``Option A``, ``option_b``, ``A``, ...);
- answers as ``(a)``, ``a``, ``A``, ``(A)``, ``A.`` or the option's text;
- an optional pattern column (absent: pattern ``""``, which the validator reports as unknown),
  pair column (absent: pair = ``(Index - 1) // pair_size``), source column;
- images matched by a file-name column, else by index (``<Index>.jpg|jpeg|png|tif|tiff|bmp|webp``).

Rows come out in the contract of :mod:`rsmmvp_tasks.schema` with ``image`` an absolute path
(``None`` when no file matched: the validator reports it). Nothing is validated here; an answer
that cannot be read is kept as written so that the validator names it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from rsmmvp_tasks.schema import IMAGE_SUFFIXES, PAIR_SIZE, normalize_pattern, option_letters

logger = logging.getLogger(__name__)

__all__ = ["COLUMN_ALIASES", "RawLayoutError", "find_table", "parse_answer", "parse_options", "read_raw"]

TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".xlsx")

#: contract field -> accepted column names (compared lower-case, with _ and - read as spaces)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "index": ("index", "idx", "id", "question id", "qid", "no"),
    "question": ("question", "questions", "query", "prompt"),
    "options": ("options", "choices", "candidates", "option list"),
    "answer": ("correct answer", "answer", "correct option", "correct", "label", "gt", "ground truth"),
    "pattern": ("visual pattern", "pattern", "category", "type", "visual patterns"),
    "pair_id": ("pair id", "pair", "pair index"),
    "image": ("image", "image path", "image file", "file", "filename", "file name", "img", "image name"),
    "source": ("source", "provenance"),
}
_OPTION_COLUMN = re.compile(r"^(?:option|choice)?\s*([a-z])$")
_REQUIRED_FIELDS = ("index", "question", "answer")


class RawLayoutError(ValueError):
    """The folder does not hold a question table and images this reader understands."""


def _norm_col(name: Any) -> str:
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def _read_table(path: Path) -> Any:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if suffix == ".tsv":
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):  # {"questions": [...]} or {"data": [...]}
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        return pd.DataFrame(data)
    if suffix == ".xlsx":
        return pd.read_excel(path, dtype=str).fillna("")
    raise RawLayoutError(f"{path}: unsupported table type {suffix}")


def _map_columns(columns: list[Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(contract field -> column, option letter -> column)."""
    normalized = {_norm_col(c): c for c in columns}
    mapping: dict[str, str] = {}
    for field, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in normalized:
                mapping[field] = normalized[alias]
                break
    option_cols: dict[str, str] = {}
    for norm, original in normalized.items():
        m = _OPTION_COLUMN.match(norm)
        if m and original not in mapping.values():
            option_cols[m.group(1).upper()] = original
    return mapping, dict(sorted(option_cols.items()))


def find_table(root: Path) -> tuple[Path, Any, dict[str, str], dict[str, str]]:
    """The question table under ``root``: (path, DataFrame, field -> column, letter -> option column)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    tables = [p for p in files if p.suffix.lower() in TABLE_SUFFIXES]
    tables.sort(key=lambda p: ("question" not in p.name.lower(), len(p.parts), str(p)))
    problems = []
    for path in tables:
        try:
            frame = _read_table(path)
        except Exception as exc:  # noqa: BLE001 - a table we cannot read is one candidate less, reported
            problems.append(f"{path.relative_to(root)}: unreadable ({type(exc).__name__}: {exc})")
            continue
        mapping, option_cols = _map_columns(list(frame.columns))
        missing = [f for f in _REQUIRED_FIELDS if f not in mapping]
        if "options" not in mapping and len(option_cols) < 2:
            missing.append("options")
        if not missing:
            logger.info("question table: %s (%d rows)", path, len(frame))
            return path, frame, mapping, option_cols
        problems.append(f"{path.relative_to(root)}: columns {list(frame.columns)} lack {missing}")
    shown = [str(p.relative_to(root)) for p in files[:30]] + (
        [f"... (+{len(files) - 30} more)"] if len(files) > 30 else []
    )
    raise RawLayoutError(
        f"no question table found under {root}.\n"
        f"Expected a {'/'.join(TABLE_SUFFIXES)} file with columns like Index, Question, Options "
        f"('(a) X (b) Y', a list, or one column per option) and Correct Answer ('(a)'), plus images named "
        f"<Index>.jpg or listed in an image column.\n"
        f"Tables tried: {problems or 'none'}\nFiles found: {shown or 'none'}"
    )


def parse_options(value: Any) -> list[str]:
    """``"(a) X (b) Y"``, ``"A. X B. Y"``, a JSON list string, or a list -> ``["X", "Y"]``."""
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, str)):
        return [str(v).strip() for v in list(value)]
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            return [str(v).strip() for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    for pattern in (r"\(([a-zA-Z])\)\s*", r"(?:^|\s)([A-Z])[.:)]\s+"):
        parts = re.split(pattern, text)
        if len(parts) >= 5:  # [before, letter, text, letter, text, ...]
            return [p.strip() for p in parts[2::2]]
    if "\n" in text:
        return [line.strip() for line in text.splitlines() if line.strip()]
    return [text] if text else []


def parse_answer(value: Any, options: list[str]) -> str:
    """``"(a)"``, ``"A"``, ``"a."`` or an option's text -> its letter; unreadable -> the text as written."""
    text = str(value or "").strip()
    m = re.fullmatch(r"\(?\s*([A-Za-z])\s*[).]?", text)
    if m:
        return m.group(1).upper()
    for letter, option in zip(option_letters(len(options)), options):
        if text.lower() == option.strip().lower():
            return letter
    return text


def _image_index(root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            for key in (p.stem.lower(), p.name.lower(), str(p.relative_to(root)).lower()):
                index.setdefault(key, p.resolve())
    return index


def _cell(row: Any, column: str | None) -> Any:
    if column is None:
        return None
    value = row[column]
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def read_raw(root: str | Path, *, pair_size: int = PAIR_SIZE) -> list[dict[str, Any]]:
    """Read the layout under ``root`` into contract rows (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise RawLayoutError(f"{root}: not a folder (expected a question table and image files)")
    table_path, frame, mapping, option_cols = find_table(root)
    images = _image_index(root)
    rows: list[dict[str, Any]] = []
    for position, (_, row) in enumerate(frame.iterrows(), start=1):
        raw_index = _cell(row, mapping["index"])
        try:
            number = float(str(raw_index).strip())  # "3", 3, "3.0" (spreadsheets) -> 3
            if not number.is_integer():
                raise ValueError
            index = int(number)
        except ValueError:
            raise RawLayoutError(f"{table_path}, table row {position}: index {raw_index!r} is not an integer") from None
        if "options" in mapping:
            options = parse_options(_cell(row, mapping["options"]))
        else:
            options = [str(_cell(row, c) or "").strip() for c in option_cols.values()]
            options = [o for o in options if o]
        pattern_raw = str(_cell(row, mapping.get("pattern")) or "").strip()
        image_name = _cell(row, mapping.get("image"))
        keys = (
            [str(image_name).strip().lower(), Path(str(image_name)).name.lower(), Path(str(image_name)).stem.lower()]
            if image_name
            else [str(index)]
        )
        image = next((images[k] for k in keys if k in images), None)
        pair = _cell(row, mapping.get("pair_id"))
        rows.append(
            {
                "index": index,
                "pair_id": str(pair).strip() if pair not in (None, "") else str((index - 1) // pair_size),
                "question": str(_cell(row, mapping["question"]) or "").strip(),
                "options": options,
                "answer": parse_answer(_cell(row, mapping["answer"]), options),
                "pattern": normalize_pattern(pattern_raw) or pattern_raw,
                "image": str(image) if image else None,
                "source": str(_cell(row, mapping.get("source")) or "") or None,
                "clip_similarity": None,
                "ssl_similarity": None,
                "encoders": None,
            }
        )
    logger.info(
        "read %d rows from %s (%d images matched)", len(rows), table_path, sum(r["image"] is not None for r in rows)
    )
    return rows
