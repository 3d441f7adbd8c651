"""Reading a raw MMVP-style layout (a question table plus image files) into contract rows.

The layout of MMVP's hub copy (``MMVP/MMVP``), which RSMMVP's hub repo follows::

    Questions.csv            Index, Question, Options, Correct Answer   e.g. 1, "Is ...?", "(a) Yes (b) No", "(a)"
    MMVP Images/1.jpg        one image per row, named by Index; pairs are Index 2k-1 and 2k

What :func:`read_raw` accepts, because the exact layout of a repo cannot always be seen first:

- the table anywhere under the root, as ``.csv``, ``.tsv``, ``.json``, ``.jsonl`` or ``.xlsx``; when
  more than one file has the columns of a question table (``data.csv`` beside
  ``old_questions_backup.csv``) the reader refuses and lists them: name the one with ``table=``
  (``--table`` on the command line);
- column names in any case, with spaces, underscores or hyphens (:data:`COLUMN_ALIASES`);
- options as ``"(a) X (b) Y"``, ``"A. X B. Y"``, a JSON list, a list, or one column per option
  (``Option A``, ``option_b``, ``A``, ...); in the inline forms the markers must run a, b, c, ... in
  order, so ``"(a) tree(s) present (b) none"`` and ``"A. Zone C: urban B. rural"`` are two options,
  and a separator before the next marker (``"(a) Left, (b) Right"``) is not part of an option;
- answers as ``(a)``, ``a``, ``A``, ``(A)``, ``A.`` or the option's text;
- an optional pattern column (absent: pattern ``""``, which the validator reports as unknown),
  pair column (absent: pair = ``(Index - 1) // pair_size``), source column;
- images matched by a file-name column, else by index (``<Index>.jpg|jpeg|png|tif|tiff|bmp|webp``).
  A file-name cell is looked up as a path relative to the root (or to the table's folder), then, if no
  such file exists, by its bare file name (exact case first, then any case) and by its stem; an index
  by the stem ``<Index>``. A name that more than one file answers to (``left/1.png`` and
  ``right/1.png``; ``Img.jpg`` and ``img.jpg`` for ``IMG.jpg``; ``images/1.jpg`` and
  ``thumbnails/1.jpg``) is never guessed: :func:`read_raw` refuses and lists the candidates. Files in
  hidden folders (``.cache/``, ``.ipynb_checkpoints/``) are not images of the layout.

Rows come out in the contract of :mod:`rsmmvp_tasks.schema` with ``image`` an absolute path
(``None`` when no file matched: the validator reports it). Nothing is validated here; an answer
that cannot be read is kept as written so that the validator names it.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.schema import IMAGE_SUFFIXES, PAIR_SIZE, normalize_name, normalize_pattern, option_letters
from rsmmvp_tasks.values import none_if_missing, text_or_empty

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


class RawLayoutError(InputError):
    """The folder does not hold a question table and images this reader understands (exit code 2)."""


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
    normalized = {normalize_name(c): c for c in columns}
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


def _as_question_table(path: Path) -> tuple[Any, dict[str, str], dict[str, str], list[str]]:
    """(frame, field -> column, letter -> option column, missing fields) of one table file."""
    frame = _read_table(path)
    mapping, option_cols = _map_columns(list(frame.columns))
    missing = [f for f in _REQUIRED_FIELDS if f not in mapping]
    if "options" not in mapping and len(option_cols) < 2:
        missing.append("options")
    return frame, mapping, option_cols, missing


def find_table(
    root: Path, table: str | Path | None = None
) -> tuple[Path, Any, dict[str, str], dict[str, str]]:
    """The question table under ``root``: (path, DataFrame, field -> column, letter -> option column).

    ``table`` names the file (relative to ``root``, or absolute); without it, exactly one table file
    under ``root`` may have the columns of a question table, else :class:`RawLayoutError` lists them.
    """
    if table is not None:
        path = Path(table).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise RawLayoutError(f"--table {table}: no such file under {root}")
        try:
            frame, mapping, option_cols, missing = _as_question_table(path)
        except RawLayoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure is this file's problem, said so
            raise RawLayoutError(f"--table {path}: unreadable ({type(exc).__name__}: {exc})") from exc
        if missing:
            raise RawLayoutError(
                f"--table {path}: not a question table: columns {list(frame.columns)} lack {missing} "
                "(expected Index, Question, Options, Correct Answer or the aliases in rsmmvp_tasks.dataset.raw)"
            )
        logger.info("question table: %s (%d rows)", path, len(frame))
        return path, frame, mapping, option_cols

    files = sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root))
    tables = [p for p in files if p.suffix.lower() in TABLE_SUFFIXES]
    problems = []
    found: list[tuple[Path, Any, dict[str, str], dict[str, str]]] = []
    for path in tables:
        try:
            frame, mapping, option_cols, missing = _as_question_table(path)
        except Exception as exc:  # noqa: BLE001 - a table we cannot read is one candidate less, reported
            problems.append(f"{path.relative_to(root)}: unreadable ({type(exc).__name__}: {exc})")
            continue
        if missing:
            problems.append(f"{path.relative_to(root)}: columns {list(frame.columns)} lack {missing}")
        else:
            found.append((path, frame, mapping, option_cols))
    if len(found) == 1:
        path, frame = found[0][:2]
        logger.info("question table: %s (%d rows)", path, len(frame))
        return found[0]
    if len(found) > 1:
        listed = ", ".join(f"{p.relative_to(root)} ({len(f)} rows)" for p, f, _, _ in found)
        raise RawLayoutError(
            f"{root}: {len(found)} files could be the question table: {listed}. Refusing to guess; name the one "
            "to use with --table FILE (rsmmvp validate/build) or read_raw(..., table=FILE), or move the others out."
        )
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


#: inline option markers: "(a) X (b) Y", then "A. X B. Y" / "a) X b) Y"; a marker starts the text or follows a space
_MARKERS = (
    re.compile(r"(?:^|(?<=\s))\(([a-zA-Z])\)\s*"),
    re.compile(r"(?:^|(?<=\s))([a-zA-Z])[.:)]\s+"),
)


def _split_on_markers(text: str, marker: re.Pattern[str]) -> list[str] | None:
    """Options between markers that run a, b, c, ... in order (others are text); ``None`` if < 2."""
    picked: list[re.Match[str]] = []
    for m in marker.finditer(text):
        letter = m.group(1)
        if not picked:
            if letter in "aA":
                picked.append(m)
        elif letter == chr(ord(picked[-1].group(1)) + 1):
            picked.append(m)
    if len(picked) < 2:
        return None
    ends = [m.start() for m in picked[1:]] + [len(text)]
    # a separator written before the next marker ("(a) Left, (b) Right") belongs to neither option
    return [text[m.end() : end].strip().rstrip(",;").strip() for m, end in zip(picked, ends, strict=False)]


def parse_options(value: Any) -> list[str]:
    """``"(a) X (b) Y"``, ``"A. X B. Y"``, a JSON list string, or a list -> ``["X", "Y"]``.

    Inline markers must run a, b, c, ... in order: ``"(a) tree(s) present (b) none"`` ->
    ``["tree(s) present", "none"]``; ``"A. Zone C: urban B. rural"`` -> ``["Zone C: urban", "rural"]``;
    ``"(a) Left, (b) Right"`` -> ``["Left", "Right"]``.
    """
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, str)):
        return [str(v).strip() for v in list(value)]
    text = text_or_empty(value)
    if text.startswith("["):
        try:
            return [str(v).strip() for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    for marker in _MARKERS:
        options = _split_on_markers(text, marker)
        if options is not None:
            return options
    if "\n" in text:
        return [line.strip() for line in text.splitlines() if line.strip()]
    return [text] if text else []


def parse_answer(value: Any, options: list[str]) -> str:
    """``"(a)"``, ``"A"``, ``"a."`` or an option's text -> its letter; unreadable -> the text as written."""
    text = str(value or "").strip()
    m = re.fullmatch(r"\(?\s*([A-Za-z])\s*[).]?", text)
    if m:
        return m.group(1).upper()
    for letter, option in zip(option_letters(len(options)), options, strict=False):
        if text.lower() == option.strip().lower():
            return letter
    return text


