"""``leaderboard submit`` sends no local path: the PR's title and body and the files name the model folder (issue 18.3)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, offline_env
from lmms_runs import copy_run, make_runs
from local_hub import LocalHub, Repo

from rsmmvp_tasks.public import local_paths

TOKEN = "hf_localTestToken0123456789abcdef"
HOME = "/home/ana/models/my-vlm"


@pytest.mark.e2e
def test_nothing_submitted_holds_an_absolute_local_path(tmp_path: Path) -> None:
    runs = make_runs(tmp_path / "runs", ("a",))

    def local_model(data: dict[str, Any]) -> None:  # the run of a model loaded from a local folder
        data["config"]["model_args"] = f"pretrained={HOME},response=A"
        data["model_name_sanitized"] = HOME.replace("/", "__")

    results = copy_run(runs["a"], tmp_path / "local_model", edit=local_model)
    assert HOME in results.read_text() and len(local_paths(results.read_text())) > 1  # paths were there to leak
    env = offline_env(tmp_path / "hf_home")
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(k, None)
    with LocalHub() as hub:
        hub.repos["org/board"] = Repo()
        env.update(HF_TOKEN=TOKEN, HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_TELEMETRY="1")
        dry = subprocess.run([str(BIN / "rsmmvp"), "leaderboard", "submit", str(results.parent), "--repo", "org/board",
                              "--dry-run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert dry.returncode == 0, dry.stderr[-3000:]
        proc = subprocess.run([str(BIN / "rsmmvp"), "leaderboard", "submit", str(results.parent), "--repo", "org/board"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        repo = hub.repos["org/board"]
        commit = repo.commits[0]["header"]
        sent = [commit["summary"], commit.get("description", "")] + [b.decode() for b in repo.files.values()]
    assert sorted(repo.files) == sorted(f"my-vlm/{p.name}" for p in results.parent.iterdir())  # the model's folder name
    assert "my-vlm" in commit["summary"] and "pretrained=my-vlm" in commit["summary"]
    for text in sent:
        assert not local_paths(text) and "/home/ana" not in text and str(tmp_path) not in text, local_paths(text)
    for name, content in repo.files.items():  # still what collect reads
        if name.endswith(".json"):
            assert json.loads(content)["config"]["model_args"] == "pretrained=my-vlm,response=A"
        else:
            assert all(json.loads(line) for line in content.decode().splitlines() if line.strip())
