#!/usr/bin/env python
"""Benchmark ``rsmmvp mine``'s blocked exact search against two baselines measured in the same run.

For each N (``--sizes``), on random-but-clustered L2-normalised embeddings (CLIP d = ``--dim``,
SSL d = ``--ssl-dim``), three methods run, each in a fresh subprocess (clean peak-memory reading):

``mine``      :func:`rsmmvp_tasks.mining.search.mine_pairs` (threshold CLIP tiles, SSL for survivors, greedy).
``baseline``  bare chunked search: the same upper-triangle ``block x block`` tiles, torch matmul into a
              reused buffer + ``topk(k=10)`` per row of each tile (no thresholds, no SSL, no selection).
``naive``     the full ``N x N`` CLIP matrix at once, thresholded, SSL for the survivors. Only where
              ``N^2 * 5`` bytes fit under ``--naive-max-gb`` (else skipped, with a note).

Printed per N: wall time of each, ``mine/baseline`` and ``mine/naive`` time ratios (targets: <= 1.5
and well under 1), and peak memory: the ``O(N*d + block^2)`` floor (both embedding matrices in
float32 + one float32 tile), the measured peak RSS growth over the process before the data was
made (Linux ``VmHWM``, reset after data generation — and ``malloc_trim`` of its temporaries — via
``/proc/self/clear_refs``), and their ratio
(target <= 1.5). Same-run ratios only; absolute times depend on the machine and its load.

    python scripts/bench_mine.py                       # N = 20k, 50k (about 5 min on 2 busy cores)
    python scripts/bench_mine.py --sizes 100000        # N = 100k

Candidate stages side by side (``--indexes``)
---------------------------------------------
``--indexes SPEC,...`` compares, at each N and on each data set of ``--sets``, the exact torch search
with faiss's flat index (``flat``) and approximate indexes (``ivf`` / ``hnsw``, settings as
``ivf:nlist=316:nprobe=2``), each in its own subprocess: time (without the recall check, which
is timed apart) and its ratio to ``exact``, peak
memory, the recall of the CLIP-close set measured by ``--check-recall`` (1000 query images, Wilson
95% interval), the share of the exact candidates found, and whether the final pairs are identical.
Data sets: ``easy`` (:func:`make_data`), ``hard`` (:func:`make_hard_data`: CLIP-like, random images at
cosine ~0.5, 30% of images in near-duplicate groups of 100-400).

    python scripts/bench_mine.py --sizes 100000 --indexes flat,ivf,ivf:nprobe=2,hnsw --sets easy,hard
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _rss_bytes(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def _trim() -> None:
    """``malloc_trim(0)``: return freed heap pages to the OS (glibc; a no-op elsewhere)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def make_data(n: int, dim: int, ssl_dim: int, seed: int = 0, cluster: int = 10, chunk: int = 4096,
              device: str = "cpu"):
    """Clustered unit vectors, generated in chunks (no big temporaries) on ``device``.

    Points come in clusters of ``cluster``; CLIP noise per point is drawn so that within-cluster
    CLIP cosines straddle 0.95. 70% of points share their cluster's SSL centre, 30% get a random
    one: those are CLIP-close but SSL-far from their cluster mates (the pairs ``mine`` looks for).
    """
    import torch

    g = torch.Generator(device=device).manual_seed(seed)
    n_clusters = (n + cluster - 1) // cluster
    clip_c = torch.nn.functional.normalize(torch.randn(n_clusters, dim, generator=g, device=device), dim=1)
    ssl_c = torch.nn.functional.normalize(torch.randn(n_clusters, ssl_dim, generator=g, device=device), dim=1)
    clip = torch.empty(n, dim, device=device)
    ssl = torch.empty(n, ssl_dim, device=device)
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        k = torch.arange(r0, r1, device=device) // cluster
        spread = torch.empty(r1 - r0, 1, device=device).uniform_(0.01, 0.12, generator=g).div_(dim).sqrt_()
        clip[r0:r1] = torch.nn.functional.normalize(
            clip_c[k] + spread * torch.randn(r1 - r0, dim, generator=g, device=device), dim=1)
        swap = torch.rand(r1 - r0, generator=g, device=device) < 0.3
        ks = torch.where(swap, torch.randint(0, n_clusters, (r1 - r0,), generator=g, device=device), k)
        ssl[r0:r1] = torch.nn.functional.normalize(
            ssl_c[ks] + 0.02 * torch.randn(r1 - r0, ssl_dim, generator=g, device=device), dim=1)
    return clip, ssl


