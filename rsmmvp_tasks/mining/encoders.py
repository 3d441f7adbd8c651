"""Image encoders for mining: a small registry of *kinds*, each turning a transformers model into vectors.

Kinds
-----
``clip``
    CLIP-family models (anything with ``get_image_features``: CLIP, SigLIP, ...): the projected
    image embedding.
``ssl``
    Self-supervised ViTs (DINOv2, DINO, ...): ``pooler_output`` when the model has one (DINOv2:
    the layer-normed CLS token), else the CLS token of ``last_hidden_state``.
``auto``
    ``clip`` when the loaded model has ``get_image_features``, else ``ssl``.

Adding a kind
-------------
Write a function ``features(model, pixel_values) -> Tensor (batch, dim)`` and register it::

    from rsmmvp_tasks.mining.encoders import register_kind

    @register_kind("mean_patch")
    def mean_patch(model, pixel_values):
        return model(pixel_values=pixel_values).last_hidden_state[:, 1:].mean(1)

then ``rsmmvp embed ... --kind mean_patch`` uses it (import your module first, e.g. from a
wrapper script). Vectors are L2-normalised by :meth:`Encoder.encode`, whatever the kind.

Models are loaded with ``AutoModel.from_pretrained(MODEL)`` and images preprocessed with
``AutoImageProcessor.from_pretrained(MODEL, backend="pil")`` (``use_fast=False`` on transformers 4: the PIL processors: no torchvision
needed). ``MODEL`` is a hub id (the local cache is used; offline mode is honoured) or a local folder.

Errors: :class:`EncoderError` (an :class:`~rsmmvp_tasks.errors.InputError`) for an unknown kind, a
model that does not fit its kind, a dtype the device cannot run, and a model that cannot be loaded —
a folder that is not a saved model, or a hub id that is neither in the local cache nor reachable; the
message says which and that a local folder works. A device that is not there is a
:class:`~rsmmvp_tasks.errors.UsageError` (:func:`~rsmmvp_tasks.mining.devices.check_device`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.modelload import DTYPES, ModelLoadError, cause_of, load_pil_processor, not_loadable, resolve_dtype

__all__ = [
    "DTYPES",
    "KINDS",
    "Encoder",
    "EncoderError",
    "load_encoder",
    "register_kind",
    "resolve_dtype",
]

log = logging.getLogger(__name__)

#: ``kind name -> features(model, pixel_values)``; extend with :func:`register_kind`.
KINDS: dict[str, Callable[[Any, Any], Any]] = {}

#: ``--dtype`` choices; ``auto`` is float16 on CUDA (bfloat16 where supported) and float32 on CPU.


class EncoderError(ModelLoadError):
    """A model that cannot be used as the requested kind (or an unknown kind)."""


def register_kind(name: str) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    """Decorator: register ``features(model, pixel_values) -> (batch, dim) tensor`` as kind ``name``."""

    def deco(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        if name == "auto":
            raise ValueError("'auto' is reserved")
        KINDS[name] = fn
        return fn

    return deco


@register_kind("clip")
def clip_features(model: Any, pixel_values: Any) -> Any:
    """The projected image embedding of a CLIP-family model."""
    if not hasattr(model, "get_image_features"):
        raise EncoderError(f"{type(model).__name__} has no get_image_features; it is not a CLIP-family model (use --kind ssl)")
    out = model.get_image_features(pixel_values=pixel_values)
    # transformers >= 5 returns a BaseModelOutputWithPooling whose pooler_output is the projection
    return out if hasattr(out, "shape") else out.pooler_output


@register_kind("ssl")
def ssl_features(model: Any, pixel_values: Any) -> Any:
    """``pooler_output`` of a self-supervised ViT, or its CLS token when it has no pooler."""
    out = model(pixel_values=pixel_values)
    pooled = getattr(out, "pooler_output", None)
    if pooled is not None:
        return pooled.flatten(1)
    hidden = getattr(out, "last_hidden_state", None)
    if hidden is None or hidden.dim() != 3:
        raise EncoderError(f"{type(model).__name__} returns neither pooler_output nor a token sequence")
    return hidden[:, 0]


@dataclass
class Encoder:
    """A loaded model, its image processor and the kind that turns it into vectors."""

    model_id: str
    kind: str
    model: Any
    processor: Any
    device: Any
    dtype: Any
    dim: int

    def preprocess(self, image: Any) -> Any:
        """One RGB PIL image -> a ``(C, H, W)`` float32 tensor (safe in DataLoader workers)."""
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def encode(self, pixel_values: Any) -> Any:
        """A ``(B, C, H, W)`` batch -> ``(B, dim)`` L2-normalised float32 vectors on the CPU."""
        import torch

        with torch.inference_mode():
            feats = KINDS[self.kind](self.model, pixel_values.to(self.device, self.dtype, non_blocking=True))
            feats = torch.nn.functional.normalize(feats.float(), dim=-1)
        return feats.cpu()

    def describe(self) -> dict[str, Any]:
        """What the cache manifest records about this encoder."""
        return {"encoder": self.model_id, "kind": self.kind, "model_dtype": str(self.dtype).replace("torch.", ""),
                "dim": self.dim}


def load_encoder(model_id: str, kind: str = "auto", device: Any = "cpu", dtype: str = "auto") -> Encoder:
    """Load ``model_id`` (hub id or folder) as an :class:`Encoder` of ``kind`` (``auto``/``clip``/``ssl``/registered).

    Raises :class:`EncoderError` for an unknown kind or a model that does not fit it, and lets
    transformers' ``OSError`` through (with its message) when the model cannot be found.
    """
    import torch

    from rsmmvp_tasks.mining.devices import check_device

    if kind != "auto" and kind not in KINDS:
        raise EncoderError(f"unknown encoder kind {kind!r}; known: auto, {', '.join(sorted(KINDS))}")
    check_device(str(device))
    torch_dtype = resolve_dtype(dtype, device)
    if Path(model_id).expanduser().is_dir():  # a local folder: record it absolute, so resuming from elsewhere matches
        model_id = str(Path(model_id).expanduser().resolve())
    processor, model = _load_model(model_id, torch_dtype)
    model.eval().to(device)
    if kind == "auto":
        kind = "clip" if hasattr(model, "get_image_features") else "ssl"
        log.info("%s: kind auto -> %s", model_id, kind)
    enc = Encoder(model_id, kind, model, processor, torch.device(device), torch_dtype, dim=0)
    enc.dim = _probe_dim(enc)
    log.info("loaded %s (%s, %s, dim %d) on %s", model_id, kind, enc.describe()["model_dtype"], enc.dim, device)
    return enc


def _load_model(model_id: str, torch_dtype: Any) -> tuple[Any, Any]:
    """``(image processor, model)`` of ``model_id``; loading failures become :class:`EncoderError`."""
    from transformers import AutoImageProcessor, AutoModel

    try:
        processor = load_pil_processor(AutoImageProcessor, model_id)
        model = AutoModel.from_pretrained(model_id, dtype=torch_dtype)
    except (OSError, ValueError, KeyError) as exc:  # OSError: not found / offline; ValueError/KeyError: unknown model type
        raise EncoderError(_load_failure(model_id, exc)) from None
    return processor, model


def _load_failure(model_id: str, exc: BaseException) -> str:
    """Why ``model_id`` could not be loaded, and what to do, in one message."""
    cause = cause_of(exc)
    path = Path(model_id).expanduser()
    if path.is_dir():
        return (f"--encoder {model_id}: this folder is not a saved transformers model with an image processor "
                f"(config.json, preprocessor_config.json and the weights, as save_pretrained writes them) ({cause})")
    if model_id.startswith((".", "/", "~")) or "\\" in model_id or model_id.count("/") > 1:
        return f"--encoder {model_id}: no such folder (a local model folder, or a hub id like org/name, is expected)"
    return not_loadable(f"--encoder {model_id}", model_id, exc, f"hf download {model_id}",
                        "pass a local folder holding the saved model")


def _probe_dim(enc: Encoder) -> int:
    """The embedding size, from one forward pass on a blank image."""
    from PIL import Image

    size = 224
    crop = getattr(enc.processor, "crop_size", None) or getattr(enc.processor, "size", None) or {}
    if isinstance(crop, dict):
        size = int(crop.get("height") or crop.get("shortest_edge") or size)
    try:
        pixels = enc.preprocess(Image.new("RGB", (size, size)))[None]
        return int(enc.encode(pixels).shape[-1])
    except EncoderError:
        raise
    except Exception as exc:
        raise EncoderError(f"{enc.model_id} cannot be used as kind {enc.kind!r}: {type(exc).__name__}: {exc}") from exc
