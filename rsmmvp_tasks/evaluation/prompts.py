"""Turning a contract row (see :mod:`rsmmvp_tasks.schema`) into what a model sees.

The prompt is ``pre_prompt + question + "\\n" + lettered options + post_prompt``::

    Is there a ship in the harbour?
    A. Yes
    B. No
    Answer with the option's letter from the given choices directly.

``pre_prompt`` / ``post_prompt`` come from the task's ``lmms_eval_specific_kwargs`` and can be
overridden per model there (lmms-eval uses the sub-dict named like ``--model`` when present).
"""

from __future__ import annotations

from typing import Any, Mapping

from PIL import Image

from rsmmvp_tasks.schema import option_letters

__all__ = ["DIRECT_POST_PROMPT", "COT_POST_PROMPT", "format_options", "doc_to_text", "doc_to_visual", "doc_to_target"]

#: default instruction: answer with the letter only (greedy, short generation)
DIRECT_POST_PROMPT = "\nAnswer with the option's letter from the given choices directly."

#: chain-of-thought variant: reason first, then a final line the answer reader picks up
COT_POST_PROMPT = (
    "\nThink step by step about what is visible in the image, then give your final answer on the last "
    "line in the form 'Answer: X', where X is the option's letter."
)


def format_options(options: list[str] | tuple[str, ...]) -> str:
    """``["Yes", "No"] -> "A. Yes\\nB. No"``."""
    return "\n".join(f"{letter}. {text}" for letter, text in zip(option_letters(len(options)), options, strict=False))


def doc_to_text(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> str:
    """The text prompt of one row (without image tokens: the model adds those)."""
    kw = lmms_eval_specific_kwargs or {}
    pre = kw.get("pre_prompt", "") or ""
    post = kw.get("post_prompt", DIRECT_POST_PROMPT)
    post = DIRECT_POST_PROMPT if post is None else post
    return f"{pre}{doc['question'].strip()}\n{format_options(list(doc['options']))}{post}"


def doc_to_visual(doc: Mapping[str, Any]) -> list[Image.Image]:
    """The row's image as a one-element list of RGB PIL images (what lmms-eval models expect)."""
    image = doc["image"]
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"row index={doc.get('index')}: 'image' is {type(image).__name__}, expected a decoded PIL image; "
            "load the data with the contract features (rsmmvp_tasks.schema.features())"
        )
    return [image.convert("RGB")]


def doc_to_target(doc: Mapping[str, Any]) -> str:
    """The correct option letter."""
    return str(doc["answer"])