def make_hard_data(n: int, dim: int, ssl_dim: int, seed: int = 0, grouped: float = 0.3, chunk: int = 4096):
    """CLIP-like unit vectors: random images at cosine ~0.5 (a shared direction), near-duplicate groups.

    A share ``grouped`` of the images falls in groups of 100-400 around a group centre (within-group
    CLIP cosines ~0.93-0.99, straddling 0.95); 90% of a group's members share its SSL vector (CLIP
    and SSL both close: near-duplicates, excluded by the rule), 10% get a random one (CLIP-blind pairs
    with every mate). The rest are independent images (CLIP cosine ~0.5 to everything).
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    shared = torch.nn.functional.normalize(torch.randn(1, dim, generator=g), dim=1)
    group_of = torch.full((n,), -1, dtype=torch.int64)
    k, pos = 0, 0
    while pos < int(n * grouped):
        size = int(torch.randint(100, 401, (1,), generator=g))
        group_of[pos:pos + size] = k
        k, pos = k + 1, pos + size
    group_of = group_of[torch.randperm(n, generator=g)]
    centres = torch.nn.functional.normalize(torch.randn(max(k, 1), dim, generator=g), dim=1)
    ssl_centres = torch.nn.functional.normalize(torch.randn(max(k, 1), ssl_dim, generator=g), dim=1)
    clip, ssl = torch.empty(n, dim), torch.empty(n, ssl_dim)
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        gk = group_of[r0:r1]
        inside = gk >= 0
        own = torch.nn.functional.normalize(torch.randn(r1 - r0, dim, generator=g), dim=1)
        base = torch.where(inside[:, None], centres[gk.clamp(min=0)], own)
        spread = torch.where(inside, torch.empty(r1 - r0).uniform_(0.1, 0.2, generator=g), torch.zeros(r1 - r0))
        v = torch.nn.functional.normalize(base + spread[:, None] * torch.randn(r1 - r0, dim, generator=g) / dim ** 0.5,
                                          dim=1)
        clip[r0:r1] = torch.nn.functional.normalize(0.5 ** 0.5 * shared + 0.5 ** 0.5 * v, dim=1)
        swap = ~inside | (torch.rand(r1 - r0, generator=g) < 0.1)
        s_base = torch.where(swap[:, None], torch.randn(r1 - r0, ssl_dim, generator=g), ssl_centres[gk.clamp(min=0)])
        ssl[r0:r1] = torch.nn.functional.normalize(s_base + 0.02 * torch.randn(r1 - r0, ssl_dim, generator=g), dim=1)
    return clip, ssl


def index_params(spec: str) -> dict:
    """``ivf:nlist=316:nprobe=2`` -> MineParams keywords (``exact`` / ``flat`` / ``ivf`` / ``hnsw``)."""
    kind, *opts = spec.split(":")
    kw: dict = {"exact": {}, "flat": {"backend": "faiss"}, "ivf": {"index": "ivf"}, "hnsw": {"index": "hnsw"}}[kind]
    for opt in opts:
        key, value = opt.split("=")
        kw[{"m": "hnsw_m", "ef": "ef_search"}.get(key, key)] = int(value)
    return kw


def run_baseline(clip, block: int, k: int = 10) -> int:
    """Bare chunked matmul + top-k over the same tiles as ``mine``; returns the number of tiles."""
    import torch

    n = clip.shape[0]
    block = min(block, n)
    buf = torch.empty(block * block)
    tiles = 0
    best = []
    with torch.inference_mode():
        starts = range(0, n, block)
        for r0 in starts:
            rows = clip[r0:r0 + block]
            for c0 in range(r0, n, block):
                cols = clip[c0:c0 + block]
                sim = buf[: rows.shape[0] * cols.shape[0]].view(rows.shape[0], cols.shape[0])
                torch.matmul(rows, cols.T, out=sim)
                best.append(torch.topk(sim, min(k, cols.shape[0]), dim=1))
                tiles += 1
    return tiles


def run_naive(clip, ssl, clip_min: float, ssl_max: float, dup: float) -> int:
    """The whole N x N CLIP matrix at once; returns the candidate count."""
    import torch

    with torch.inference_mode():
        full = clip @ clip.T
        mask = full >= clip_min
        del full
        mask.triu_(1)
        i, j = mask.nonzero(as_tuple=True)
        del mask
        s = (ssl[i] * ssl[j]).sum(1)
        return int(((s < ssl_max) & (s < dup)).sum())


def child(method: str, n: int, args: argparse.Namespace) -> dict:
    import torch

    from rsmmvp_tasks.mining.search import MineParams, mine_pairs

    torch.set_num_threads(args.threads or torch.get_num_threads())
    rss0 = _rss_bytes()
    clip, ssl = (make_hard_data if args.data == "hard" else make_data)(n, args.dim, args.ssl_dim)
    _trim()  # give the generator's freed temporaries back, so RSS = baseline + data
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    t0 = time.perf_counter()
    out: dict = {"method": method, "n": n}
    if method == "mine":
        cands, chosen = mine_pairs(clip, ssl, MineParams(block=args.block))
        out.update(candidates=len(cands), pairs=len(chosen))
    elif method.split(":")[0] in ("exact", "flat", "ivf", "hnsw"):
        import numpy as np

        params = MineParams(block=args.block, check_recall=args.check_recall, **index_params(method))
        cands, chosen = mine_pairs(clip, ssl, params)
        out.update(candidates=len(cands), pairs=len(chosen), recall=cands.recall, search=cands.search)
        keys = {"cands": np.sort(cands.i * n + cands.j), "chosen": cands.i[chosen] * n + cands.j[chosen]}
        np.savez(args.keys_file, **keys)
    elif method == "baseline":
        out.update(tiles=run_baseline(clip, args.block))
    else:
        out.update(candidates=run_naive(clip, ssl, 0.95, 0.6, 0.9))
    out["seconds"] = time.perf_counter() - t0
    if isinstance(out.get("recall"), dict):  # the recall check is a measurement, not part of the search
        out["seconds"] -= out["recall"].get("seconds", 0.0)
    out["peak_bytes"] = _rss_bytes("VmHWM") - rss0
    block = min(args.block, n)
    out["floor_bytes"] = clip.numel() * 4 + ssl.numel() * 4 + block * block * 4
    return out


def compare_indexes(args: argparse.Namespace) -> int:
    """The ``--indexes`` table (module docstring)."""
    import tempfile

    import numpy as np

    print(f"bench_mine --indexes: d={args.dim}, ssl d={args.ssl_dim}, block={args.block}, cpus={os.cpu_count()}, "
          f"recall check {args.check_recall} queries")
    tmp = Path(tempfile.mkdtemp(prefix="bench_mine_"))
    for n in (int(x) for x in args.sizes.split(",") if x.strip()):
        for data in args.sets.split(","):
            rows, ref = [], None
            for method in ["exact", *args.indexes.split(",")]:
                keys_file = tmp / f"{data}-{n}-{len(rows)}.npz"
                cmd = [sys.executable, __file__, "--child", method, str(n), "--dim", str(args.dim), "--ssl-dim",
                       str(args.ssl_dim), "--block", str(args.block), "--threads", str(args.threads), "--data", data,
                       "--keys-file", str(keys_file), "--check-recall", str(args.check_recall)]
                proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"  {data} N={n} {method}: failed\n{proc.stderr[-1500:]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                with np.load(keys_file) as z:
                    keys = {k: z[k] for k in z.files}
                if ref is None:
                    ref = (r, keys)
                base, base_keys = ref
                rec = r.get("recall") or {}
                lo, hi = (rec.get("interval95") or [None, None])
                found = len(np.intersect1d(keys["cands"], base_keys["cands"])) / max(1, len(base_keys["cands"]))
                same = np.array_equal(keys["chosen"], base_keys["chosen"])
                rows.append(f"  {data:4s} N={n:>7} {method:22s} {r['seconds']:7.1f}s  x{r['seconds'] / base['seconds']:5.2f}  "
                            f"peak {r['peak_bytes'] / 2**20:6.0f} MB  recall "
                            + (f"{rec['recall']:.4f} [{lo:.4f}, {hi:.4f}] of {rec['exact_pairs']}" if rec.get("recall") is not None
                               else "n/a") + f"  candidates {r['candidates']} ({found:.4f} of exact)  "
                            f"final pairs {'identical' if same else 'DIFFER'}")
                print(rows[-1], flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20000,50000", help="comma-separated N (default: 20000,50000)")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--ssl-dim", type=int, default=768)
    ap.add_argument("--block", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--naive-max-gb", type=float, default=2.5, help="run the naive N x N method only below this")
    ap.add_argument("--indexes", default=None, metavar="SPEC,...",
                    help="compare candidate stages instead: exact vs these (flat, ivf[:nlist=..][:nprobe=..], "
                         "hnsw[:m=..][:ef=..]); see the docstring")
    ap.add_argument("--sets", default="easy", help="data sets of --indexes: easy, hard (default: easy)")
    ap.add_argument("--check-recall", type=int, default=1000, help="query images of the recall check (default: 1000)")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--data", default="easy", help=argparse.SUPPRESS)
    ap.add_argument("--keys-file", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args), default=str))
        return 0
    if args.indexes:
        return compare_indexes(args)

    passthrough = ["--dim", str(args.dim), "--ssl-dim", str(args.ssl_dim), "--block", str(args.block),
                   "--threads", str(args.threads)]
    print(f"bench_mine: d={args.dim}, ssl d={args.ssl_dim}, block={args.block}, cpus={os.cpu_count()}")
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        res = {}
        for method in ("mine", "baseline", "naive"):
            if method == "naive" and n * n * 5 / 2**30 > args.naive_max_gb:
                print(f"  N={n}: naive skipped (N x N float32 + mask = {n * n * 5 / 2**30:.1f} GB > --naive-max-gb)")
                continue
            proc = subprocess.run([sys.executable, __file__, "--child", method, str(n), *passthrough],
                                  check=False, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"  N={n}: {method} failed:\n{proc.stderr[-2000:]}")
                continue
            res[method] = json.loads(proc.stdout.strip().splitlines()[-1])
        if "mine" not in res:
            continue
        m = res["mine"]
        line = [f"N={n}", f"mine {m['seconds']:.2f}s ({m['candidates']} candidates, {m['pairs']} pairs)"]
        if "baseline" in res:
            b = res["baseline"]
            line.append(f"baseline {b['seconds']:.2f}s -> mine/baseline {m['seconds'] / b['seconds']:.2f}x (target <= 1.5)")
        if "naive" in res:
            v = res["naive"]
            line.append(f"naive {v['seconds']:.2f}s -> mine/naive {m['seconds'] / v['seconds']:.2f}x")
        print("  " + " | ".join(line))
        mb = 2**20
        for name in ("mine", "baseline", "naive"):
            if name in res:
                r = res[name]
                print(f"    peak memory {name:8s}: floor {r['floor_bytes'] / mb:7.0f} MB, measured {r['peak_bytes'] / mb:7.0f} MB, "
                      f"ratio {r['peak_bytes'] / r['floor_bytes']:.2f}" + (" (target <= 1.5)" if name == "mine" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
