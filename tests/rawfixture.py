"""Draw a raw MMVP-style layout (question table + images) for tests, optionally with planted defects.

``make_raw_layout(root, defects={...})`` writes ``root/Questions.<fmt>`` and ``root/<image_subdir>/<Index>.jpg``
for ``n_pairs`` pairs (default 5: rows 0-9, index 1-10) and returns ``root``. :data:`PLANTED` says where
the validator must report each defect: (0-based row, violation code).
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

#: defect -> (row the validator reports, violation code); rows are 0-based table positions
PLANTED: dict[str, tuple[int, str]] = {
    "answer_range": (0, "answer_range"),
    "empty_options": (1, "empty_options"),
    "question_mismatch": (2, "question_mismatch"),
    "unknown_pattern": (3, "unknown_pattern"),
    "image_missing": (4, "image_missing"),
    "same_answer": (4, "same_answer"),  # planted on row 5; reported on its pair's first row
    "image_unreadable": (6, "image_unreadable"),
    "duplicate_index": (7, "duplicate_index"),
    "empty_question": (8, "empty_question"),
    "pair_size": (10, "pair_size"),  # an extra lone row
}
DEFECTS = frozenset(PLANTED)
PATTERNS = ["count", "presence", "orientation", "color", "position"]
QUESTIONS = [
    "How many tanks are there?",
    "Is there a ship?",
    "Does the road run east-west?",
    "Are the roofs red?",
    "Is the lake on the left?",
]


def _draw(path: Path, k: int, variant: int) -> None:
    im = Image.new("RGB", (48, 48), (40 + 30 * k % 200, 120, 60))
    d = ImageDraw.Draw(im)
    d.rectangle((6 + 20 * variant, 10, 20 + 20 * variant, 30), fill=(200, 40 + 40 * k % 200, 40))
    im.save(path, quality=90)


def _rows(n_pairs: int, defects: frozenset[str]) -> list[dict]:
    rows = []
    for k in range(n_pairs):
        for variant in range(2):
            i = 2 * k + variant
            rows.append(
                {
                    "Index": i + 1,
                    "Question": QUESTIONS[k % len(QUESTIONS)],
                    "Options": "(a) Yes (b) No",
                    "Correct Answer": "(a)" if (i + k) % 2 == 0 else "(b)",
                    "Visual Pattern": PATTERNS[k % len(PATTERNS)],
                }
            )
    if "answer_range" in defects:
        rows[0]["Correct Answer"] = "(c)"
    if "empty_options" in defects:
        rows[1]["Options"] = "(a) Yes"
        rows[1]["Correct Answer"] = "(a)"
    if "question_mismatch" in defects:
        rows[2]["Question"] = "Is there a bridge?"
    if "unknown_pattern" in defects:
        rows[3]["Visual Pattern"] = "weather"
    if "same_answer" in defects:
        rows[5]["Correct Answer"] = rows[4]["Correct Answer"]
    if "duplicate_index" in defects:
        rows[7]["Index"] = rows[6]["Index"]
    if "empty_question" in defects:
        rows[8]["Question"] = ""
        rows[9]["Question"] = ""
    if "pair_size" in defects:
        rows.append(
            {
                "Index": 2 * n_pairs + 1,
                "Question": "Is there a dam?",
                "Options": "(a) Yes (b) No",
                "Correct Answer": "(a)",
                "Visual Pattern": "presence",
            }
        )
    return rows


def make_raw_layout(
    root: Path,
    *,
    n_pairs: int = 5,
    defects: frozenset[str] | set[str] = frozenset(),
    table_format: str = "csv",
    image_subdir: str = "MMVP Images",
    snake_case: bool = False,
) -> Path:
    """Write the layout under ``root`` (see the module docstring); returns ``root``."""
    import pandas as pd

    defects = frozenset(defects)
    unknown = defects - DEFECTS
    if unknown:
        raise ValueError(f"unknown defects {sorted(unknown)}; known: {sorted(DEFECTS)}")
    root.mkdir(parents=True, exist_ok=True)
    images = root / image_subdir
    images.mkdir(exist_ok=True)
    rows = _rows(n_pairs, defects)
    for pos, row in enumerate(rows):
        path = images / f"{row['Index']}.jpg"
        if path.exists():
            continue
        _draw(path, pos // 2, pos % 2)
    if "image_missing" in defects:
        (images / f"{rows[4]['Index']}.jpg").unlink()
    if "image_unreadable" in defects:
        (images / f"{rows[6]['Index']}.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated, not a JPEG")
    frame = pd.DataFrame(rows)
    if snake_case:
        frame.columns = ["index", "question", "options", "correct_answer", "pattern"]
    if table_format == "csv":
        frame.to_csv(root / "Questions.csv", index=False)
    elif table_format == "tsv":
        frame.to_csv(root / "questions.tsv", sep="\t", index=False)
    elif table_format == "jsonl":
        frame.to_json(root / "questions.jsonl", orient="records", lines=True)
    elif table_format == "json":
        (root / "questions.json").write_text(json.dumps({"questions": frame.to_dict(orient="records")}))
    elif table_format == "xlsx":
        frame.to_excel(root / "Questions.xlsx", index=False)
    else:
        raise ValueError(f"unknown table format {table_format}")
    return root


def tiff_uint16(array) -> bytes:
    """A little-endian baseline TIFF of a ``(height, width, bands)`` uint16 array (chunky, uncompressed).

    PIL cannot write multi-band 16-bit images; satellite products (4-band reflectance) are written so.
    """
    import struct

    import numpy as np

    height, width, bands = array.shape
    data = np.ascontiguousarray(array, dtype="<u2").tobytes()
    bits_offset = 8 + len(data)
    bits = struct.pack("<" + "H" * bands, *([16] * bands))
    ifd_offset = bits_offset + len(bits)
    tags = [
        (256, 3, 1, width),
        (257, 3, 1, height),
        (258, 3, bands, bits_offset) if bands > 2 else (258, 3, 1, 16),
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 2 if bands >= 3 else 1),  # RGB / black-is-zero
        (273, 4, 1, 8),  # strip offset
        (277, 3, 1, bands),
        (278, 3, 1, height),
        (279, 4, 1, len(data)),
        (284, 3, 1, 1),  # chunky
        *([(338, 3, 1, 0)] if bands == 4 else []),  # one extra sample, unspecified (e.g. near-infrared)
        (339, 3, 1, 1),  # unsigned integers
    ]
    ifd = struct.pack("<H", len(tags))
    for tag, kind, count, value in tags:
        ifd += struct.pack("<HHIHH", tag, kind, count, value, 0) if kind == 3 and count == 1 else struct.pack(
            "<HHII", tag, kind, count, value
        )
    return b"II*\x00" + struct.pack("<I", ifd_offset) + data + bits + ifd + struct.pack("<I", 0)


def model_blind_images() -> dict[str, bytes]:
    """Encoded images a model sees wrong after ``.convert("RGB")``, by what they are.

    ``12bit_in_16bit``: 12-bit reflectance (300..3000) in a 16-bit PNG -> all white;
    ``float_reflectance``: float32 reflectance 0..0.4 in a TIFF -> all black;
    ``4band_uint16``: 4-band uint16 reflectance (200..3200) TIFF -> near black.
    """
    import io

    import numpy as np

    rng = np.random.default_rng(0)
    out: dict[str, bytes] = {}
    buf = io.BytesIO()
    Image.fromarray((rng.random((40, 40)) * 2700 + 300).astype(np.uint16)).save(buf, format="PNG")
    out["12bit_in_16bit"] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray((rng.random((40, 40)) * 0.4).astype(np.float32)).save(buf, format="TIFF")
    out["float_reflectance"] = buf.getvalue()
    out["4band_uint16"] = tiff_uint16((rng.random((40, 40, 4)) * 3000 + 200).astype(np.uint16))
    return out
