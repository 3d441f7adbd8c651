#!/usr/bin/env python
"""GPU checks of mining and embedding (issue 20, item 6), in one run that prints one table.

Data: :func:`bench_mine.make_data` (clustered unit vectors, CLIP d = 768, SSL d = 1024, CLIP-close
but SSL-far pairs planted), generated on the GPU. Sections, in priority order (a section is skipped,
saying so, once ``--budget`` seconds have passed):

``identical``  N = 20k: exact mining on the CPU (fp32) and on CUDA in fp32, tf32 and bf16 candidate
               passes: candidate pair sets and chosen pairs compared (must be identical).
``exact``      N = 100k and 1M on CUDA: each precision with the block chosen from free memory (and
               tf32 at other blocks at 1M), time, peak GPU memory, and the ratio to a bare blocked
               matmul over the same upper triangle in fp32 (and in the same precision) measured here.
``scale``      N = 2M, 3M tf32 (and bf16): time and peak; 10M extrapolated as t(3M) * (10/3)^2
               (the triangle's work grows as N^2; memory as N).
``embed``      ``scripts/bench_embed.py --device cuda`` (tiny ViT from a config): pipeline vs bare forward.
``index``      ``--index ivf`` at 1M (faiss; GPU build when importable, else faiss-cpu on this
               machine's cores, printed) with ``check_recall``, against the exact result; HNSW at 200k.

Writes the table and a JSON of all figures to ``--out`` (default ``$OUT`` or ``.``).

    python scripts/gpu_check.py --budget 380
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

T0 = time.perf_counter()
DEV = "cuda"
SCALE = 1.0
RESULTS: dict[str, Any] = {}
LINES: list[str] = []


def say(line: str) -> None:
    print(line, flush=True)
    LINES.append(line)


def over(budget: float) -> bool:
    return time.perf_counter() - T0 > budget


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, int]:
    """``(result, seconds, peak GPU bytes)`` of ``fn(*args, **kwargs)`` (CUDA synchronised, peak reset before)."""
    import torch

    if DEV == "cpu":  # a dry run of the script on a machine without a GPU
        t0 = time.perf_counter()
        return fn(*args, **kwargs), time.perf_counter() - t0, 0
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    torch.cuda.synchronize()
    return out, time.perf_counter() - t0, torch.cuda.max_memory_allocated()


def size(n: int) -> int:
    return max(1000, int(n * SCALE))


def free_cache() -> None:
    import torch

    if DEV != "cpu":
        torch.cuda.empty_cache()


def bare_triangle(C: Any, block: int, precision: str) -> None:
    """The floor: ``block x block`` matmuls over the upper triangle into one buffer, nothing else."""
    import torch

    from rsmmvp_tasks.mining.precision import low_precision

    Q = C.to(torch.bfloat16) if precision == "bf16" else C
    n = len(Q)
    buf = torch.empty(block * block, dtype=Q.dtype, device=Q.device)
    with torch.inference_mode(), low_precision(precision):
        for r0 in range(0, n, block):
            rows = Q[r0:r0 + block]
            for c0 in range(r0, n, block):
                cols = Q[c0:c0 + block]
                torch.matmul(rows, cols.T, out=buf[: len(rows) * len(cols)].view(len(rows), len(cols)))


def keys(cands: Any, n: int) -> Any:
    import numpy as np

    return np.sort(cands.i.astype(np.int64) * n + cands.j.astype(np.int64))


def chosen_keys(cands: Any, chosen: Any, n: int) -> list[int]:
    return [int(cands.i[k]) * n + int(cands.j[k]) for k in chosen]


def mine(C: Any, D: Any, **kw: Any) -> tuple[Any, Any]:
    from rsmmvp_tasks.mining.search import MineParams, mine_pairs

    return mine_pairs(C, D, MineParams(**kw))


def section_identical(args: argparse.Namespace) -> None:
    import numpy as np
    from bench_mine import make_data

    n = size(20_000)
    C, D = make_data(n, 768, 1024, device=DEV)
    cpu_c, cpu_ch = mine(C.cpu(), D.cpu(), device="cpu", precision="fp32")
    ref, ref_ch = keys(cpu_c, n), chosen_keys(cpu_c, cpu_ch, n)
    row = {"cpu_fp32": {"candidates": len(cpu_c), "chosen": len(cpu_ch)}}
    for precision in ("fp32", "tf32", "bf16"):
        (c, ch), dt, _ = timed(mine, C, D, device=DEV, precision=precision)
        same = bool(np.array_equal(keys(c, n), ref)) and chosen_keys(c, ch, n) == ref_ch
        row[f"cuda_{precision}"] = {"candidates": len(c), "chosen": len(ch), "identical_to_cpu": same, "seconds": dt}
        say(f"identical N=20k: CPU fp32 {len(cpu_c)} candidates/{len(cpu_ch)} chosen | CUDA {precision}: "
            f"{len(c)}/{len(ch)}, identical={same}, {dt:.2f}s")
    RESULTS["identical_20k"] = row
    free_cache()


def section_exact(args: argparse.Namespace, n: int, extra_blocks: tuple[int, ...] = ()) -> None:
    import numpy as np
    import torch
    from bench_mine import make_data

    from rsmmvp_tasks.mining.precision import auto_block

    n = size(n)
    C, D = make_data(n, 768, 1024, device=DEV)
    data_bytes = torch.cuda.memory_allocated() if DEV != "cpu" else 0
    out: dict[str, Any] = {"data_gb": data_bytes / 1e9}
    floors: dict[tuple[int, str], float] = {}
    ref = None
    runs = [(p, None) for p in ("tf32", "bf16", "fp32")] + [("tf32", b) for b in extra_blocks]
    for precision, block in runs:
        if over(args.budget):
            say(f"exact N={n}: {precision} block={block} skipped (budget)")
            continue
        blk = block or auto_block(DEV, n, precision)
        (c, ch), dt, peak = timed(mine, C, D, device=DEV, precision=precision, block=blk)
        for fp in ("fp32", precision) if block is None else (precision,):
            if (blk, fp) not in floors and not over(args.budget):
                _, floors[(blk, fp)], _ = timed(bare_triangle, C, blk, fp)
        k = keys(c, n)
        if ref is None:
            ref = (k, chosen_keys(c, ch, n))
        same = bool(np.array_equal(k, ref[0])) and chosen_keys(c, ch, n) == ref[1]
        f32, fp_same = floors.get((blk, "fp32")), floors.get((blk, precision))
        rec = {"precision": precision, "block": blk, "seconds": dt, "peak_gb": peak / 1e9,
               "tile_overhead_gb": (peak - data_bytes) / 1e9, "candidates": len(c), "chosen": len(ch),
               "identical_to_first": same, "bare_fp32_s": f32, "bare_same_precision_s": fp_same,
               "ratio_to_bare_fp32": dt / f32 if f32 else None, "ratio_to_bare_same": dt / fp_same if fp_same else None}
        out[f"{precision}_{blk}"] = rec
        say(f"exact N={n:>8}: {precision} block {blk:>5}: {dt:7.2f}s, peak {peak / 1e9:6.1f} GB (data {data_bytes / 1e9:.1f}), "
            f"{len(c)} cand/{len(ch)} chosen, identical={same} | bare fp32 {f32 or float('nan'):.2f}s -> "
            f"{dt / f32 if f32 else float('nan'):.2f}x | bare {precision} {fp_same or float('nan'):.2f}s -> "
            f"{dt / fp_same if fp_same else float('nan'):.2f}x")
    RESULTS[f"exact_{n}"] = out
    free_cache()


def section_scale(args: argparse.Namespace) -> None:
    from bench_mine import make_data

    from rsmmvp_tasks.mining.precision import auto_block

    for n in (size(2_000_000), size(3_000_000)):
        if over(args.budget):
            say(f"scale N={n}: skipped (budget)")
            continue
        C, D = make_data(n, 768, 1024, device=DEV)
        for precision in ("tf32", "bf16"):
            if over(args.budget):
                continue
            blk = auto_block(DEV, n, precision)
            (c, _ch), dt, peak = timed(mine, C, D, device=DEV, precision=precision, block=blk)
            ext = dt * (10_000_000 / n) ** 2
            RESULTS[f"scale_{n}_{precision}"] = {"seconds": dt, "peak_gb": peak / 1e9, "block": blk,
                                                "candidates": len(c), "extrapolated_10M_s": ext}
            say(f"scale N={n}: {precision} block {blk}: {dt:.1f}s, peak {peak / 1e9:.1f} GB, {len(c)} candidates "
                f"-> 10M extrapolated {ext / 60:.1f} min (x (10M/N)^2)")
        free_cache()


def section_embed(args: argparse.Namespace) -> None:
    for batch, workers in ((128, 8),):
        cmd = [sys.executable, str(ROOT / "scripts" / "bench_embed.py"), "--device", DEV, "--images", str(size(2048)),
               "--batch-size", str(batch), "--workers", str(workers), "--arch", "clip", "--hidden", "384",
               "--layers", "6", "--patch", "16"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=max(30, args.budget - (time.perf_counter() - T0)))
        tail = (proc.stdout.strip().splitlines() or ["(no output)"])[-4:]
        RESULTS[f"embed_b{batch}_w{workers}"] = {"rc": proc.returncode, "out": tail,
                                                 "stderr": proc.stderr[-800:] if proc.returncode else ""}
        for line in tail:
            say(f"embed cuda b{batch} w{workers}: {line.strip()}")
        if proc.returncode:
            say(f"embed failed: {proc.stderr[-800:]}")


def section_index(args: argparse.Namespace) -> None:
    import faiss
    import numpy as np
    from bench_mine import make_data

    gpus = getattr(faiss, "get_num_gpus", lambda: 0)()
    say(f"index: faiss {faiss.__version__}, GPUs visible to faiss: {gpus}, CPU threads {faiss.omp_get_max_threads()}"
        + ("" if gpus else " (faiss-cpu build: the index is built and searched on the CPU cores)"))
    for n, index, kw in ((size(1_000_000), "ivf", {}), (size(200_000), "hnsw", {})):
        if over(args.budget):
            say(f"index N={n} {index}: skipped (budget)")
            continue
        C, D = make_data(n, 768, 1024, device=DEV)
        (ex, ex_ch), t_exact, _ = timed(mine, C, D, device=DEV, precision="tf32")
        (c, ch), dt, _ = timed(mine, C, D, device=DEV, index=index, check_recall=1000, **kw)
        r = c.recall or {}
        full = len(c) / max(1, len(ex))
        same = bool(np.array_equal(keys(c, n), keys(ex, n))) and chosen_keys(c, ch, n) == chosen_keys(ex, ex_ch, n)
        RESULTS[f"index_{index}_{n}"] = {"seconds": dt, "exact_tf32_s": t_exact, "recall": r, "search": c.search,
                                         "candidates": len(c), "exact_candidates": len(ex),
                                         "identical_final_pairs": same}
        say(f"index N={n} {index} {c.search}: {dt:.1f}s vs exact tf32 GPU {t_exact:.1f}s, recall check "
            f"{r.get('recall')} {r.get('interval95')} over {r.get('exact_pairs')} pairs, candidates "
            f"{len(c)}/{len(ex)} ({full:.4f}), identical final pairs={same}")
        free_cache()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=380, help="seconds after which remaining sections are skipped")
    ap.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for gpu_check.txt/.json")
    ap.add_argument("--sections", default="identical,exact100k,exact1m,scale,embed,index")
    ap.add_argument("--blocks", default="8192,32768", help="extra tf32 blocks timed at 1M (default: 8192,32768)")
    ap.add_argument("--device", default="cuda", help="cuda (default); cpu only for a dry run of the script")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every N by this (dry runs)")
    args = ap.parse_args()
    global DEV, SCALE
    DEV, SCALE = args.device, args.scale
    import torch

    if DEV == "cpu":
        say(f"gpu_check DRY RUN on the CPU, sizes x {SCALE}")
        torch.cuda.get_device_name = lambda *_: "cpu (dry run)"  # type: ignore[assignment]
        torch.cuda.mem_get_info = lambda *_: (0, 0)  # type: ignore[assignment]

    say(f"gpu_check {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {torch.cuda.get_device_name(0)}, "
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, free {torch.cuda.mem_get_info()[0] / 1e9:.0f} GB, "
        f"cpus {os.cpu_count()}")
    RESULTS["device"] = torch.cuda.get_device_name(0)
    wanted = args.sections.split(",")
    steps = [("identical", lambda: section_identical(args)),
             ("exact100k", lambda: section_exact(args, 100_000)),
             ("exact1m", lambda: section_exact(args, 1_000_000, tuple(int(b) for b in args.blocks.split(",") if b))),
             ("scale", lambda: section_scale(args)),
             ("embed", lambda: section_embed(args)),
             ("index", lambda: section_index(args))]
    for name, step in steps:
        if name not in wanted:
            continue
        if over(args.budget):
            say(f"{name}: skipped (budget {args.budget:.0f}s spent)")
            continue
        try:
            step()
        except Exception as exc:  # noqa: BLE001 — a failing section must not hide the others' figures
            import traceback

            say(f"{name}: FAILED {type(exc).__name__}: {exc}")
            traceback.print_exc()
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(RESULTS, indent=1, default=str))
        (Path(args.out) / "gpu_check.txt").write_text("\n".join(LINES) + "\n")
    say(f"total {time.perf_counter() - T0:.0f}s")
    (Path(args.out) / "gpu_check.txt").write_text("\n".join(LINES) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
