"""Encoders for remote-sensing tiles: CLIP, SigLIP and DINOv2 through transformers, by local folder or by hub id
(from the local Hugging Face cache, offline); a hub id not in the cache is refused, suggesting a local folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from rsfixtures import uint16_scene
from tinyencoders import build_tiny_siglip
from tinymodels import build_tiny_clip, build_tiny_dinov2

from rsmmvp_tasks import ReadSettings, read_cache
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.imagery.tile import TileSpec, tile_scenes
from rsmmvp_tasks.mining.encoders import EncoderError, load_encoder


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rs_encoders")
    scene = uint16_scene(root / "scene.tif", h=160, w=192)
    tile_scenes([scene], root / "tiles", TileSpec(size=64, read=ReadSettings.from_options("3,2,1")), progress=False)
    return root / "tiles"


def _into_hub_cache(folder: Path, repo_id: str) -> None:
    """Lay a saved model out as ``huggingface_hub`` caches a download: ``models--org--name/snapshots/<rev>/``."""
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(folder, repo / "snapshots" / revision, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)


@pytest.mark.parametrize("builder, kind", [(build_tiny_clip, "clip"), (build_tiny_siglip, "clip"),
                                          (build_tiny_dinov2, "ssl")], ids=["clip", "siglip", "dinov2"])
def test_local_folder_encoders_embed_tiles(builder, kind: str, tiles: Path, tmp_path: Path) -> None:  # noqa: ANN001
    model = builder(tmp_path / "model")
    assert main(["embed", str(tiles), "--encoder", str(model), "--out", str(tmp_path / "cache"), "--workers", "0",
                 "--no-progress"]) == 0
    cache = read_cache(tmp_path / "cache")
    assert cache.manifest["kind"] == kind and len(cache) == 6
    assert np.allclose(np.linalg.norm(cache.vectors, axis=1), 1, atol=1e-3)
    assert len({v.tobytes() for v in cache.vectors}) == 6  # different tiles, different vectors


def test_hub_ids_in_the_local_cache_load_offline(tiles: Path, tmp_path: Path) -> None:
    _into_hub_cache(build_tiny_siglip(tmp_path / "s"), "rs-test/tiny-siglip")
    _into_hub_cache(build_tiny_dinov2(tmp_path / "d"), "rs-test/tiny-dinov2")
    for repo_id, name in (("rs-test/tiny-siglip", "clip"), ("rs-test/tiny-dinov2", "ssl")):
        assert main(["embed", str(tiles), "--encoder", repo_id, "--out", str(tmp_path / name), "--workers", "0",
                     "--no-progress"]) == 0
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert manifest["encoder"] == repo_id and manifest["kind"] == name
    assert main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"), "--out", str(tmp_path / "p"),
                 "--clip-min", "-1", "--ssl-max", "1", "--dup-threshold", "1", "--no-progress"]) == 0


def test_hub_id_not_in_the_cache_suggests_a_local_folder() -> None:
    with pytest.raises(EncoderError, match=r"(?s)rs-test/not-downloaded.*local folder"):
        load_encoder("rs-test/not-downloaded", device="cpu")
