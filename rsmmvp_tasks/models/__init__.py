"""Models shipped by rsmmvp, registered with lmms-eval through the ``lmms_eval.models`` entry point.

:func:`manifests` is what :func:`rsmmvp_tasks.evaluation.hook.manifests` returns to lmms-eval: one
``ModelManifest`` per model in :data:`MODELS` (model id -> ``module.Class`` path).

lmms-eval's legacy ``LMMS_EVAL_PLUGINS=rsmmvp_tasks`` mechanism imports ``<plugin>.models`` and reads
``AVAILABLE_MODELS``; it stays empty so that setting the variable is harmless (the entry point
already registers our models).
"""

from __future__ import annotations

from typing import Any

#: model id -> class path, registered through the entry point
MODELS: dict[str, str] = {
    # the vision encoder's own zero-shot answers (MMVP-VLM style); see rsmmvp_tasks/models/clip.py
    "rsmmvp_clip": "rsmmvp_tasks.models.clip.RsmmvpClip",
}

#: legacy LMMS_EVAL_PLUGINS mapping (kept empty on purpose, see the module docstring)
AVAILABLE_MODELS: dict[str, str] = {}


def manifests() -> list[Any]:
    """The ``ModelManifest`` of every model in :data:`MODELS` (imports lmms-eval's registry lazily)."""
    if not MODELS:
        return []
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id=name, simple_class_path=path) for name, path in MODELS.items()]
