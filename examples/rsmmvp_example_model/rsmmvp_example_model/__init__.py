"""A minimal lmms-eval model plugin: the entry point that registers the model id ``rsmmvp_example``.

``pyproject.toml`` names :func:`manifests` under the ``lmms_eval.models`` entry-point group. lmms-eval
calls it at start-up; each returned ``ModelManifest`` maps a ``--model`` id to a class path, imported
only when that model is used.
"""

from __future__ import annotations

from typing import Any

MODEL_ID = "rsmmvp_example"


def manifests() -> list[Any]:
    """The models this package adds to lmms-eval (imported lazily, so lmms-eval starts fast)."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id=MODEL_ID, simple_class_path="rsmmvp_example_model.model.ExampleVLM")]