def _hidden(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in a hidden folder under ``root`` (``.cache/``, ``.ipynb_checkpoints/``)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts[:-1])


class ImageFiles:
    """The image files under a layout's root, looked up by relative path, file name or index.

    :meth:`find` returns ``(path, candidates)``: the one file meant, or ``None`` with the files
    that could be meant when there are several (the caller refuses; it never picks one).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.by_path: dict[str, Path] = {}
        self.by_name: dict[str, list[Path]] = defaultdict(list)
        self.by_lower_name: dict[str, list[Path]] = defaultdict(list)
        self.by_stem: dict[str, list[Path]] = defaultdict(list)
        self.by_lower_stem: dict[str, list[Path]] = defaultdict(list)
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not _hidden(p, root):
                p = p.absolute()  # not resolve(): hub snapshots link to blobs without a file name
                self.by_path[p.relative_to(root.absolute()).as_posix()] = p
                self.by_name[p.name].append(p)
                self.by_lower_name[p.name.lower()].append(p)
                self.by_stem[p.stem].append(p)
                self.by_lower_stem[p.stem.lower()].append(p)

    def find(self, ref: Any, index: int, table_dir: Path) -> tuple[Path | None, list[Path]]:
        """The image of a row: ``ref`` (its file-name cell, ``None`` if none) or else its ``index``."""
        if ref is None or not str(ref).strip():
            return self._unique(self.by_stem.get(str(index), []))
        text = str(ref).strip().replace("\\", "/")
        given = Path(text).expanduser()
        if given.is_absolute():
            if given.is_file():
                return given, []
        else:
            relative = Path(text).as_posix().removeprefix("./")
            if relative in self.by_path:
                return self.by_path[relative], []
            beside_table = table_dir / relative
            if beside_table.is_file() and beside_table.suffix.lower() in IMAGE_SUFFIXES:
                return beside_table.absolute(), []
        name = given.name
        for table, key in (
            (self.by_name, name),
            (self.by_lower_name, name.lower()),
            (self.by_stem, name),
            (self.by_lower_stem, name.lower()),
        ):
            if table.get(key):
                return self._unique(table[key])
        return None, []

    @staticmethod
    def _unique(candidates: list[Path]) -> tuple[Path | None, list[Path]]:
        if len(candidates) == 1:
            return candidates[0], []
        return None, candidates


def _cell(row: Any, column: str | None) -> Any:
    """The row's value in ``column`` (``None`` for no column or a missing cell)."""
    return None if column is None else none_if_missing(row[column])


