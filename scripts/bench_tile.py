#!/usr/bin/env python
"""Benchmark ``rsmmvp tile``: cost per tile at 1k, 10k and 100k tiles, against the bare work, in one run.

A synthetic scene (``--scene-px`` square, 3 bands uint16, tiled GeoTIFF with deflate, UTM, nodata 0
in a border) is written to a temp folder once; N tiles are made from ``ceil(N / tiles_per_scene)``
hard links to it (distinct scene paths, so distinct scenes for ``rsmmvp tile``; the page cache keeps
the one file hot for both contenders). For each N:

``bare``   per scene ``rasterio.open``; per window ``ds.read(bands, window)``, the same linear stretch
           to uint8 (float32), ``PIL.Image.fromarray(...).save(png)``: the floor of reading and writing.
``tile``   :func:`rsmmvp_tasks.imagery.tile.tile_scenes` on the same scenes with the same fixed stretch
           (``range:LOW,HIGH``, so neither side computes percentiles): grid, nodata mask and share,
           bounds and centre lon/lat, PNG (temporary name + rename), table parts, tiles.json, the
           lock, and the final merge into tiles.parquet + tiles.csv.

Times are the process's CPU time (user + system, ``time.process_time``): on a shared machine wall
time mostly measures the neighbours; both sides run in one process, one thread, one after the other,
best of ``--repeat``. Prints per N the CPU microseconds per tile of both and ``tile/bare`` (target <= 1.15, and constant from
1k to 100k: no cost that grows with the table). Tiles are ``--size`` px (default 32: small tiles make
any per-tile overhead visible; the scene is ``--scene-px`` square), plus one row of 1000 tiles of
``--typical`` px (224, an encoder's input) on a scene 10 tiles wide. ``--percentile`` adds one row at the first N with the default
``2,98`` stretch on both sides (the bare side computing the same percentiles on the same decimated
read per scene).

    python scripts/bench_tile.py --dir /dev/shm        # 1k, 10k, 100k tiles of 32 px + 1k of 224 px (~4 min, 2 cores)
    python scripts/bench_tile.py --counts 1000,10000 --size 64
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LOW, HIGH = 500.0, 9000.0


def write_scene(path: Path, px: int) -> Path:
    """A ``px`` x ``px`` 3-band uint16 GeoTIFF (fields, noise, a nodata border of 0)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:px, 0:px]
    base = 3000 + 2500 * np.sin(xx / 37.0) * np.cos(yy / 53.0) + 1500 * ((xx // 61 + yy // 47) % 3)
    bands = np.stack([base + 700 * k + rng.normal(0, 250, (px, px)) for k in range(3)])
    array = np.clip(bands, 1, 12000).astype(np.uint16)
    array[:, :, :8] = 0
    profile = {"driver": "GTiff", "width": px, "height": px, "count": 3, "dtype": "uint16", "nodata": 0,
               "crs": "EPSG:32721", "transform": from_origin(500_000.0, 7_200_000.0, 10.0, 10.0),
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array)
    return path


def bare(scenes: list[Path], out: Path, size: int, limits: tuple[float, float] | None) -> int:
    """Read every window and save it as PNG with the least code; returns the tile count."""
    import numpy as np
    import rasterio
    from PIL import Image
    from rasterio.windows import Window

    from rsmmvp_tasks.imagery.tile import tile_windows

    count = 0
    for k, scene in enumerate(scenes):
        folder = out / f"s{k}"
        folder.mkdir(parents=True)
        with rasterio.open(scene) as ds:
            if limits is None:  # the per-scene percentile stretch, on the same decimated read as `tile`
                from rsmmvp_tasks.imagery.tile import TileSpec

                spec = TileSpec()
                scale = max(1.0, (ds.width * ds.height / spec.stats_pixels) ** 0.5)
                small = ds.read([1, 2, 3], out_shape=(3, int(ds.height / scale), int(ds.width / scale)))
                valid = (small != 0).all(axis=0)
                lims = [tuple(np.percentile(b[valid], [2, 98])) for b in small]
            else:
                lims = [limits] * 3
            lo = np.array([x[0] for x in lims], np.float32)[:, None, None]
            gain = np.array([255.0 / (x[1] - x[0]) for x in lims], np.float32)[:, None, None]
            for col, row, w, h in tile_windows(ds.width, ds.height, size):
                a = ds.read([1, 2, 3], window=Window(col, row, w, h)).astype(np.float32)
                rgb = np.clip(np.rint((a - lo) * gain), 0, 255).astype(np.uint8)
                Image.fromarray(np.ascontiguousarray(np.moveaxis(rgb, 0, -1))).save(folder / f"r{row}_c{col}.png")
                count += 1
    return count


def ours(scenes: list[Path], out: Path, size: int, stretch: str) -> int:
    from rsmmvp_tasks.imagery.read import ReadSettings
    from rsmmvp_tasks.imagery.tile import TileSpec, tile_scenes

    spec = TileSpec(size=size, read=ReadSettings.from_options("1,2,3", stretch))
    report = tile_scenes(scenes, out, spec, progress=False)
    return report.written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="1000,10000,100000", help="tile counts (comma-separated)")
    ap.add_argument("--size", type=int, default=32, help="tile side in px (default: 32)")
    ap.add_argument("--scene-px", type=int, default=1024, help="side of the synthetic scene (default: 1024)")
    ap.add_argument("--percentile", action="store_true", help="also one row with the 2,98 percentile stretch")
    ap.add_argument("--typical", type=int, default=224, metavar="PX",
                    help="also one row of 1000 tiles of PX px (default: 224, the usual encoder input; 0: none)")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs per contender (default: 1)")
    ap.add_argument("--dir", default=None, help="where to write (default: the system temp folder; /dev/shm takes "
                                               "the disk's file-creation cost, shared by both sides, out of the ratio)")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    rows = [(n, args.size, args.scene_px, f"range:{LOW:g},{HIGH:g}", (LOW, HIGH)) for n in counts]
    if args.percentile:
        rows.append((counts[0], args.size, args.scene_px, "2,98", None))
    if args.typical:
        rows.append((1000, args.typical, args.typical * 10, f"range:{LOW:g},{HIGH:g}", (LOW, HIGH)))
    with tempfile.TemporaryDirectory(prefix="bench_tile_", dir=args.dir) as tmp:
        root = Path(tmp)
        print(f"3-band uint16 scenes (deflate, 256 px blocks, nodata border); {os.cpu_count()} cores; best of "
              f"{args.repeat}; written under {root}")
        print(f"{'tiles':>8} {'px':>4} {'scenes':>6} {'bare us/tile':>13} {'tile us/tile':>13} {'tile/bare':>9}  "
              "(CPU time; stretch range:500,9000 unless said)")
        warm = write_scene(root / "warm.tif", 64)  # imports and first calls, untimed
        bare([warm], root / "warm_bare", 32, (LOW, HIGH))
        ours([warm], root / "warm_ours", 32, f"range:{LOW:g},{HIGH:g}")
        for n, size, scene_px, stretch, limits in rows:
            base = root / f"scene{scene_px}.tif"
            if not base.exists():
                write_scene(base, scene_px)
            per_scene = (scene_px // size) ** 2
            k = max(1, math.ceil(n / per_scene))
            scenes = []
            for i in range(k):
                link = root / f"scenes{scene_px}" / f"scene{i:04d}.tif"
                link.parent.mkdir(exist_ok=True)
                if not link.exists():
                    os.link(base, link)
                scenes.append(link)
            best = {"bare": math.inf, "ours": math.inf}
            for _ in range(args.repeat):
                for label in ("bare", "ours"):
                    out = root / f"out_{label}"
                    shutil.rmtree(out, ignore_errors=True)
                    t0 = time.process_time()
                    made = (bare(scenes, out, size, limits) if label == "bare" else ours(scenes, out, size, stretch))
                    best[label] = min(best[label], time.process_time() - t0)
                    assert made == k * per_scene, (label, made)
                    shutil.rmtree(out, ignore_errors=True)
            tiles = k * per_scene
            note = "" if limits is not None else "   (2,98 percentiles per scene on both sides)"
            print(f"{tiles:>8} {size:>4} {k:>6} {1e6 * best['bare'] / tiles:>13.1f} {1e6 * best['ours'] / tiles:>13.1f} "
                  f"{best['ours'] / best['bare']:>9.2f}{note}", flush=True)


if __name__ == "__main__":
    main()
