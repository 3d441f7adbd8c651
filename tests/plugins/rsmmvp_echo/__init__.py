"""A test-only lmms-eval model, registered the way a user adds one: an ``lmms_eval.models`` entry point.

``RuleVLM`` answers from the document with fixed, known mistakes, so a test can compute the exact
scores a run must report. It takes its rank and world size from ``accelerate``, so under
``accelerate launch`` lmms-eval shards the documents across processes (doc 0 to rank 0, doc 1 to
rank 1, ...: every pair is split across ranks).

Rule (``index`` is the dataset row's index):
- ``index % 7 == 0``: a refusal ("I cannot tell from this image.") -> unreadable
- ``index % 4 == 0``: a wrong letter, in a sentence
- otherwise: the right letter, in a sentence
"""

from __future__ import annotations

from typing import Any


def reply_for(doc: dict[str, Any]) -> str:
    index, answer, n = int(doc["index"]), str(doc["answer"]), len(doc["options"])
    if index % 7 == 0:
        return "I cannot tell from this image."
    if index % 4 == 0:
        wrong = chr(ord("A") + (ord(answer) - ord("A") + 1) % n)
        return f"The answer is {wrong}."
    return f"The correct option is ({answer.lower()})."


def manifests() -> list[Any]:
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id="rule_vlm", simple_class_path="rsmmvp_echo.model.RuleVLM")]
