"""Human annotations of mined pairs, and the dataset rows they become.

``rsmmvp mine`` writes a PAIRS table; ``rsmmvp review`` turns it into an annotation page; a person
writes one question per pair; :func:`rows_from_annotations` reads PAIRS + annotations back as rows of
the dataset contract (:mod:`rsmmvp_tasks.schema`), which ``rsmmvp build`` writes out.

PAIRS table
-----------
Parquet (``.parquet``) or CSV (anything else), one row per mined pair. Required columns:
``image_a``, ``image_b`` (image paths, or ids when ``path_a``/``path_b`` hold the paths),
``clip_similarity``, ``ssl_similarity``. Optional: ``rank`` (int, unique; the pair's key; row order
1, 2, ... when absent), ``gap``, ``path_a``/``path_b``, ``clip_encoder``/``ssl_encoder`` (model ids,
recorded as ``encoders="clip=<id>;ssl=<id>"``). Other columns are carried through to the review page.
Relative image paths are resolved against the PAIRS file's folder first, then the working directory.

Annotation file, JSON (what the review page's "Download annotations (JSON)" button writes)
------------------------------------------------------------------------------------------
::

    {"pairs_sha256": "<sha256 of the PAIRS file>",          # identifies the PAIRS table
     "pairs_file": "pairs.parquet",                          # informative
     "annotations": [
       {"pair_rank": 3,                                      # the PAIRS ``rank`` (the pair key) ...
        "image_a": "img/0012.png", "image_b": "img/0457.png",  # ... or, without pair_rank, these
        "question": "Is there a road crossing the river?",
        "options": ["Yes", "No"],                            # 2+ options, letters A, B, ... in order
        "answer_a": "A", "answer_b": "B",                    # correct letter for image A / image B
        "pattern": "presence",                               # a key of schema.PATTERNS (or an alias)
        "skip": false}                                       # true: the pair is not usable
     ]}

Annotation file, CSV (``annotations_template.csv`` written by ``rsmmvp review``, filled in a spreadsheet)
-------------------------------------------------------------------------------------------------------
Columns :data:`CSV_COLUMNS`, one row per pair: ``option_a``/``option_b`` are the *texts* of options
A and B (more options: ``option_c``, ...); ``answer_a``/``answer_b`` are the letters of the correct
option for image A and image B (the option text is accepted too); ``skip`` is ``1``/``yes``/``true``/``x``
to skip. ``clip_similarity``/``ssl_similarity`` are there to read, not read back.

Rules
-----
- The annotation file must belong to the PAIRS table: same ``pairs_sha256``, or (CSV, or a PAIRS file
  re-saved in another format) every annotation's ``image_a``/``image_b`` equal to those of its pair.
  Otherwise ``ValueError`` says which file was made for which table.
- Skipped pairs, entries left entirely empty, and pairs with no entry are left out (counts logged).
- Every other entry must be complete: a question, 2+ distinct non-empty options, ``answer_a`` and
  ``answer_b`` among the options and different, a known pattern. All problems are collected and
  raised at once in one ``ValueError``, each naming its pair; nothing is dropped silently.

Rows
----
Two rows per annotated pair (image A, then image B), pairs in rank order, ``index`` 1..2n,
``pair_id = "pair-<rank:04d>"``, ``image`` the resolved file path (``str``), ``source`` the PAIRS
``image_a``/``image_b`` value, ``clip_similarity``, ``ssl_similarity`` and ``encoders`` (``None`` when
the PAIRS table does not name its encoders).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.schema import PAIR_SIZE, PATTERNS, normalize_pattern, option_letters

__all__ = [
    "CSV_COLUMNS",
    "PAIRS_REQUIRED_COLUMNS",
    "Annotation",
    "PairsTable",
    "file_sha256",
    "read_annotations",
    "read_pairs",
    "rows_from_annotations",
    "write_annotation_template",
]

log = logging.getLogger(__name__)

#: Columns a PAIRS table must have.
PAIRS_REQUIRED_COLUMNS: tuple[str, ...] = ("image_a", "image_b", "clip_similarity", "ssl_similarity")

#: Columns of the CSV annotation template, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "pair_rank", "image_a", "image_b", "clip_similarity", "ssl_similarity",
    "question", "option_a", "option_b", "answer_a", "answer_b", "pattern", "skip",
)

_TRUE = {"1", "true", "yes", "y", "x", "skip"}
_FALSE = {"", "0", "false", "no", "n"}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (the PAIRS table's identity)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class PairsTable:
    """A PAIRS table as read by :func:`read_pairs`.

    ``records`` are the table's rows as dicts in rank order, each with an int ``rank``;
    ``path_a``/``path_b`` in a record hold the *resolved* image paths.
    """

    path: Path
    sha256: str
    records: list[dict[str, Any]]

    def by_rank(self) -> dict[int, dict[str, Any]]:
        return {r["rank"]: r for r in self.records}

    def encoders(self, record: Mapping[str, Any]) -> str | None:
        """``"clip=<id>;ssl=<id>"`` from the ``clip_encoder``/``ssl_encoder`` columns, or ``None``."""
        clip, ssl = _text(record.get("clip_encoder")), _text(record.get("ssl_encoder"))
        return f"clip={clip};ssl={ssl}" if clip or ssl else None


def _text(value: Any) -> str:
    """A cell as stripped text; ``None``/NaN -> ``""``."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()


