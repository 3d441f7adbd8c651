"""Loading models named by hub id or local folder: what the evaluation and the mining tools share.

- :func:`resolve_dtype`: the torch dtype of a ``dtype`` option (``auto``, ``float32``, ``float16``,
  ``bfloat16``) on a device; half precision is refused on CPU.
- :func:`load_pil_processor`: the slow (PIL) image processor of a model (no torchvision needed).
- :func:`not_loadable` / :func:`cause_of`: what to tell a user when a model or dataset named by hub id
  cannot be loaded. transformers and datasets fail with messages about URLs and
  ``preprocessor_config.json``; the user needs to know whether the hub was asked at all (offline
  mode), that the name was not in the local cache, and that a local folder works.

Errors: :class:`ModelLoadError` (an :class:`~rsmmvp_tasks.errors.InputError`). torch and transformers
are imported only when called.
"""

from __future__ import annotations

from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.hubaccess import hub_offline

__all__ = ["DTYPES", "ModelLoadError", "cause_of", "load_pil_processor", "not_loadable", "resolve_dtype"]

#: the values of a ``dtype`` option
DTYPES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")


class ModelLoadError(InputError):
    """A model, or a setting of it, that cannot be loaded."""


def resolve_dtype(name: str, device: Any) -> Any:
    """The torch dtype for ``--dtype name`` on ``device`` (half precision is refused on CPU)."""
    import torch

    if name not in DTYPES:
        raise ModelLoadError(f"unknown dtype {name!r}; choose one of {DTYPES}")
    dev = torch.device(device)
    if name == "auto":
        if dev.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    dtype = getattr(torch, name)
    if dev.type == "cpu" and dtype == torch.float16:
        raise ModelLoadError("--dtype float16 is for GPUs; on CPU use float32 (or bfloat16)")
    return dtype


def load_pil_processor(auto_cls: Any, model_id: str) -> Any:
    """The slow (PIL) image processor: ``backend="pil"`` on transformers >= 5, ``use_fast=False`` before."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return auto_cls.from_pretrained(model_id, backend="pil")
    return auto_cls.from_pretrained(model_id, use_fast=False)


def cause_of(exc: BaseException) -> str:
    """``"<ExceptionType>: <first line of its message>"``, to quote a library's error in ours."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def not_loadable(what: str, hub_id: str, exc: BaseException, download: str, local: str) -> str:
    """``"<what>: cannot load <hub_id>: <why> (<cause>). Download it once while online (<download>), or <local>"``."""
    cause = cause_of(exc)
    why = ("it is not in the local Hugging Face cache and offline mode is on (HF_HUB_OFFLINE)" if hub_offline()
           else "it was found neither in the local Hugging Face cache nor on the hub")
    return f"{what}: cannot load {hub_id!r}: {why} ({cause}). Download it once while online ({download}), or {local}"
