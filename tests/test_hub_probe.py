"""The hub is probed once by the commands that may need it: an unreachable hub costs one short probe, not a
minute of retries (``rsmmvp embed``, ``rsmmvp leaderboard submit``; ``rsmmvp eval`` in test_eval_command.py)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, offline_env
from lmms_runs import make_runs

from rsmmvp_tasks.hubaccess import OFFLINE_VARIABLES

TOKEN = "hf_" + "HubProbeTestToken0123456789abcd"


def _closed_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _online_env(home: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """Not in offline mode; the hub is ``endpoint``, where nothing listens (so nothing can be downloaded)."""
    env = offline_env(home)
    for name in OFFLINE_VARIABLES:
        env.pop(name)
    env.update(HF_ENDPOINT=endpoint, HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return env


@pytest.mark.e2e
def test_embed_with_an_unreachable_hub_goes_offline_at_once(tmp_path: Path) -> None:
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.new("RGB", (16, 16), (40 * i, 80, 120)).save(images / f"{i}.png")
    endpoint = _closed_endpoint()
    proc = subprocess.run([str(BIN / "rsmmvp"), "embed", str(images), "--encoder", "org/no-such-encoder",
                           "--out", str(tmp_path / "cache"), "--device", "cpu"], cwd=tmp_path,
                          env=_online_env(tmp_path / "hf_home", endpoint), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    notices = [line for line in proc.stderr.splitlines() if "cannot be reached" in line]
    assert len(notices) == 1 and endpoint in notices[0] and "HF_HUB_OFFLINE=1" in notices[0]
    assert "Retrying in" not in proc.stderr + proc.stdout
    assert "org/no-such-encoder" in proc.stderr.strip().splitlines()[-1] and "hf download" in proc.stderr


@pytest.mark.e2e
def test_submit_to_an_unreachable_hub_fails_fast_with_exit_3(tmp_path: Path) -> None:
    runs = make_runs(tmp_path / "runs", ("a",))
    endpoint = _closed_endpoint()
    proc = subprocess.run([str(BIN / "rsmmvp"), "leaderboard", "submit", str(runs["a"]), "--repo", "org/board"],
                          cwd=tmp_path, env=_online_env(tmp_path / "hf_home", endpoint, HF_TOKEN=TOKEN),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert f"the Hugging Face hub at {endpoint} cannot be reached" in last and "Traceback" not in proc.stderr
    assert "Retrying in" not in proc.stderr + proc.stdout and TOKEN not in proc.stderr + proc.stdout
