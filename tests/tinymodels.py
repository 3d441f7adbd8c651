"""Tiny, randomly initialised image encoders saved to a folder, for offline tests and benchmarks.

:func:`build_tiny_clip` writes a ``CLIPModel`` + ``CLIPImageProcessor`` and :func:`build_tiny_dinov2`
a ``Dinov2Model`` + ``BitImageProcessor`` (the processor DINOv2 checkpoints ship), so callers load
them through the real ``AutoModel`` / ``AutoImageProcessor.from_pretrained(dir)`` path.
Nothing is downloaded. Sizes are keyword arguments (defaults: a few thousand parameters, 32 px input).
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_clip(out_dir: Path, *, image_size: int = 32, patch: int = 8, hidden: int = 32, layers: int = 2,
                    heads: int = 2, projection_dim: int = 16, seed: int = 0) -> Path:
    """Write a random CLIP (vision + text towers) and its image processor to ``out_dir``; return it."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = CLIPConfig(
        vision_config={"image_size": image_size, "patch_size": patch, "hidden_size": hidden, "intermediate_size": 2 * hidden,
                           "num_hidden_layers": layers, "num_attention_heads": heads},
        text_config={"vocab_size": 64, "hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": 1,
                         "num_attention_heads": heads, "max_position_embeddings": 16},
        projection_dim=projection_dim,
    )
    CLIPModel(config).eval().save_pretrained(out_dir)
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(out_dir)
    return out_dir


def build_tiny_dinov2(out_dir: Path, *, image_size: int = 32, patch: int = 8, hidden: int = 24, layers: int = 2,
                      heads: int = 2, seed: int = 0) -> Path:
    """Write a random DINOv2 and its ``BitImageProcessor`` to ``out_dir``; return it."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = Dinov2Config(image_size=image_size, patch_size=patch, hidden_size=hidden, num_hidden_layers=layers,
                          num_attention_heads=heads, mlp_ratio=2)
    Dinov2Model(config).eval().save_pretrained(out_dir)
    BitImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
                      do_center_crop=True, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(out_dir)
    return out_dir
