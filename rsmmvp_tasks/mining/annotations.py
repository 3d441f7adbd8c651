"""Human annotations of mined pairs, and the dataset rows they become.

``rsmmvp mine`` writes a PAIRS table; ``rsmmvp review`` turns it into an annotation page; a person
writes one question per pair; :func:`rows_from_annotations` reads PAIRS + annotations back as rows of
the dataset contract (:mod:`rsmmvp_tasks.schema`), which ``rsmmvp build`` writes out.

The PAIRS table is defined in :mod:`rsmmvp_tasks.mining.pairs`.

Annotation file, JSON (what the review page's "Download annotations (JSON)" button writes)
------------------------------------------------------------------------------------------
::

    {"pairs_sha256": "<sha256 of the PAIRS file>",          # identifies the PAIRS table
     "pairs_file": "pairs.parquet",                          # informative
     "annotations": [
       {"pair_rank": 3,                                      # the PAIRS ``rank`` (informative)
        "image_a": "img/0012.png", "image_b": "img/0457.png",  # the pair's image ids: its key
        "question": "Is there a road crossing the river?",
        "options": ["Yes", "No"],                            # 2+ options, letters A, B, ... in order
        "answer_a": "A", "answer_b": "B",                    # correct letter for image A / image B
        "pattern": "presence",                               # a key of schema.PATTERNS (or an alias)
        "skip": false}                                       # true: the pair is not usable
     ]}

Annotation file, CSV (``annotations_template.csv`` written by ``rsmmvp review``, filled in a spreadsheet)
-------------------------------------------------------------------------------------------------------
Columns :data:`CSV_COLUMNS`, one row per pair: ``image_a``/``image_b`` are the pair's key (keep them); ``option_a``/``option_b`` are the *texts* of options
A and B (more options: ``option_c``, ...); ``answer_a``/``answer_b`` are the letters of the correct
option for image A and image B (the option text is accepted too); ``skip`` is ``1``/``yes``/``true``/``x``
to skip. ``clip_similarity``/``ssl_similarity`` are there to read, not read back. The template is
UTF-8 with a byte-order mark (so Excel shows non-ASCII text right) and formula-safe
(:func:`rsmmvp_tasks.fileio.write_csv_safe`).

Rules
-----
- An annotation attaches to its pair by the pair's image ids ``(image_a, image_b)``, never by rank
  alone: ranks change when pairs are re-mined, and an annotation must not move to another pair. An
  entry whose ``pair_rank`` now belongs to other images attaches to the pair of its images (logged).
  An entry without image ids (rank only) is accepted only when the file's ``pairs_sha256`` proves it
  was made for this very PAIRS file; otherwise :class:`AnnotationError` asks for the image ids.
- An entry whose images are no pair of the table is refused (:class:`AnnotationError`, every such
  entry listed; when ``pairs_sha256`` names another table, the message says so).
- Skipped pairs, entries left entirely empty, and pairs with no entry are left out (counts logged).
- Every other entry must be complete: a question, 2+ distinct non-empty options, ``answer_a`` and
  ``answer_b`` among the options and different, a known pattern. All problems are collected and
  raised at once in one :class:`AnnotationProblems`, each naming its pair; nothing is dropped silently.
- CSV cells neutralised against formula injection (a leading ``'`` before ``=``, ``+``, ``-``, ``@``)
  are restored when read.

Rows
----
Two rows per annotated pair (image A, then image B), pairs in rank order, ``index`` 1..2n,
``pair_id = "pair-<rank:04d>"``, ``image`` the resolved file path (``str``), ``source`` the PAIRS
``image_a``/``image_b`` value, ``clip_similarity``, ``ssl_similarity`` and ``encoders`` (``None`` when
the PAIRS table does not name its encoders), and ``imagery`` (the image's place and decoding settings
from the PAIRS ``geo_a``/``geo_b``/``read`` columns, :mod:`rsmmvp_tasks.imagery.provenance`; ``None``
without them).

Errors: :class:`AnnotationError` (an :class:`~rsmmvp_tasks.errors.InputError`, exit 2) for a file
that is missing, unreadable, made for another table or keyed by rank only;
:class:`AnnotationProblems` (a :class:`~rsmmvp_tasks.errors.DataViolationError`, exit 1) listing
incomplete annotations.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import DataViolationError, InputError
from rsmmvp_tasks.fileio import restore_csv_cell, write_csv_safe
from rsmmvp_tasks.imagery.provenance import row_provenance
from rsmmvp_tasks.mining.pairs import PairsTable, file_sha256, read_pairs
from rsmmvp_tasks.schema import PAIR_SIZE, PATTERNS, normalize_pattern, option_letters, option_problems
from rsmmvp_tasks.values import text_or_empty

__all__ = [
    "CSV_COLUMNS",
    "Annotation",
    "AnnotationError",
    "AnnotationProblems",
    "file_sha256",
    "read_annotations",
    "read_pairs",
    "rows_from_annotations",
    "write_annotation_template",
]

log = logging.getLogger(__name__)

#: Columns of the CSV annotation template, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "pair_rank", "image_a", "image_b", "clip_similarity", "ssl_similarity",
    "question", "option_a", "option_b", "answer_a", "answer_b", "pattern", "skip",
)

_TRUE = {"1", "true", "yes", "y", "x", "skip"}
_FALSE = {"", "0", "false", "no", "n"}
#: U+FEFF first in the file: what the utf-8-sig codec writes, so spreadsheets read the CSV as UTF-8
_BOM = "\ufeff"


class AnnotationError(InputError):
    """An annotation file that cannot be used: missing, unreadable, for another PAIRS table, keyed by rank only."""


class AnnotationProblems(DataViolationError):
    """Annotations that were read but are incomplete or inconsistent (every one listed, with its pair)."""


def _cell(value: Any) -> str:
    """A CSV cell as stripped text (``""`` when missing), with a formula-neutralising ``'`` removed."""
    return text_or_empty(restore_csv_cell(value))


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

    @property
    def images(self) -> tuple[str, str]:
        return self.image_a, self.image_b


