"""The dataset card (``README.md`` with a YAML header) written next to a built RSMMVP dataset.

The header makes ``datasets.load_dataset(folder)`` and the hub's viewer find the parquet
(``configs``), and states license, task category, size and features; the body describes the
columns, counts pairs and questions per visual pattern, and cites RSMMVP and MMVP.

Licences per image source
-------------------------
Imagery is licensed by whoever took it (USGS Landsat is public domain; Planet or Maxar imagery can
not be relicensed by a dataset's author), so the card records a licence per image *source*: the
header key :data:`SOURCES_KEY` lists ``{source, license, attribution}`` entries, shown in the body as
the table "Image sources and licences". ``source`` is a :func:`rsmmvp_tasks.schema.source_name` of
the rows (``"*"``, :data:`~rsmmvp_tasks.schema.ALL_SOURCES`, covers every image no other entry
names). The header's ``license`` is the one licence all entries share, ``other`` when they differ,
``unknown`` when any is not stated. :func:`source_licenses` makes the entries (one per source name in
the data when a single licence is given), :func:`read_sources_file` reads them from a CSV or JSON
file (``rsmmvp build --sources``), :func:`card_sources` reads them back from a card, and
``rsmmvp validate`` refuses a built folder whose card lacks them or leaves a source of its data out
(:func:`rsmmvp_tasks.dataset.validate.card_violations`).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.imagery.provenance import card_section
from rsmmvp_tasks.schema import (
    ALL_SOURCES,
    PARQUET_GLOB,
    PATTERNS,
    features,
    source_name,
)

__all__ = [
    "CITATIONS",
    "NOT_STATED",
    "PARQUET_GLOB",
    "SOURCES_KEY",
    "CardInfo",
    "SourceLicense",
    "card_header",
    "card_sources",
    "read_sources_file",
    "render_card",
    "source_licenses",
]

#: the card header key holding the licence of each image source
SOURCES_KEY = "image_sources"

_LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]*")

#: the licence written for a source when none was given (``--push`` refuses such a card)
NOT_STATED = "not stated"

CITATIONS = """\
@article{adejumo2025rsmmvp,
  title   = {A Vision Centric Remote Sensing Benchmark},
  author  = {Adejumo, Abduljaleel and Yeganli, Faegheh and Broni-bediako, Clifford and Xiao, Aoran and Yokoya, Naoto and Siam, Mennatullah},
  journal = {arXiv preprint arXiv:2503.15816},
  year    = {2025}
}
@inproceedings{tong2024eyes,
  title     = {Eyes Wide Shut? Exploring the Visual Shortcomings of Multimodal LLMs},
  author    = {Tong, Shengbang and Liu, Zhuang and Zhai, Yuexiang and Ma, Yi and LeCun, Yann and Xie, Saining},
  booktitle = {CVPR},
  year      = {2024},
  note      = {arXiv:2401.06209}
}"""

#: column -> meaning on the card (types come from :func:`rsmmvp_tasks.schema.features`)
_MEANINGS: dict[str, str] = {
    "index": "unique row id",
    "pair_id": "shared by the two rows (images) of a pair",
    "question": "the question, identical within a pair",
    "options": "answer options, in letter order (A, B, ...)",
    "answer": "the correct option letter; opposite within a pair",
    "pattern": "visual pattern: " + ", ".join(PATTERNS),
    "image": "the image the question is about (bytes embedded)",
    "source": "provenance of the image (optional)",
    "clip_similarity": "CLIP cosine similarity of the pair's images (mined pairs)",
    "ssl_similarity": "self-supervised (DINOv2) cosine similarity (mined pairs)",
    "encoders": "encoders used for mining, clip=<id>;ssl=<id>",
    "imagery": "JSON: the image's place (scene, window, CRS, bounds, centre lon/lat) and how its 8-bit pixels were made",
}


@dataclass(frozen=True)
class SourceLicense:
    """The licence of the images of one source (a :func:`~rsmmvp_tasks.schema.source_name`, or ``"*"``)."""

    source: str
    license: str
    attribution: str = ""

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "license": self.license, "attribution": self.attribution}


@dataclass
class CardInfo:
    """What the card says beyond what the data shows.

    ``license`` (an id such as ``cc-by-4.0``, or ``None``: not stated) and ``attribution`` apply to
    every image source unless ``sources`` lists them one by one (see the module docstring).
    """

    pretty_name: str = "RSMMVP-format dataset"
    description: str = "Remote-sensing CLIP-blind pairs with one two-option question per pair (RSMMVP format)."
    license: str | None = None
    #: provenance / image licenses (e.g. "Images from GeoChat_Instruct ..."), a section of its own
    attribution: str | None = None
    #: extra BibTeX entries, appended after RSMMVP's and MMVP's
    citations: str | None = None
    #: the licence of each image source; ``None``: ``license``/``attribution`` for every source in the data
    sources: tuple[SourceLicense, ...] | None = None
    #: how the pairs were mined, with the measured recall (:func:`rsmmvp_tasks.mining.pairs.mining_note`)
    mining: str | None = None


def source_licenses(rows: Iterable[Mapping[str, Any]], info: CardInfo) -> list[SourceLicense]:
    """The card's licence entries for ``rows``: ``info.sources`` when given, else one entry per source
    name in the data with ``info.license`` (:data:`NOT_STATED` when ``None``) and ``info.attribution``,
    or a single ``"*"`` entry when no row names a source."""
    if info.sources is not None:
        return list(info.sources)
    names = sorted({source_name(r.get("source")) for r in rows} - {""})
    has_unnamed = any(not source_name(r.get("source")) for r in rows)
    license_id = info.license or NOT_STATED
    entries = [SourceLicense(n, license_id, info.attribution or "") for n in names]
    if has_unnamed or not entries:
        entries.append(SourceLicense(ALL_SOURCES, license_id, info.attribution or ""))
    return entries


def _header_license(entries: list[SourceLicense]) -> str:
    """The card header's ``license``: ``unknown`` if any source's licence is not stated, the one licence
    all sources share when it is an id (``cc-by-4.0``), else ``other`` (several, or one in words such as
    "public domain (USGS)"; the table says which)."""
    licenses = {e.license for e in entries}
    if not licenses or NOT_STATED in licenses:
        return "unknown"
    only = next(iter(licenses))
    return only if len(licenses) == 1 and _LICENSE_ID.fullmatch(only) else "other"


def read_sources_file(path: str | Path) -> tuple[SourceLicense, ...]:
    """The licence entries of a CSV (header ``source,license,attribution``) or JSON (a list of such
    objects) file. Raises :class:`~rsmmvp_tasks.errors.InputError` naming the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--sources {path}: cannot be read ({type(exc).__name__}: {exc})") from None
    try:
        records = json.loads(text) if path.suffix.lower() == ".json" else list(csv.DictReader(text.splitlines()))
    except ValueError as exc:
        raise InputError(f"--sources {path}: not valid JSON ({exc})") from None
    if not isinstance(records, list) or not records:
        raise InputError(f"--sources {path}: expected a list of {{source, license, attribution}} entries")
    entries = []
    for k, rec in enumerate(records, 1):
        if not isinstance(rec, Mapping) or not str(rec.get("source") or "").strip() or not str(
            rec.get("license") or ""
        ).strip():
            raise InputError(
                f"--sources {path}: entry {k} needs a non-empty source and license "
                "(columns: source, license, attribution; source '*' covers every other image)"
            )
        entries.append(
            SourceLicense(str(rec["source"]).strip(), str(rec["license"]).strip(), str(rec.get("attribution") or "").strip())
        )
    return tuple(entries)


