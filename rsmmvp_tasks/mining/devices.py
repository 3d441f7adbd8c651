"""Checking a ``--device`` before any work: a device that is not there is a usage error, said up front.

torch accepts ``torch.device("cuda")`` on a machine without CUDA and fails only at the first tensor
moved there (``AssertionError: Torch not compiled with CUDA enabled``). :func:`check_device` asks
first and raises :class:`~rsmmvp_tasks.errors.UsageError` naming the device, why it is not usable
and the devices that are.
"""

from __future__ import annotations

import os

from rsmmvp_tasks.errors import UsageError

__all__ = ["available_devices", "check_device"]


def available_devices() -> list[str]:
    """The torch devices usable here: ``cpu``, then ``cuda:0``..``cuda:N-1``, then ``mps`` when present."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def _cuda_unavailable_reason() -> str:
    import torch

    if torch.version.cuda is None:
        return f"this torch build ({torch.__version__}) has no CUDA support"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return "no GPU is visible" + (f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else "")


def check_device(spec: str, option: str = "--device") -> str:
    """Return ``spec`` when torch can use it here; else raise :class:`UsageError` naming it and what is available."""
    import torch

    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise UsageError(f"{option} {spec!r} is not a torch device; use one of {', '.join(available_devices())}") from None
    available = ", ".join(available_devices())
    if dev.type == "cpu":
        return spec
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{option} {spec}: CUDA is not available here ({_cuda_unavailable_reason()}); "
                             f"available: {available}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"{option} {spec}: there are {torch.cuda.device_count()} GPU(s) here; available: {available}")
        return spec
    backend = getattr(torch, dev.type, None) if dev.type != "mps" else getattr(torch.backends, "mps", None)
    is_available = getattr(backend, "is_available", None)
    if is_available is None or not is_available():
        raise UsageError(f"{option} {spec}: device type {dev.type!r} is not available here; available: {available}")
    return spec
