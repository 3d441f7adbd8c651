#!/usr/bin/env python
"""Benchmark ``rsmmvp embed``: the full pipeline from image files vs the bare model, in the same run.

A small random ViT (default: DINOv2-small dimensions, 14.5 M params; or CLIP), built from a config,
saved to a temp folder and loaded through ``from_pretrained``, embeds ``--images`` JPEG files drawn
at ``--src-size`` px:

``pipeline``  :func:`rsmmvp_tasks.mining.embed.embed_images` on the folder: listing, decode + resize +
              normalise in ``--workers`` DataLoader processes, forward, L2-normalise, shards written.
``bare``      the same encoder's forward (+ normalise) on the same images pre-decoded and
              pre-processed into one tensor beforehand (untimed), in the same batches.

Prints images/s of both and ``pipeline/bare`` (target >= 0.9: decoding hidden behind the model).
Model loading is excluded from both; one warm-up batch precedes each. With few CPU cores the
workers compete with the model's threads for the same cores, which caps the ratio: the printout
says how many cores there were.

    python scripts/bench_embed.py                          # DINOv2-small-sized, 224 px, 256 images
    python scripts/bench_embed.py --hidden 192 --layers 6    # a tinier ViT: decoding weighs more
    python scripts/bench_embed.py --device cuda --images 2048 --batch-size 128 --workers 8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def draw_jpegs(folder: Path, n: int, size: int) -> None:
    """``n`` distinct noisy JPEGs (random blocks + noise, so decoding does real work)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        base = rng.integers(0, 255, (size // 16, size // 16, 3), dtype=np.uint8)
        img = np.kron(base, np.ones((16, 16, 1), np.uint8)).astype(np.int16)
        img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"tile{i:05d}.jpg", quality=90)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=("dinov2", "clip"), default="dinov2")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--src-size", type=int, default=320, help="side of the JPEG files (default: 320)")
    ap.add_argument("--image-size", type=int, default=224, help="model input side (default: 224)")
    ap.add_argument("--patch", type=int, default=14)
    ap.add_argument("--hidden", type=int, default=384, help="width (default 384: DINOv2-small)")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the main process (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="torch device of the model (default: cpu; e.g. cuda)")
    ap.add_argument("--dtype", default="float32", help="model compute dtype (default: float32)")
    args = ap.parse_args()

    import torch
    from tinymodels import build_tiny_clip, build_tiny_dinov2

    from rsmmvp_tasks.mining.embed import embed_images
    from rsmmvp_tasks.mining.encoders import load_encoder
    from rsmmvp_tasks.mining.images import list_images, open_image

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        size = {"image_size": args.image_size, "patch": args.patch, "hidden": args.hidden, "layers": args.layers,
                    "heads": max(1, args.hidden // 64)}
        model_dir = (build_tiny_dinov2(tmp / "model", **size) if args.arch == "dinov2"
                     else build_tiny_clip(tmp / "model", **size))
        draw_jpegs(tmp / "img", args.images, args.src_size)
        enc = load_encoder(str(model_dir), device=args.device, dtype=args.dtype)
        n_params = sum(p.numel() for p in enc.model.parameters()) / 1e6
        print(f"bench_embed: {args.arch} hidden={args.hidden} layers={args.layers} ({n_params:.1f} M params), "
              f"{args.images} JPEGs {args.src_size}px -> {args.image_size}px, batch {args.batch_size}, "
              f"workers {args.workers}, device {args.device} ({args.dtype}), torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")

        # bare: pre-decoded, pre-processed tensor
        images = list_images(tmp / "img")
        pixels = torch.stack([enc.preprocess(open_image(images.raw(i))) for i in range(len(images))])
        enc.encode(pixels[: args.batch_size])  # warm-up
        sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
        sync()
        t0 = time.perf_counter()
        for b0 in range(0, len(pixels), args.batch_size):
            enc.encode(pixels[b0:b0 + args.batch_size])
        sync()
        bare = len(pixels) / (time.perf_counter() - t0)

        # pipeline: from files, with workers (warm-up on a small subset in another cache)
        warm = tmp / "warm"
        warm.mkdir()
        for f in sorted((tmp / "img").iterdir())[: args.batch_size]:
            (warm / f.name).symlink_to(f)
        embed_images(warm, enc, tmp / "cache_warm", batch_size=args.batch_size, workers=args.workers, progress=False,
                     device=args.device)
        t0 = time.perf_counter()
        stats = embed_images(tmp / "img", enc, tmp / "cache", batch_size=args.batch_size, workers=args.workers,
                             progress=False, device=args.device)
        pipe = stats.embedded / (time.perf_counter() - t0)
        assert stats.embedded == args.images, stats

    print(f"  bare model forward : {bare:8.1f} images/s (pre-decoded tensors)")
    print(f"  full embed pipeline: {pipe:8.1f} images/s (JPEG files, {args.workers} workers)")
    print(f"  ratio pipeline/bare: {pipe / bare:.2f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