def card_header(text: str) -> dict[str, Any] | None:
    """The YAML header of a card's text (``None`` when it has none or it does not parse to a mapping)."""
    if not text.startswith("---"):
        return None
    parts = text.split("\n---", 1)
    if len(parts) < 2:
        return None
    try:
        header = yaml.safe_load(parts[0].lstrip("-"))
    except yaml.YAMLError:
        return None
    return header if isinstance(header, dict) else None


def card_sources(text: str) -> list[SourceLicense] | None:
    """The licence entries a card's header records (``None``: no such list, or a malformed one)."""
    header = card_header(text)
    entries = (header or {}).get(SOURCES_KEY)
    if not isinstance(entries, list) or not entries:
        return None
    out = []
    for e in entries:
        if not isinstance(e, Mapping) or not e.get("source") or not e.get("license"):
            return None
        out.append(SourceLicense(str(e["source"]), str(e["license"]), str(e.get("attribution") or "")))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _dtype(feature: Any) -> str:
    """A feature's type in words: ``int64``, ``string``, ``list of string``, ``image``."""
    if hasattr(feature, "dtype") and type(feature).__name__ == "Value":
        return str(feature.dtype)
    inner = getattr(feature, "feature", None)
    if inner is not None:
        return f"list of {_dtype(inner)}"
    return type(feature).__name__.lower()


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def render_card(data: Any, info: CardInfo | None = None) -> str:
    """The README.md text for ``data``: a :class:`datasets.Dataset` or contract rows (images not needed).

    ``dataset_info.splits`` is written only for a Dataset, with the ``name``, ``num_bytes`` and
    ``num_examples`` that ``datasets`` requires of it (without ``num_bytes`` every
    ``load_dataset(folder)`` warns "The splits field in YAML is malformed").
    """
    info = info or CardInfo()
    num_bytes: int | None = None
    if hasattr(data, "column_names"):
        num_bytes = int(data.data.nbytes)
        data = data.remove_columns([c for c in data.column_names if c == "image"]).to_list()
    rows: list[dict[str, Any]] = list(data)
    dataset_info: dict[str, Any] = {"features": features()._to_yaml_list()}
    if num_bytes is not None:
        dataset_info["splits"] = [{"name": "test", "num_bytes": num_bytes, "num_examples": len(rows)}]
        dataset_info["dataset_size"] = num_bytes
    sources = source_licenses(rows, info)
    header = {
        "license": _header_license(sources),
        "pretty_name": info.pretty_name,
        "task_categories": ["visual-question-answering"],
        "language": ["en"],
        "size_categories": [_size_category(len(rows))],
        "tags": ["remote-sensing", "mmvp", "clip-blind-pairs", "rsmmvp"],
        "configs": [{"config_name": "default", "data_files": [{"split": "test", "path": PARQUET_GLOB}]}],
        "dataset_info": dataset_info,
        SOURCES_KEY: [e.to_json() for e in sources],
    }
    questions = Counter(r["pattern"] for r in rows)
    pair_pattern = {r["pair_id"]: r["pattern"] for r in rows}
    pairs = Counter(pair_pattern.values())
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False).strip(),
        "---",
        "",
        f"# {info.pretty_name}",
        "",
        info.description,
        "",
        (
            f"{len(pair_pattern)} pairs, {len(rows)} questions, one split (`test`). A pair counts as solved only "
            "if every question of it is answered right (pair accuracy; chance is 25% for two 2-option questions). "
            "Evaluate with the `rsmmvp` lmms-eval task suite."
        ),
        "",
        *([info.mining, ""] if info.mining else []),
        "## Columns",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        *[f"| `{name}` | {_dtype(feature)} | {_MEANINGS.get(name, '')} |" for name, feature in features().items()],
        "",
        "## Visual patterns",
        "",
        "| pattern | pairs | questions |",
        "|---|---:|---:|",
        *[f"| {PATTERNS.get(p, p)} (`{p}`) | {pairs[p]} | {questions[p]} |" for p in sorted(questions)],
        "",
    ]
    lines += [
        "## Image sources and licences",
        "",
        "Each image is under the licence of its source (the `source` column up to its first `:`, or its first "
        "path component; `*` covers every image no other line names). Reuse the images under these terms.",
        "",
        "| source | licence | attribution |",
        "|---|---|---|",
        *[f"| `{_cell(e.source)}` | {_cell(e.license)} | {_cell(e.attribution)} |" for e in sources],
        "",
    ]
    lines += card_section(rows)  # "Places": footprints of the images, where the rows carry them
    if info.attribution:
        lines += ["## Attribution", "", info.attribution, ""]
    bibtex = CITATIONS + ("\n" + info.citations.strip() if info.citations else "")
    lines += ["## Citation", "", "```bibtex", bibtex, "```", ""]
    return "\n".join(lines)