def _parse_rank(value: Any, where: str) -> int | None:
    text = text_or_empty(value)
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise AnnotationError(f"{where}: pair_rank {value!r} is not an integer") from None


def _parse_skip(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = text_or_empty(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AnnotationError(f"{where}: skip {value!r} is not one of yes/no, true/false, 1/0, x/empty")


def read_annotations(path: str | Path) -> tuple[str | None, list[Annotation]]:
    """Read an annotation file: ``(pairs_sha256 or None, annotations)``.

    ``.json`` is the review page's export; anything else is read as the CSV template.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation file not found: {path} (download it from the `rsmmvp review` page, or "
                              "fill in its annotations_template.csv)")
    if path.suffix.lower() == ".json":
        return _read_json(path)
    return None, _read_csv(path)


def _read_json(path: Path) -> tuple[str | None, list[Annotation]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise AnnotationError(f'{path}: expected an object {{"pairs_sha256": ..., "annotations": [...]}} (see rsmmvp_tasks.mining.annotations)')
    out: list[Annotation] = []
    for i, item in enumerate(data["annotations"], start=1):
        where = f"{path.name} entry {i}"
        if not isinstance(item, dict):
            raise AnnotationError(f"{where}: expected an object, got {type(item).__name__}")
        options = item.get("options") or []
        if not isinstance(options, list):
            raise AnnotationError(f"{where}: 'options' must be a list of strings")
        out.append(Annotation(
            pair_rank=_parse_rank(item.get("pair_rank", item.get("rank")), where),
            image_a=text_or_empty(item.get("image_a")), image_b=text_or_empty(item.get("image_b")),
            question=text_or_empty(item.get("question")), options=[text_or_empty(o) for o in options],
            answer_a=text_or_empty(item.get("answer_a")), answer_b=text_or_empty(item.get("answer_b")),
            pattern=text_or_empty(item.get("pattern")), skip=_parse_skip(item.get("skip", False), where), where=where,
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
    try:  # spreadsheets in some locales save with ";" (or tabs); quoting stays the excel one ("" inside quotes)
        delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=csv.excel, delimiter=delimiter)
    header = reader.fieldnames or []
    need = [c for c in ("question", "answer_a", "answer_b", "pattern") if c not in header]
    if need or not ({"pair_rank"} <= set(header) or {"image_a", "image_b"} <= set(header)):
        raise AnnotationError(
            f"{path}: not an annotation CSV, missing column(s) {need or ['pair_rank']}; "
            f"expected the columns of annotations_template.csv: {', '.join(CSV_COLUMNS)}"
        )
    option_cols = sorted(c for c in header if re.fullmatch(r"option_[a-z]", c))
    out: list[Annotation] = []
    for row in reader:
        where = f"{path.name} line {reader.line_num}"
        options = [_cell(row.get(c)) for c in option_cols]
        while len(options) > 2 and not options[-1]:  # unused option_c, option_d, ...
            options.pop()
        out.append(Annotation(
            pair_rank=_parse_rank(row.get("pair_rank"), where),
            image_a=_cell(row.get("image_a")), image_b=_cell(row.get("image_b")),
            question=_cell(row.get("question")), options=options if any(options) else [],
            answer_a=_cell(row.get("answer_a")), answer_b=_cell(row.get("answer_b")),
            pattern=_cell(row.get("pattern")), skip=_parse_skip(row.get("skip", ""), where), where=where,
        ))
    return out


def write_annotation_template(pairs: PairsTable, path: str | Path, limit: int | None = None) -> Path:
    """Write the CSV annotation template (:data:`CSV_COLUMNS`, one row per pair, answers blank).

    UTF-8 with a byte-order mark, every cell formula-safe (:func:`rsmmvp_tasks.fileio.write_csv_safe`).
    """
    records = pairs.records[:limit] if limit else pairs.records
    rows = [[rec["rank"], rec["image_a"], rec["image_b"], f"{rec['clip_similarity']:.4f}",
             f"{rec['ssl_similarity']:.4f}"] + [""] * (len(CSV_COLUMNS) - 5) for rec in records]
    # the BOM rides on the first header cell: the bytes are exactly what the utf-8-sig codec writes
    return write_csv_safe(path, rows, columns=[_BOM + CSV_COLUMNS[0], *CSV_COLUMNS[1:]])


def _answer_letter(answer: str, options: list[str]) -> str | None:
    """The letter of ``answer`` (a letter, or an option's exact text) among ``options``; ``None`` if neither."""
    letters = option_letters(len(options)) if len(options) <= 26 else []
    if len(answer) == 1 and answer.upper() in letters:
        return answer.upper()
    for letter, text in zip(letters, options, strict=False):
        if answer and answer.casefold() == text.casefold():
            return letter
    return None


def _problems(ann: Annotation) -> tuple[list[str], tuple[str, str, str] | None]:
    """Problems of one non-empty, non-skipped annotation, and ``(answer_a, answer_b, pattern)`` if none."""
    problems: list[str] = []
    if not ann.question:
        problems.append("no question")
    options = ann.options
    problems += [message for _, message in option_problems(options)]  # the contract's rule (schema)
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


#: what :func:`_locate` says of a rank-only entry it cannot verify
_RANK_ONLY = "rank-only"


def _locate(ann: Annotation, by_images: dict[tuple[str, str], dict[str, Any]], by_rank: dict[int, dict[str, Any]],
            same_table: bool) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` of the pair ``ann`` belongs to, or ``(None, problem)`` (:data:`_RANK_ONLY` for an
    unverifiable rank-only entry); ``(None, None)`` for an empty entry to ignore."""
    rank = ann.pair_rank
    if ann.image_a or ann.image_b:
        rec = by_images.get(ann.images)
        if rec is not None:
            return rec, None
        if ann.is_empty():
            return None, None
        at_rank = by_rank.get(rank) if rank is not None else None
        if at_rank is not None:
            return None, (f"{ann.where}: pair_rank {rank} names images {ann.image_a!r}, {ann.image_b!r} but PAIRS has "
                          f"{at_rank['image_a']!r}, {at_rank['image_b']!r} at rank {rank}, and no pair has these images")
        return None, (f"{ann.where}: images {ann.image_a!r}, {ann.image_b!r} are no pair of the PAIRS table"
                      + (f" (and pair_rank {rank} is not in it)" if rank is not None else ""))
    if ann.is_empty():
        return None, None
    if rank is None:
        return None, f"{ann.where}: names no pair (no image_a/image_b and no pair_rank)"
    if not same_table:
        return None, _RANK_ONLY
    rec = by_rank.get(rank)
    return (rec, None) if rec is not None else (None, f"{ann.where}: pair_rank {rank} is not in the PAIRS table")


def _refuse_unmatched(pairs: PairsTable, annotations_path: Path, file_sha: str | None,
                      rank_only: list[Annotation], foreign: list[str]) -> None:
    """Raise :class:`AnnotationError` for rank-only annotations of an unproven PAIRS file, or for annotations that
    name no pair of ``pairs`` (see :func:`_match`)."""
    same_table = file_sha is not None and file_sha == pairs.sha256
    if rank_only:
        why = ("records no PAIRS hash" if file_sha is None else
               f"was made for another PAIRS file (sha256 {file_sha[:12]}..., not {pairs.sha256[:12]}...)")
        raise AnnotationError(
            f"{annotations_path}: {len(rank_only)} annotation(s) name their pair by pair_rank only (e.g. "
            f"{rank_only[0].where}: pair_rank {rank_only[0].pair_rank}), and the file {why}; ranks change when pairs "
            "are re-mined, so an annotation attaches to its pair's images. Fill in image_a and image_b as "
            "annotations_template.csv and the review page's export carry them."
        )
    if foreign and file_sha and not same_table:
        raise AnnotationError(
            f"{annotations_path} was made for a PAIRS table with sha256 {file_sha[:12]}..., not for {pairs.path} "
            f"(sha256 {pairs.sha256[:12]}...), and its pairs do not match: {foreign[0]}. Pass the PAIRS file the "
            "review page was made from."
        )
    if foreign:
        raise AnnotationError(f"{annotations_path} does not match PAIRS table {pairs.path} ({len(foreign)} problem(s)):\n  "
                              + "\n  ".join(foreign))


def _match(pairs: PairsTable, annotations: Iterable[Annotation], file_sha: str | None,
           annotations_path: Path) -> dict[tuple[str, str], Annotation]:
    """Annotations keyed by their pair's ``(image_a, image_b)`` (see the module docstring's rules).

    Raises :class:`AnnotationError` for rank-only entries that cannot be proven to belong to this
    PAIRS file, for entries naming no pair of it, and for two annotations of one pair.
    """
    same_table = file_sha is not None and file_sha == pairs.sha256
    matched: dict[tuple[str, str], Annotation] = {}
    foreign: list[str] = []
    rank_only: list[Annotation] = []
    moved = 0
    by_images, by_rank = pairs.by_images(), pairs.by_rank()
    for ann in annotations:
        rec, problem = _locate(ann, by_images, by_rank, same_table)
        if problem == _RANK_ONLY:
            rank_only.append(ann)
            continue
        if problem:
            foreign.append(problem)
        if rec is None:
            continue
        key = (rec["image_a"], rec["image_b"])
        if ann.pair_rank is not None and ann.pair_rank != rec["rank"]:
            moved += 1
        if key in matched and not ann.is_empty() and not matched[key].is_empty():
            foreign.append(f"{ann.where}: a second annotation for pair {key[0]!r}, {key[1]!r} (first: {matched[key].where})")
            continue
        if key not in matched or not ann.is_empty():
            matched[key] = ann
    _refuse_unmatched(pairs, annotations_path, file_sha, rank_only, foreign)
    if file_sha and not same_table:
        log.warning("%s was made for another PAIRS file (sha256 %s...) but every annotated pair's images match %s; using it",
                    annotations_path, file_sha[:12], pairs.path)
    if moved:
        log.warning("%s: %d annotation(s) carry a pair_rank that now belongs to other images (the pairs were re-mined); "
                    "each was attached to the pair of its images", annotations_path.name, moved)
    return matched


def _pair_rows(rec: dict[str, Any], ann: Annotation, answers: tuple[str, str, str], encoders: str | None,
               first_index: int) -> list[dict[str, Any]]:
    """The dataset rows of one annotated pair: image A, then image B (``index`` from ``first_index``)."""
    answer_a, answer_b, pattern = answers
    return [{
        "index": first_index + k,
        "pair_id": f"pair-{rec['rank']:04d}",
        "question": ann.question,
        "options": list(ann.options),
        "answer": answer,
        "pattern": pattern,
        "image": rec[f"path_{side}"],
        "source": rec[f"image_{side}"],
        "clip_similarity": float(rec["clip_similarity"]),
        "ssl_similarity": float(rec["ssl_similarity"]),
        "encoders": encoders,
        "imagery": row_provenance(rec, side),  # place and decoding settings (rsmmvp_tasks.imagery.provenance)
    } for k, (side, answer) in enumerate((("a", answer_a), ("b", answer_b)))]


def rows_from_annotations(pairs_path: str | Path, annotations_path: str | Path) -> list[dict[str, Any]]:
    """Dataset rows (the :mod:`rsmmvp_tasks.schema` contract) from a PAIRS table and its annotations.

    See the module docstring for the formats and rules. Raises :class:`AnnotationProblems` listing
    every bad annotation (with its pair), :class:`AnnotationError` when the file cannot be matched to
    the table or annotates no pair at all, and :class:`~rsmmvp_tasks.mining.pairs.PairsError` for a
    bad PAIRS table.
    """
    pairs_path, annotations_path = Path(pairs_path), Path(annotations_path)
    pairs = read_pairs(pairs_path)
    file_sha, annotations = read_annotations(annotations_path)
    matched = _match(pairs, annotations, file_sha, annotations_path)

    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    skipped = empty = 0
    for rec in pairs.records:
        ann = matched.get((rec["image_a"], rec["image_b"]))
        if ann is None or ann.is_empty():
            empty += 1
        elif ann.skip:
            skipped += 1
        else:
            bad, good = _problems(ann)
            if bad:
                problems.append(f"pair rank {rec['rank']} ({rec['image_a']} | {rec['image_b']}, {ann.where}): " + "; ".join(bad))
            elif good is not None:
                rows += _pair_rows(rec, ann, good, pairs.encoders(rec), len(rows) + 1)
    if problems:
        raise AnnotationProblems(
            f"{annotations_path}: {len(problems)} pair(s) have bad annotations "
            "(fix them, or mark the pair skipped):\n  " + "\n  ".join(problems)
        )
    log.info("%s: %d pair(s) annotated -> %d rows; %d skipped; %d not annotated (of %d in %s)",
             annotations_path.name, len(rows) // PAIR_SIZE, len(rows), skipped, empty, len(pairs.records), pairs.path.name)
    if not rows:
        raise AnnotationError(
            f"{annotations_path}: no annotated pair ({skipped} skipped, {empty} not annotated, "
            f"of {len(pairs.records)}); annotate some pairs with `rsmmvp review` first"
        )
    missing = [r["image"] for r in rows if not Path(r["image"]).exists()]
    if missing:
        log.warning("%d image file(s) of annotated pairs do not exist, e.g. %s", len(missing), missing[0])
    return rows
