"""Small JPEG thumbnails as ``data:`` URIs: the one place pages and reports make them.

- :func:`jpeg_bytes` / :func:`jpeg_data_uri`: a decoded PIL image, downscaled to fit ``max_side``
  pixels (aspect kept, never upscaled), as RGB JPEG bytes / a ``data:image/jpeg;base64,...`` URI;
- :func:`thumbnail_data_uri`: the same for an image file or encoded bytes, decoded by
  :func:`rsmmvp_tasks.imagery.read.read_image` (GeoTIFFs, 16-bit and float data stretched).

Used by the review page (:mod:`rsmmvp_tasks.mining.review`), the human page and ``rsmmvp report``.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from rsmmvp_tasks.imagery.read import read_image

__all__ = ["jpeg_bytes", "jpeg_data_uri", "thumbnail_data_uri"]


def jpeg_bytes(image: Any, max_side: int = 384, quality: int = 85) -> bytes:
    """``image`` (a PIL image, any mode) as RGB JPEG bytes, downscaled to fit ``max_side`` x ``max_side``."""
    from PIL import Image

    im = image.convert("RGB")  # a copy: the caller's image is never resized in place
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def jpeg_data_uri(image: Any, max_side: int = 384, quality: int = 85) -> str:
    """:func:`jpeg_bytes` as a ``data:image/jpeg;base64,...`` URI (for a self-contained page)."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes(image, max_side, quality)).decode("ascii")


def thumbnail_data_uri(path: str | Path | bytes, max_side: int = 384, quality: int = 85, settings: Any = None) -> str:
    """A JPEG ``data:`` URI of the image at ``path`` (or of encoded bytes), downscaled to fit ``max_side`` pixels.

    Decoded by :func:`rsmmvp_tasks.imagery.read.read_image` (GeoTIFF, 16-bit and float data stretched;
    ``settings``, a :class:`~rsmmvp_tasks.imagery.read.ReadSettings`, as the images were embedded).
    Raises ``ValueError`` (:class:`~rsmmvp_tasks.imagery.read.ImageryError`) when the file cannot be read
    and PIL's ``DecompressionBombError`` when it has more pixels than PIL allows.
    """
    return jpeg_data_uri(read_image(path, settings, max_side=2 * max_side).image, max_side, quality)