def _resolve_image(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    for candidate in (base / p, Path.cwd() / p):
        if candidate.exists():
            return candidate.resolve()
    return (base / p).resolve()


def read_pairs(path: str | Path) -> PairsTable:
    """Read and check a PAIRS table (parquet or CSV); see the module docstring for its columns.

    Raises ``FileNotFoundError`` when it is missing and ``ValueError`` on missing columns,
    non-numeric similarities or duplicate ranks.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"PAIRS table not found: {path} (write one with `rsmmvp mine`)")
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in PAIRS_REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: not a PAIRS table, missing column(s) {missing} (has {list(frame.columns)}); "
            f"it needs {list(PAIRS_REQUIRED_COLUMNS)}, as written by `rsmmvp mine`"
        )
    for col in ("clip_similarity", "ssl_similarity"):
        try:
            frame[col] = pd.to_numeric(frame[col]).astype(float)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: column {col!r} must hold numbers ({exc})") from None
    if "rank" in frame.columns:
        try:
            frame["rank"] = pd.to_numeric(frame["rank"]).astype(int)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: column 'rank' must hold integers ({exc})") from None
        dupes = sorted(frame.loc[frame["rank"].duplicated(), "rank"].unique().tolist())
        if dupes:
            raise ValueError(f"{path}: rank(s) {dupes[:10]} appear more than once; ranks key the pairs and must be unique")
        frame = frame.sort_values("rank", kind="stable")
    else:
        frame["rank"] = range(1, len(frame) + 1)

    base = path.resolve().parent
    records: list[dict[str, Any]] = []
    for rec in frame.to_dict(orient="records"):
        rec = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        rec["rank"] = int(rec["rank"])
        rec["image_a"], rec["image_b"] = _text(rec["image_a"]), _text(rec["image_b"])
        for side in ("a", "b"):
            raw = _text(rec.get(f"path_{side}")) or rec[f"image_{side}"]
            rec[f"path_{side}"] = str(_resolve_image(raw, base))
        records.append(rec)
    return PairsTable(path=path, sha256=file_sha256(path), records=records)


@dataclass
class Annotation:
    """One pair's annotation as read from a JSON or CSV annotation file (fields as written)."""

    pair_rank: int | None
    image_a: str = ""
    image_b: str = ""
    question: str = ""
    options: list[str] = field(default_factory=list)
    answer_a: str = ""
    answer_b: str = ""
    pattern: str = ""
    skip: bool = False
    where: str = ""  # "entry 3" / "CSV line 4": for error messages

    def is_empty(self) -> bool:
        """Nothing written: an untouched template row or page card."""
        return not (self.question or any(self.options) or self.answer_a or self.answer_b or self.pattern or self.skip)


def _parse_rank(value: Any, where: str) -> int | None:
    text = _text(value)
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise ValueError(f"{where}: pair_rank {value!r} is not an integer") from None


def _parse_skip(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{where}: skip {value!r} is not one of yes/no, true/false, 1/0, x/empty")


def read_annotations(path: str | Path) -> tuple[str | None, list[Annotation]]:
    """Read an annotation file: ``(pairs_sha256 or None, annotations)``.

    ``.json`` is the review page's export; anything else is read as the CSV template.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    if path.suffix.lower() == ".json":
        return _read_json(path)
    return None, _read_csv(path)


def _read_json(path: Path) -> tuple[str | None, list[Annotation]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(f'{path}: expected an object {{"pairs_sha256": ..., "annotations": [...]}} (see rsmmvp_tasks.mining.annotations)')
    out: list[Annotation] = []
    for i, item in enumerate(data["annotations"], start=1):
        where = f"{path.name} entry {i}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
        options = item.get("options") or []
        if not isinstance(options, list):
            raise ValueError(f"{where}: 'options' must be a list of strings")
        out.append(Annotation(
            pair_rank=_parse_rank(item.get("pair_rank", item.get("rank")), where),
            image_a=_text(item.get("image_a")), image_b=_text(item.get("image_b")),
            question=_text(item.get("question")), options=[_text(o) for o in options],
            answer_a=_text(item.get("answer_a")), answer_b=_text(item.get("answer_b")),
            pattern=_text(item.get("pattern")), skip=_parse_skip(item.get("skip", False), where), where=where,
        ))
    sha = data.get("pairs_sha256")
    return (str(sha) if sha else None), out


def _csv_text(path: Path) -> str:
    """A CSV file's text: UTF-8 (with or without BOM), else Windows-1252 (what some spreadsheets save)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8; reading it as Windows-1252 (save as 'CSV UTF-8' to avoid this)", path)
        return raw.decode("cp1252", errors="replace")


def _read_csv(path: Path) -> list[Annotation]:
    text = _csv_text(path)
    try:  # spreadsheets in some locales save with ";" (or tabs)
        dialect: Any = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    header = reader.fieldnames or []
    need = [c for c in ("question", "answer_a", "answer_b", "pattern") if c not in header]
    if need or not ({"pair_rank"} <= set(header) or {"image_a", "image_b"} <= set(header)):
        raise ValueError(
            f"{path}: not an annotation CSV, missing column(s) {need or ['pair_rank']}; "
            f"expected the columns of annotations_template.csv: {', '.join(CSV_COLUMNS)}"
        )
    option_cols = sorted(c for c in header if re.fullmatch(r"option_[a-z]", c))
    out: list[Annotation] = []
    for row in reader:
        where = f"{path.name} line {reader.line_num}"
        options = [_text(row.get(c)) for c in option_cols]
        while len(options) > 2 and not options[-1]:  # unused option_c, option_d, ...
            options.pop()
        out.append(Annotation(
            pair_rank=_parse_rank(row.get("pair_rank"), where),
            image_a=_text(row.get("image_a")), image_b=_text(row.get("image_b")),
            question=_text(row.get("question")), options=options if any(options) else [],
            answer_a=_text(row.get("answer_a")), answer_b=_text(row.get("answer_b")),
            pattern=_text(row.get("pattern")), skip=_parse_skip(row.get("skip", ""), where), where=where,
        ))
    return out


def write_annotation_template(pairs: PairsTable, path: str | Path, limit: int | None = None) -> Path:
    """Write the CSV annotation template (:data:`CSV_COLUMNS`, one row per pair, answers blank)."""
    path = Path(path)
    records = pairs.records[:limit] if limit else pairs.records
    # UTF-8 with a BOM, so that Excel shows non-ASCII questions right; the reader accepts either.
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for rec in records:
            writer.writerow({
                "pair_rank": rec["rank"], "image_a": rec["image_a"], "image_b": rec["image_b"],
                "clip_similarity": f"{rec['clip_similarity']:.4f}", "ssl_similarity": f"{rec['ssl_similarity']:.4f}",
            })
    return path


def _answer_letter(answer: str, options: list[str]) -> str | None:
    """The letter of ``answer`` (a letter, or an option's exact text) among ``options``; ``None`` if neither."""
    letters = option_letters(len(options)) if len(options) <= 26 else []
    if len(answer) == 1 and answer.upper() in letters:
        return answer.upper()
    for letter, text in zip(letters, options):
        if answer and answer.casefold() == text.casefold():
            return letter
    return None


def _problems(ann: Annotation) -> tuple[list[str], tuple[str, str, str] | None]:
    """Problems of one non-empty, non-skipped annotation, and ``(answer_a, answer_b, pattern)`` if none."""
    problems: list[str] = []
    if not ann.question:
        problems.append("no question")
    options = ann.options
    if len([o for o in options if o]) < 2:
        problems.append(f"needs 2+ non-empty options, got {options}")
    elif any(not o for o in options):
        problems.append(f"an option is empty: {options}")
    elif len({o.casefold() for o in options}) != len(options):
        problems.append(f"options repeat: {options}")
    letters: list[str | None] = []
    for side, answer in (("a", ann.answer_a), ("b", ann.answer_b)):
        letter = _answer_letter(answer, options)
        if not answer:
            problems.append(f"no answer for image {side.upper()}")
        elif letter is None:
            problems.append(f"answer_{side} {answer!r} is not an option letter of {options}")
        letters.append(letter)
    if letters[0] and letters[0] == letters[1]:
        problems.append(f"image A and image B have the same answer {letters[0]!r}; a pair needs opposite answers")
    pattern = normalize_pattern(ann.pattern) if ann.pattern else None
    if not ann.pattern:
        problems.append(f"no pattern (one of {', '.join(PATTERNS)})")
    elif pattern is None:
        problems.append(f"unknown pattern {ann.pattern!r} (one of {', '.join(PATTERNS)})")
    if problems:
        return problems, None
    assert letters[0] and letters[1] and pattern
    return [], (letters[0], letters[1], pattern)


def _match(pairs: PairsTable, annotations: Iterable[Annotation], file_sha: str | None,
           annotations_path: Path) -> dict[int, Annotation]:
    """Annotations keyed by the rank of their pair; raises if the file belongs to another PAIRS table."""
    by_rank = pairs.by_rank()
    by_images = {(r["image_a"], r["image_b"]): r["rank"] for r in pairs.records}
    matched: dict[int, Annotation] = {}
    foreign: list[str] = []
    for ann in annotations:
        if ann.pair_rank is not None:
            rank = ann.pair_rank
            rec = by_rank.get(rank)
            if rec is None:
                foreign.append(f"{ann.where}: pair_rank {rank} is not in the PAIRS table")
                continue
            if (ann.image_a and ann.image_a != rec["image_a"]) or (ann.image_b and ann.image_b != rec["image_b"]):
                foreign.append(f"{ann.where}: pair_rank {rank} names images {ann.image_a!r}, {ann.image_b!r} "
                               f"but PAIRS has {rec['image_a']!r}, {rec['image_b']!r}")
                continue
        else:
            found = by_images.get((ann.image_a, ann.image_b))
            if found is None:
                if ann.is_empty():
                    continue
                foreign.append(f"{ann.where}: no pair_rank, and images {ann.image_a!r}, {ann.image_b!r} are no PAIRS pair")
                continue
            rank = found
        if rank in matched:
            if ann.is_empty():
                continue
            if not matched[rank].is_empty():
                foreign.append(f"{ann.where}: a second annotation for pair rank {rank} (first: {matched[rank].where})")
                continue
        matched[rank] = ann
    unverified = [a for a in matched.values() if not (a.image_a and a.image_b)]
    if file_sha and file_sha != pairs.sha256 and (foreign or unverified):
        raise ValueError(
            f"{annotations_path} was made for a PAIRS table with sha256 {file_sha[:12]}..., "
            f"not for {pairs.path} (sha256 {pairs.sha256[:12]}...)"
            + (f"; and its pairs do not match: {foreign[0]}" if foreign else
               f"; and {unverified[0].where} names no images to check it by")
            + ". Pass the PAIRS file the review page was made from."
        )
    if file_sha and file_sha != pairs.sha256:
        log.warning("%s was made for another PAIRS file (sha256 %s...) but every annotated pair's images match %s; using it",
                    annotations_path, file_sha[:12], pairs.path)
    if foreign:
        raise ValueError(
            f"{annotations_path} does not match PAIRS table {pairs.path} ({len(foreign)} problem(s)):\n  "
            + "\n  ".join(foreign)
        )
    return matched


def rows_from_annotations(pairs_path: Path, annotations_path: Path) -> list[dict[str, Any]]:
    """Dataset rows (the :mod:`rsmmvp_tasks.schema` contract) from a PAIRS table and its annotations.

    See the module docstring for the formats and rules. Raises ``ValueError`` listing every bad
    annotation (with its pair), or when the annotation file belongs to another PAIRS table or
    annotates no pair at all.
    """
    pairs_path, annotations_path = Path(pairs_path), Path(annotations_path)
    pairs = read_pairs(pairs_path)
    file_sha, annotations = read_annotations(annotations_path)
    matched = _match(pairs, annotations, file_sha, annotations_path)

    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    skipped = empty = 0
    for rec in pairs.records:
        ann = matched.get(rec["rank"])
        if ann is None or ann.is_empty():
            empty += 1
            continue
        if ann.skip:
            skipped += 1
            continue
        bad, good = _problems(ann)
        if bad:
            problems.append(f"pair rank {rec['rank']} ({rec['image_a']} | {rec['image_b']}, {ann.where}): " + "; ".join(bad))
            continue
        assert good is not None
        answer_a, answer_b, pattern = good
        pair_id = f"pair-{rec['rank']:04d}"
        for side, answer in (("a", answer_a), ("b", answer_b)):
            rows.append({
                "index": len(rows) + 1,
                "pair_id": pair_id,
                "question": ann.question,
                "options": list(ann.options),
                "answer": answer,
                "pattern": pattern,
                "image": rec[f"path_{side}"],
                "source": rec[f"image_{side}"],
                "clip_similarity": float(rec["clip_similarity"]),
                "ssl_similarity": float(rec["ssl_similarity"]),
                "encoders": pairs.encoders(rec),
            })
    if problems:
        raise ValueError(
            f"{annotations_path}: {len(problems)} pair(s) have bad annotations "
            "(fix them, or mark the pair skipped):\n  " + "\n  ".join(problems)
        )
    annotated = len(rows) // PAIR_SIZE
    log.info("%s: %d pair(s) annotated -> %d rows; %d skipped; %d not annotated (of %d in %s)",
             annotations_path.name, annotated, len(rows), skipped, empty, len(pairs.records), pairs.path.name)
    if not rows:
        raise ValueError(
            f"{annotations_path}: no annotated pair ({skipped} skipped, {empty} not annotated, "
            f"of {len(pairs.records)}); annotate some pairs with `rsmmvp review` first"
        )
    missing = [r["image"] for r in rows if not Path(r["image"]).exists()]
    if missing:
        log.warning("%d image file(s) of annotated pairs do not exist, e.g. %s", len(missing), missing[0])
    return rows
