"""Publishing is safe by default: no licence assumed, a licence per image source, no local path leaves the machine,
and a rebuild never replaces a file edited by hand (issue 18.3, issue 16.B13)."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import yaml
from rawfixture import make_raw_layout

from rsmmvp_tasks.cli import main
from rsmmvp_tasks.dataset.build import (
    OutputNotEmptyError,
    ValidationFailed,
    build_dataset,
    build_from_raw,
)
from rsmmvp_tasks.dataset.card import CardInfo, SourceLicense, card_sources
from rsmmvp_tasks.dataset.raw import read_raw
from rsmmvp_tasks.public import local_paths, strip_local_paths


def _with_sources(rows: list[dict], names: list[str]) -> list[dict]:
    for k, row in enumerate(rows):
        row["source"] = f"{names[(k // 2) % len(names)]}:scene {k}"
    return rows


# ---------------------------------------------------------------- licences


def test_push_without_a_licence_is_refused_before_anything_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = make_raw_layout(tmp_path / "raw")
    assert main(["build", "--raw", str(raw), "--out", str(tmp_path / "out"), "--push", "me/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--license" in err and "--sources" in err and "Nothing built" in err
    assert not (tmp_path / "out").exists()


def test_no_licence_is_assumed_and_push_folder_refuses_such_a_card(tmp_path: Path) -> None:
    from rsmmvp_tasks.dataset.hub import push_folder
    from rsmmvp_tasks.errors import UsageError

    out = tmp_path / "out"
    build_from_raw(make_raw_layout(tmp_path / "raw"), out)
    header = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert header["license"] == "unknown"
    assert header["image_sources"] == [{"source": "*", "license": "not stated", "attribution": ""}]
    with pytest.raises(UsageError, match="states no licence"):
        push_folder(out, "me/x", token="hf_x")


def test_card_records_a_licence_per_source_and_validate_checks_it(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rows = _with_sources(read_raw(make_raw_layout(tmp_path / "raw")), ["landsat8", "planet"])
    sources = (SourceLicense("landsat8", "pddl", "USGS"), SourceLicense("planet", "other", "Planet Labs PBC, © 2024"))
    out = tmp_path / "out"
    build_dataset(rows, out, card=CardInfo(sources=sources))
    text = (out / "README.md").read_text()
    assert card_sources(text) == list(sources)
    assert "| `planet` | other | Planet Labs PBC, © 2024 |" in text
    assert yaml.safe_load(text.split("---")[1])["license"] == "other"  # two licences: no single id applies
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()

    # a source of the data the table leaves out: nothing written
    with pytest.raises(ValidationFailed, match="source_unlicensed") as err:
        build_dataset(rows, tmp_path / "out2", card=CardInfo(sources=sources[:1]))
    assert "'planet'" in str(err.value) and not (tmp_path / "out2").exists()

    # a card edited by hand to drop the table, or a line of it: validate refuses the folder
    header, body = text.split("---")[1], text.split("---", 2)[2]
    data = yaml.safe_load(header)
    data["image_sources"] = data["image_sources"][:1]
    (out / "README.md").write_text("---\n" + yaml.safe_dump(data) + "---" + body)
    assert main(["validate", str(out)]) == 1
    assert "[source_unlicensed]" in capsys.readouterr().out
    del data["image_sources"]
    (out / "README.md").write_text("---\n" + yaml.safe_dump(data) + "---" + body)
    assert main(["validate", str(out)]) == 1
    out_text = capsys.readouterr().out
    assert "[card_sources]" in out_text and "--license" in out_text


def test_sources_file_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    raw = make_raw_layout(tmp_path / "raw")
    table = raw / "Questions.csv"
    frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    frame["Source"] = ["maxar:tile %d" % k if k < 4 else "landsat8:tile %d" % k for k in range(len(frame))]
    frame.to_csv(table, index=False)
    licences = tmp_path / "sources.csv"
    licences.write_text("source,license,attribution\nlandsat8,pddl,USGS\n")
    assert main(["build", "--raw", str(raw), "--out", str(tmp_path / "o"), "--sources", str(licences)]) == 1
    err = capsys.readouterr().err
    assert "[source_unlicensed]" in err and "'maxar'" in err and not (tmp_path / "o").exists()
    licences.write_text("source,license,attribution\nlandsat8,pddl,USGS\nmaxar,other,\"Maxar, all rights reserved\"\n")
    assert main(["build", "--raw", str(raw), "--out", str(tmp_path / "o"), "--sources", str(licences)]) == 0
    assert "| `maxar` | other | Maxar, all rights reserved |" in (tmp_path / "o" / "README.md").read_text()
    assert main(["build", "--raw", str(raw), "--out", str(tmp_path / "p"), "--sources", str(tmp_path / "none.csv")]) == 2
    assert "--sources" in capsys.readouterr().err


# ---------------------------------------------------------------- no local path goes public


def test_built_dataset_and_card_hold_no_absolute_path(tmp_path: Path) -> None:
    rows = read_raw(make_raw_layout(tmp_path / "raw"))
    secret_home = str(tmp_path / "home" / "ana")
    for k, row in enumerate(rows):
        row["source"] = f"{secret_home}/scenes/scene{k}.tif"
        row["encoders"] = f"clip={secret_home}/models/clip-local;ssl=facebook/dinov2-large"
        row["imagery"] = json.dumps({"scene": f"{secret_home}/scenes/scene{k}.tif", "crs": "EPSG:32621",
                                     "bounds": [0.0, 0.0, 30.0, 30.0], "lon": -55.0, "lat": -25.0,
                                     "decoded": {"from": f"{secret_home}/x.tif"}})
    out = tmp_path / "out"
    build_dataset(rows, out, card=CardInfo(license="cc-by-4.0"))
    published = [p for p in out.rglob("*") if p.is_file() and p.name != ".rsmmvp-build.json"
                 and "lmms_eval" not in p.parts]
    for path in published:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert secret_home not in text and str(tmp_path) not in text, path
    ds = datasets.load_dataset(str(out), split="test")
    assert ds[0]["source"] == "scene0.tif" and json.loads(ds[0]["imagery"])["scene"] == "scene0.tif"
    assert ds[0]["encoders"] == "clip=clip-local;ssl=facebook/dinov2-large"
    for row in ds.remove_columns("image"):
        assert not local_paths(json.dumps(row)), row


@pytest.mark.parametrize(
    ("text", "public"),
    [
        ("pretrained=/srv/models/qwen2-vl-7b,dtype=float32", "pretrained=qwen2-vl-7b,dtype=float32"),
        ("pretrained=/srv/models/qwen2-vl-7b/", "pretrained=qwen2-vl-7b"),
        ("llava_hf (pretrained=~/models/llava) on rsmmvp_mini", "llava_hf (pretrained=llava) on rsmmvp_mini"),
        ("C:\\Users\\ana\\scene.tif", "scene.tif"),
        ("see https://huggingface.co/org/model and org/model", "see https://huggingface.co/org/model and org/model"),
        ("pretrained=llava-hf/llava-1.5-7b-hf", "pretrained=llava-hf/llava-1.5-7b-hf"),
    ],
)
def test_local_paths_become_their_last_component(text: str, public: str) -> None:
    assert strip_local_paths(text) == public
    assert not local_paths(strip_local_paths(text))


# ---------------------------------------------------------------- a rebuild never replaces an edit


def test_rebuild_refuses_a_hand_edited_card_unless_overwrite(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    raw = make_raw_layout(tmp_path / "raw")
    out = tmp_path / "out"
    assert main(["build", "--raw", str(raw), "--out", str(out), "--license", "cc-by-4.0"]) == 0
    manifest = json.loads((out / ".rsmmvp-build.json").read_text())
    assert len(manifest["files"]["README.md"]) == 64  # content hashes, not names only
    assert main(["build", "--raw", str(raw), "--out", str(out), "--license", "cc-by-4.0"]) == 0  # untouched: fine
    curated = (out / "README.md").read_text() + "\n## Curated by hand\n\nTwo days of work.\n"
    (out / "README.md").write_text(curated)
    capsys.readouterr()
    assert main(["build", "--raw", str(raw), "--out", str(out), "--license", "cc-by-4.0"]) == 2
    err = capsys.readouterr().err
    assert "README.md (changed since rsmmvp wrote it)" in err and "--overwrite" in err and err.count("\n") == 1
    assert (out / "README.md").read_text() == curated
    with pytest.raises(OutputNotEmptyError, match="changed since"):
        build_from_raw(raw, out)
    assert main(["build", "--raw", str(raw), "--out", str(out), "--license", "cc-by-4.0", "--overwrite"]) == 0
    assert "Curated by hand" not in (out / "README.md").read_text()


def test_rebuild_refuses_an_edited_data_file_and_a_names_only_manifest(tmp_path: Path) -> None:
    raw = make_raw_layout(tmp_path / "raw")
    out = tmp_path / "out"
    build_from_raw(raw, out)
    [arrow] = [p for p in (out / "disk").glob("*.arrow")]
    arrow.write_bytes(arrow.read_bytes() + b"\0")
    with pytest.raises(OutputNotEmptyError, match=arrow.name):
        build_from_raw(raw, out)
    # a manifest of names only (rsmmvp before content hashes) cannot vouch for any file
    out2 = tmp_path / "out2"
    build_from_raw(raw, out2)
    files = json.loads((out2 / ".rsmmvp-build.json").read_text())["files"]
    (out2 / ".rsmmvp-build.json").write_text(json.dumps({"files": sorted(files)}))
    with pytest.raises(OutputNotEmptyError, match="changed since"):
        build_from_raw(raw, out2)
    build_from_raw(raw, out2, overwrite=True)


@pytest.mark.e2e
def test_build_push_to_a_local_hub_sends_no_absolute_path(tmp_path: Path) -> None:
    """`rsmmvp build --push` as a user runs it (a subprocess, a real HTTP hub on 127.0.0.1): nothing sent names a
    file of this machine, and a push without a licence sends nothing at all."""
    import io
    import subprocess

    import pyarrow.parquet as pq
    from conftest import BIN, offline_env
    from local_hub import LocalHub

    rows = read_raw(make_raw_layout(tmp_path / "raw"))
    home = str(tmp_path / "home" / "ana")
    # a raw layout naming its images and sources by absolute path (the imagery/encoders columns: test above)
    table = [{"Index": r["index"], "Question": r["question"], "Options": r["options"], "Correct Answer": r["answer"],
              "Visual Pattern": r["pattern"], "Image": r["image"], "Source": f"{home}/scenes/s{k}.tif"}
             for k, r in enumerate(rows)]
    raw = tmp_path / "raw"
    layout = raw / "questions.json"
    for old in raw.glob("*.csv"):
        old.unlink()
    layout.write_text(json.dumps(table))
    env = offline_env(tmp_path / "hf_home")
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(k, None)
    with LocalHub() as hub:
        env.update(HF_TOKEN="hf_localTestToken0123456789abcdef", HF_ENDPOINT=hub.endpoint,
                   HF_HUB_DISABLE_TELEMETRY="1")

        def build(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(BIN / "rsmmvp"), "build", "--raw", str(raw), *extra], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=300)

        refused = build("--out", str(tmp_path / "o1"), "--push", "me/rs")
        assert refused.returncode == 2 and "--license" in refused.stderr and not hub.requests
        pushed = build("--out", str(tmp_path / "o2"), "--push", "me/rs", "--license", "cc-by-4.0")
        assert pushed.returncode == 0, pushed.stderr[-3000:]
        files = hub.repos["me/rs"].files
    assert "README.md" in files and any(name.endswith(".parquet") for name in files)
    assert not [name for name in files if name.startswith("lmms_eval/") or name.endswith(".rsmmvp-build.json")]
    import pyarrow as pa

    for name, content in files.items():
        if name.endswith((".parquet", ".arrow")):  # the data, as its readers see it (strings, not compressed pages)
            table = (pq.read_table(io.BytesIO(content)) if name.endswith(".parquet")
                     else pa.ipc.open_stream(content).read_all())
            rows_sent = table.drop(["image"]).to_pylist()
            assert rows_sent[0]["source"] == "s0.tif"
            text = json.dumps(rows_sent) + json.dumps([r["image"]["path"] for r in table.to_pylist()])
        else:
            text = content.decode("utf-8")
        assert home not in text and str(tmp_path) not in text and not local_paths(text), (name, local_paths(text))
