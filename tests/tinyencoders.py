"""Tiny, randomly initialised image-text encoders (CLIP and SigLIP) with tokenizers, saved to a folder.

:func:`build_tiny_clip_text` writes a ``CLIPModel`` and :func:`build_tiny_siglip` a ``SiglipModel``,
each with a word-level tokenizer trained in-process on the words of the rsmmvp_mini questions and a
32 px image processor, so ``AutoModel`` / ``AutoTokenizer`` / ``AutoImageProcessor.from_pretrained(dir)``
load them as they load published checkpoints. Nothing is downloaded. (``tinymodels.build_tiny_clip``
is image-only: its text tower's special-token ids do not match any tokenizer.)
"""

from __future__ import annotations

from pathlib import Path

_CORPUS = [
    "a satellite image. Is there any open water (a lake or reservoir) visible in the image? Yes. No.",
    "Is there a bridge crossing the river? Does the river run mainly from left to right or from the top of "
    "the image to the bottom? In which direction does the wide, bright riverbed run? From the top-left toward "
    "the bottom-right. From the top-right toward the bottom-left. Is the open water in the upper half or in the "
    "lower half of the image? Upper half. Lower half. Is there a dam (a long, straight man-made wall) across the "
    "water? What is the dominant colour of the fields? Mostly green. Mostly pink (bare soil). Is the area covered "
    "mainly by agricultural fields or by dense built-up city blocks? Agricultural fields. City blocks. Does open "
    "water cover more than half of the image? Left to right. Top to bottom.",
]
_SPECIALS = ["<unk>", "<pad>", "<s>", "</s>"]


def _tokenizer(max_length: int, *, with_bos: bool) -> object:
    """A word-level fast tokenizer over the corpus words, appending ``</s>`` (and prepending ``<s>``)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(_CORPUS, trainers.WordLevelTrainer(special_tokens=_SPECIALS, show_progress=False))
    ids = {t: raw.token_to_id(t) for t in _SPECIALS}
    single = "<s> $A </s>" if with_bos else "$A </s>"
    raw.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[(t, ids[t]) for t in ("<s>", "</s>")]
    )
    return PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", model_max_length=max_length)


def build_tiny_clip_text(out_dir: Path, *, image_size: int = 32, patch: int = 8, hidden: int = 32,
                         max_length: int = 40, seed: int = 0) -> Path:
    """Write a random ``CLIPModel`` + tokenizer + ``CLIPImageProcessor`` to ``out_dir``; return it."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(max_length, with_bos=True)
    torch.manual_seed(seed)
    config = CLIPConfig(
        vision_config={"image_size": image_size, "patch_size": patch, "hidden_size": hidden,
                       "intermediate_size": 2 * hidden, "num_hidden_layers": 2, "num_attention_heads": 2},
        text_config={"vocab_size": len(tok), "hidden_size": hidden, "intermediate_size": 2 * hidden,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": max_length,
                     "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
                     "pad_token_id": tok.pad_token_id},
        projection_dim=16,
    )
    CLIPModel(config).eval().save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(out_dir)
    return out_dir


def build_tiny_siglip(out_dir: Path, *, image_size: int = 32, patch: int = 8, hidden: int = 32,
                      max_length: int = 40, seed: int = 0) -> Path:
    """Write a random ``SiglipModel`` + tokenizer + ``SiglipImageProcessor`` to ``out_dir``; return it."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(max_length, with_bos=False)
    torch.manual_seed(seed)
    config = SiglipConfig(
        vision_config={"image_size": image_size, "patch_size": patch, "hidden_size": hidden,
                       "intermediate_size": 2 * hidden, "num_hidden_layers": 2, "num_attention_heads": 2},
        text_config={"vocab_size": len(tok), "hidden_size": hidden, "intermediate_size": 2 * hidden,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": max_length,
                     "pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id},
    )
    SiglipModel(config).eval().save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    SiglipImageProcessor(size={"height": image_size, "width": image_size}).save_pretrained(out_dir)
    return out_dir