def read_raw(
    root: str | Path, *, pair_size: int = PAIR_SIZE, table: str | Path | None = None
) -> list[dict[str, Any]]:
    """Read the layout under ``root`` into contract rows (see the module docstring).

    ``table``: the question table file (relative to ``root`` or absolute) when the folder holds more
    than one. Raises :class:`RawLayoutError` for a folder it cannot read, several candidate tables, or
    an image name that more than one file answers to.
    """
    root = Path(root)
    if not root.is_dir():
        kind = "a file" if root.is_file() else "no such folder"
        raise RawLayoutError(f"{root}: {kind}; a raw layout is a folder with a question table and image files")
    if pair_size < 1:
        raise UsageError(f"pair size must be at least 1, got {pair_size}")
    table_path, frame, mapping, option_cols = find_table(root, table)
    images = ImageFiles(root)
    ambiguous: list[str] = []
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
            options = [text_or_empty(_cell(row, c)) for c in option_cols.values()]
            options = [o for o in options if o]
        pattern_raw = text_or_empty(_cell(row, mapping.get("pattern")))
        image_ref = _cell(row, mapping.get("image"))
        image, candidates = images.find(image_ref, index, table_path.parent)
        if candidates:
            named = f"image {image_ref!r}" if image_ref else f"index {index} (no image column)"
            listed = ", ".join(str(p.relative_to(root.absolute())) for p in candidates)
            ambiguous.append(f"table row {position}, {named}: {listed}")
        pair = _cell(row, mapping.get("pair_id"))
        rows.append(
            {
                "index": index,
                "pair_id": str(pair).strip() if pair not in (None, "") else str((index - 1) // pair_size),
                "question": text_or_empty(_cell(row, mapping["question"])),
                "options": options,
                "answer": parse_answer(_cell(row, mapping["answer"]), options),
                "pattern": normalize_pattern(pattern_raw) or pattern_raw,
                "image": str(image) if image else None,
                "source": text_or_empty(_cell(row, mapping.get("source"))) or None,
                "clip_similarity": None,
                "ssl_similarity": None,
                "encoders": None,
            }
        )
    if ambiguous:
        shown = ambiguous[:10] + ([f"... (+{len(ambiguous) - 10} more rows)"] if len(ambiguous) > 10 else [])
        raise RawLayoutError(
            f"{table_path}: {len(ambiguous)} row(s) name an image that more than one file under {root} answers to; "
            "refusing to guess. Write the image path relative to the folder in an image column (e.g. "
            "'left/1.png'), or move the other files (thumbnails, copies) out of the folder.\n" + "\n".join(shown)
        )
    logger.info(
        "read %d rows from %s (%d images matched)", len(rows), table_path, sum(r["image"] is not None for r in rows)
    )
    return rows
