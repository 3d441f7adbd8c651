"""The dataset card (``README.md`` with a YAML header) written next to a built RSMMVP dataset.

The header makes ``datasets.load_dataset(folder)`` and the hub's viewer find the parquet
(``configs``), and states license, task category, size and features; the body describes the
columns, counts pairs and questions per visual pattern, and cites RSMMVP and MMVP.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import yaml

from rsmmvp_tasks.imagery.provenance import card_section
from rsmmvp_tasks.schema import PARQUET_GLOB, PATTERNS, features

__all__ = ["CITATIONS", "PARQUET_GLOB", "CardInfo", "render_card"]

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


@dataclass
class CardInfo:
    """What the card says beyond what the data shows."""

    pretty_name: str = "RSMMVP-format dataset"
    description: str = "Remote-sensing CLIP-blind pairs with one two-option question per pair (RSMMVP format)."
    license: str = "cc-by-4.0"
    #: provenance / image licenses (e.g. "Images from GeoChat_Instruct ..."), a section of its own
    attribution: str | None = None
    #: extra BibTeX entries, appended after RSMMVP's and MMVP's
    citations: str | None = None


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
    header = {
        "license": info.license,
        "pretty_name": info.pretty_name,
        "task_categories": ["visual-question-answering"],
        "language": ["en"],
        "size_categories": [_size_category(len(rows))],
        "tags": ["remote-sensing", "mmvp", "clip-blind-pairs", "rsmmvp"],
        "configs": [{"config_name": "default", "data_files": [{"split": "test", "path": PARQUET_GLOB}]}],
        "dataset_info": dataset_info,
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
    lines += card_section(rows)  # "Places": footprints of the images, where the rows carry them
    if info.attribution:
        lines += ["## Attribution", "", info.attribution, ""]
    bibtex = CITATIONS + ("\n" + info.citations.strip() if info.citations else "")
    lines += ["## Citation", "", "```bibtex", bibtex, "```", ""]
    return "\n".join(lines)
