"""A small PAIRS table (as ``rsmmvp mine`` writes it) with images drawn by code, for the review tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CLIP_ID = "openai/clip-vit-large-patch14"
SSL_ID = "facebook/dinov2-large"


def make_pairs(root: Path, n: int = 3, *, fmt: str = "parquet", with_rank: bool = True,
               ranks: Sequence[int] | None = None, name: str = "pairs") -> Path:
    """Write ``root/img/<i>{a,b}.png`` and ``root/<name>.<fmt>`` with ``n`` pairs; return the table's path.

    Image B of each pair has a red "building" that image A lacks. Image paths are stored relative
    to ``root`` (the PAIRS table's folder), scores differ per pair. Pair ``i`` has rank ``i + 1``, or
    ``ranks[i]`` (a re-mined table: same pairs, other ranks; rows are written in rank order).
    """
    import pandas as pd
    from PIL import Image, ImageDraw

    img_dir = root / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        for side in "ab":
            im = Image.new("RGB", (320, 240), (60 + 25 * i, 120, 60))
            draw = ImageDraw.Draw(im)
            draw.rectangle([0, 110, 320, 130], fill=(120, 120, 120))
            if side == "b":
                draw.rectangle([40 + 30 * i, 30, 120 + 30 * i, 90], fill=(200, 60, 40))
            im.save(img_dir / f"{i}{side}.png")
        row = {
            "image_a": f"img/{i}a.png",
            "image_b": f"img/{i}b.png",
            "clip_similarity": round(0.97 - 0.01 * i, 4),
            "ssl_similarity": round(0.40 + 0.05 * i, 4),
            "gap": round(0.57 - 0.06 * i, 4),
            "clip_encoder": CLIP_ID,
            "ssl_encoder": SSL_ID,
        }
        if with_rank:
            row["rank"] = ranks[i] if ranks is not None else i + 1
        rows.append(row)
    frame = pd.DataFrame(rows)
    if with_rank:
        frame = frame.sort_values("rank")
    path = root / f"{name}.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def annotation(rank: int, i: int | None = None, **override: object) -> dict[str, object]:
    """A valid JSON annotation entry for pair ``rank`` (image B has the building: answer A="Yes")."""
    i = rank - 1 if i is None else i
    entry: dict[str, object] = {
        "pair_rank": rank, "image_a": f"img/{i}a.png", "image_b": f"img/{i}b.png",
        "question": "Is there a red building?", "options": ["Yes", "No"],
        "answer_a": "B", "answer_b": "A", "pattern": "presence", "skip": False,
    }
    entry.update(override)
    return entry
