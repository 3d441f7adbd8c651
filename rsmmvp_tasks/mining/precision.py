"""Low-precision candidate passes that stay exact, and tile sizes chosen from free memory.

The exact rule
--------------
A pair is CLIP-close when the dot product of its two *stored* vectors (float32 rows, from float32 or
float16 caches), computed in float64, is ``>= clip_min`` (:func:`rescore`). Every search path — the
blocked torch pass in any precision, faiss's flat or approximate indexes — only *proposes* pairs
whose cheaply computed similarity is ``>= clip_min - margin``. A proposal at ``>= clip_min + margin``
is close for certain; the band in between is re-scored in float64 and decided on that value alone;
and every pair that survives the SSL filter carries its float64 CLIP cosine (so ranking by gap does
not depend on the pass either). A pass whose ``margin`` bounds its error therefore proposes every
pair the rule keeps, and all exact passes give *identical* pair sets and choices (the float64
rescore of float32 inputs is exact to ~1e-16; only a pair within that of the threshold could differ
across devices).

Error bound (:func:`matmul_margin`)
-----------------------------------
For rows ``x, y`` with ``||x||, ||y|| <= r`` (``r`` = the largest stored norm; 1 up to the cache's
:data:`~rsmmvp_tasks.mining.store.NORM_TOLERANCE`), a matmul that rounds its inputs to ``p``
significant bits (unit roundoff ``u = 2**-p`` by round-to-nearest), accumulates ``d`` products in
float32 (``u32 = 2**-24``) and rounds its output to ``q`` bits (``u_out = 2**-q``) computes ``s^``
with::

    |s^ - x.y| <= [ (2u + u^2) + gamma_d (1 + u)^2 + u_out (1 + gamma_d) ] * r^2 ,
    gamma_d = d * u32 / (1 - d * u32)

(input rounding ``x_i y_i (1+d1)(1+d2)``, Cauchy-Schwarz ``sum |x_i y_i| <= ||x|| ||y||``, the
standard bound of any summation order, then the output rounding). ``margin`` is this bound times
:data:`SAFETY` (2), which covers hardware that truncates instead of rounding (``u`` doubles) and
fused/split-K accumulation orders. Precisions: ``fp32`` (p = q = 24), ``tf32`` (p = 11, float32
output; tensor cores on Ampere and later, plain float32 elsewhere — the bound then only overstates),
``bf16`` (p = q = 8). For d = 768, unit vectors: fp32 ~1e-4, tf32 ~2e-3, bf16 ~2.4e-2.

Tile size (:func:`auto_block`)
------------------------------
A ``block x block`` tile costs ``block^2`` similarities (4 bytes, 2 in bf16) and a mask byte. With
``block=None`` the largest power of two whose tile takes at most :data:`TILE_MEMORY_SHARE` of the
device's free memory (CUDA: ``torch.cuda.mem_get_info``; CPU: ``MemAvailable``) is used, capped at
:data:`BLOCK_CAP` per device type (GPU: large tiles amortise the per-tile thresholding; CPU: 4096,
measured by ``scripts/bench_mine.py``) and at ``N``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

__all__ = ["BLOCK_CAP", "PRECISIONS", "SAFETY", "TILE_MEMORY_SHARE", "auto_block", "free_memory_bytes",
           "low_precision", "matmul_margin", "rescore", "resolve_precision"]

PRECISIONS: dict[str, tuple[int, int]] = {"fp32": (24, 24), "tf32": (11, 24), "bf16": (8, 8)}
"""``precision -> (input significant bits p, output significant bits q)``."""
SAFETY = 2.0
TILE_MEMORY_SHARE = 0.25
BLOCK_CAP: dict[str, int] = {"cuda": 16384, "cpu": 4096}
MIN_BLOCK = 256


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> ``bf16`` on CUDA, ``fp32`` elsewhere.

    Measured (README, performance): on an H200 at N = 1M-3M the bf16 pass is 14-23% faster than
    tf32 and 3.9x faster than fp32 (same pairs); CPUs have no TF32 and slow bf16 on most parts.
    """
    if precision != "auto":
        return precision
    return "bf16" if device.startswith("cuda") else "fp32"


def matmul_margin(precision: str, d: int, max_norm: float = 1.0) -> float:
    """The bound of the module docstring times :data:`SAFETY`, for ``d``-dimensional rows of norm <= ``max_norm``."""
    p, q = PRECISIONS[precision]
    u, u_out, u32 = 2.0 ** -p, 2.0 ** -q, 2.0 ** -24
    gamma = d * u32 / (1.0 - d * u32)
    bound = (2 * u + u * u) + gamma * (1 + u) ** 2 + u_out * (1 + gamma)
    return SAFETY * bound * max_norm * max_norm


@contextlib.contextmanager
def low_precision(precision: str) -> Iterator[None]:
    """Within: float32 CUDA matmuls use TF32 when ``precision == "tf32"``, never otherwise; restored after."""
    import torch

    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def free_memory_bytes(device: str) -> int:
    """Free memory of ``device``: CUDA's free bytes, or the host's ``MemAvailable`` (psutil-free, Linux; else 4 GiB)."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def auto_block(device: str, n: int, precision: str = "fp32") -> int:
    """The tile size of the module docstring for ``n`` rows on ``device`` (after the data is placed there)."""
    per_element = (2 if precision == "bf16" else 4) + 1
    budget = free_memory_bytes(device) * TILE_MEMORY_SHARE
    side = max(MIN_BLOCK, int(math.sqrt(budget / per_element)))
    block = 1 << (side.bit_length() - 1)
    cap = BLOCK_CAP["cuda" if device.startswith("cuda") else "cpu"]
    return max(1, min(block, cap, n))


def rescore(C: Any, a: Any, b: Any, chunk: int = 512) -> Any:
    """Float64 dot products ``C[a[k]] . C[b[k]]`` (torch, on ``C``'s device), as float64; in chunks of ``chunk`` pairs.

    Small chunks keep the gathered rows and their float64 copies (``2 * chunk * d * 12`` bytes, 9 MB
    at d = 768) well under a tile's memory.
    """
    import torch

    out = torch.empty(len(a), dtype=torch.float64, device=C.device)
    for k in range(0, len(a), chunk):
        x = C.index_select(0, a[k:k + chunk]).double()
        y = C.index_select(0, b[k:k + chunk]).double()
        out[k:k + chunk] = x.mul_(y).sum(1)
    return out
