"""Prompt construction and the per-model override through lmms_eval_specific_kwargs."""

from __future__ import annotations

import pytest
from PIL import Image

from rsmmvp_tasks.evaluation.prompts import (
    COT_POST_PROMPT,
    DIRECT_POST_PROMPT,
    doc_to_target,
    doc_to_text,
    doc_to_visual,
)

DOC = {"index": 1, "question": "Is there a dam? ", "options": ["Yes", "No"], "answer": "B",
       "image": Image.new("L", (8, 8))}


def test_default_prompt_letters_options_and_instruction() -> None:
    assert doc_to_text(DOC) == "Is there a dam?\nA. Yes\nB. No" + DIRECT_POST_PROMPT


def test_pre_and_post_prompt_override() -> None:
    text = doc_to_text(DOC, {"pre_prompt": "[sys] ", "post_prompt": COT_POST_PROMPT})
    assert text.startswith("[sys] Is there a dam?\nA. Yes\nB. No\nThink step by step")
    assert text.endswith("'Answer: X', where X is the option's letter.")


def test_three_options() -> None:
    assert "C. Maybe" in doc_to_text({**DOC, "options": ["Yes", "No", "Maybe"]})


def test_visual_is_rgb_list_and_target_letter() -> None:
    [img] = doc_to_visual(DOC)
    assert img.mode == "RGB"
    assert doc_to_target(DOC) == "B"


def test_undecoded_image_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="index=1"):
        doc_to_visual({**DOC, "image": {"bytes": b"", "path": None}})
