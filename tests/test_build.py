"""Building: raw -> validated folder with embedded image bytes, card, loaders, hub push and hub conversion."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import datasets
import pytest
import yaml
from PIL import Image
from rawfixture import make_raw_layout

from rsmmvp_tasks.cli import main
from rsmmvp_tasks.dataset.build import ValidationFailed, build_from_raw
from rsmmvp_tasks.dataset.card import CardInfo
from rsmmvp_tasks.dataset.hub import HubSourceError, push_folder, resolve_source
from rsmmvp_tasks.dataset.loading import load_rsmmvp, process_hub_docs


def _plain(ds: datasets.Dataset) -> list[tuple]:
    return [
        (r["index"], r["pair_id"], r["question"], tuple(r["options"]), r["answer"], r["pattern"])
        for r in ds.remove_columns("image")
    ]


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Path, datasets.Dataset]:
    raw = make_raw_layout(tmp_path / "raw")
    out = tmp_path / "out"
    ds = build_from_raw(raw, out, card=CardInfo(pretty_name="Test set", license="cc-by-4.0",
                                                attribution="Drawn by the tests."))
    shutil.rmtree(raw)  # nothing may point back at the source images
    return out, ds


def test_round_trip_embeds_image_bytes(built: tuple[Path, datasets.Dataset]) -> None:
    out, ds = built
    via_card = datasets.load_dataset(str(out), split="test")
    via_parquet = datasets.load_dataset(
        "parquet", data_files=str(out / "data" / "test-00000-of-00001.parquet"), split="train"
    )
    via_disk = datasets.load_from_disk(str(out / "disk"))
    via_loader = load_rsmmvp(out)
    reference = _plain(ds)
    assert len(reference) == 10
    for loaded in (via_card, via_parquet, via_disk, via_loader):
        assert _plain(loaded) == reference
        assert isinstance(loaded.features["image"], datasets.Image)
        image = loaded[3]["image"]
        assert image.size == (48, 48)
    raw_image = via_parquet.cast_column("image", datasets.Image(decode=False))[0]["image"]
    assert raw_image["bytes"] and Image.open(io.BytesIO(raw_image["bytes"])).size == (48, 48)


def test_card_header_counts_and_citations(built: tuple[Path, datasets.Dataset]) -> None:
    out, _ = built
    text = (out / "README.md").read_text()
    header = yaml.safe_load(text.split("---")[1])
    assert header["task_categories"] == ["visual-question-answering"]
    assert header["configs"][0]["data_files"][0]["path"] == "data/test-*.parquet"
    assert header["dataset_info"]["splits"][0]["num_examples"] == 10
    assert header["dataset_info"]["splits"][0]["num_bytes"] > 0
    assert "| Quantity and Count (`count`) | 1 | 2 |" in text
    assert "arXiv:2503.15816" in text and "arXiv:2401.06209" in text and "Drawn by the tests." in text
    from rsmmvp_tasks.schema import features

    assert all(f"| `{column}` |" in text for column in features())
    assert "| `options` | list of string |" in text


def test_invalid_rows_write_nothing(tmp_path: Path) -> None:
    raw = make_raw_layout(tmp_path / "raw", defects={"same_answer", "answer_range"})
    with pytest.raises(ValidationFailed) as err:
        build_from_raw(raw, tmp_path / "out")
    assert {"same_answer", "answer_range"} <= err.value.report.codes()
    assert not (tmp_path / "out").exists()


def test_cli_build_and_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_raw_layout(tmp_path / "good")
    assert main(["build", "--raw", str(good), "--out", str(tmp_path / "out"), "--name", "CLI set"]) == 0
    assert "CLI set" in (tmp_path / "out" / "README.md").read_text()
    bad = make_raw_layout(tmp_path / "bad", defects={"question_mismatch"})
    capsys.readouterr()
    assert main(["build", "--raw", str(bad), "--out", str(tmp_path / "out2")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rsmmvp build: error: nothing written: the data breaks the RSMMVP contract")
    assert "[question_mismatch]" in err
    assert not (tmp_path / "out2").exists()


def test_push_uses_the_token_and_never_shows_it(
    built: tuple[Path, datasets.Dataset],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, _ = built
    secret = "hf_SECRETtoken1234567890"
    calls: list[tuple[str, dict]] = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            calls.append(("init", {"token": token}))

        def create_repo(self, repo_id: str, **kw: object) -> str:
            calls.append(("create_repo", {"repo_id": repo_id, **kw}))
            return f"https://hub.example/datasets/{repo_id}"

        def upload_folder(self, **kw: object) -> None:
            calls.append(("upload_folder", kw))

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", secret)
    with caplog.at_level(logging.DEBUG):
        assert (
            main(
                [
                    "build",
                    "--raw",
                    str(make_raw_layout(out.parent / "raw2")),
                    "--out",
                    str(out.parent / "o2"),
                    "--push",
                    "me/rs-test",
                    "--license",
                    "cc-by-4.0",
                    "--private",
                ]
            )
            == 0
        )
    assert calls[0] == ("init", {"token": secret})
    assert (
        calls[1][1]["repo_id"] == "me/rs-test"
        and calls[1][1]["private"] is True
        and calls[1][1]["repo_type"] == "dataset"
    )
    assert calls[2][1]["folder_path"] == str(out.parent / "o2") and calls[2][1]["repo_type"] == "dataset"
    captured = capsys.readouterr()
    assert secret not in caplog.text and secret not in captured.out and secret not in captured.err


def test_push_without_token_is_a_clear_error(
    built: tuple[Path, datasets.Dataset], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(HubSourceError, match="HF_TOKEN"):
        push_folder(built[0], "me/x")


def test_hub_id_offline_names_the_repo_and_the_fix() -> None:
    with pytest.raises(HubSourceError) as err:
        resolve_source("nobody-here/not-cached-rsmmvp")
    assert "nobody-here/not-cached-rsmmvp" in str(err.value) and "download a copy" in str(err.value)


def test_process_hub_docs_converts_once_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rsmmvp_tasks.dataset import hub, raw

    layout = make_raw_layout(tmp_path / "snapshot")
    monkeypatch.setattr(hub, "resolve_source", lambda repo_id: layout)
    monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "cache"))
    image_only = datasets.Dataset.from_dict({"image": [str(p) for p in sorted((layout / "MMVP Images").glob("*.jpg"))]})
    first = process_hub_docs(image_only, "org/rsmmvp")
    assert len(list((tmp_path / "cache" / "org__rsmmvp").glob("*/state.json"))) == 1
    assert _plain(first)[0] == (1, "0", "How many tanks are there?", ("Yes", "No"), "A", "count")
    calls = []
    real = raw.read_raw
    monkeypatch.setattr(raw, "read_raw", lambda *a, **k: calls.append(a) or real(*a, **k))
    second = process_hub_docs(image_only, "org/rsmmvp")
    assert calls == [] and _plain(second) == _plain(first)
    # positive control: the same spy, through the same call, fires when a conversion does happen
    monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "fresh_cache"))
    third = process_hub_docs(image_only, "org/rsmmvp")
    assert calls == [(layout,)] and _plain(third) == _plain(first)
    contract = process_hub_docs(first, "org/rsmmvp")  # already in the contract: used as is
    assert _plain(contract) == _plain(first)


def test_cli_build_from_mined_pairs_and_annotations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mined_pairs import CLIP_ID, annotation, make_pairs

    from rsmmvp_tasks.mining.annotations import file_sha256

    pairs = make_pairs(tmp_path / "mined", n=2, fmt="csv")
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"pairs_sha256": file_sha256(pairs), "annotations": [annotation(1), annotation(2)]}))
    out = tmp_path / "out"
    assert main(["build", "--pairs", str(pairs), "--annotations", str(ann), "--out", str(out)]) == 0
    assert "4 questions written" in capsys.readouterr().out
    ds = datasets.load_dataset(str(out), split="test")
    assert [(r["pair_id"], r["answer"]) for r in ds.remove_columns("image")] == [
        ("pair-0001", "B"),
        ("pair-0001", "A"),
        ("pair-0002", "B"),
        ("pair-0002", "A"),
    ]
    assert ds[0]["encoders"].startswith(f"clip={CLIP_ID}") and ds[1]["image"].size == (320, 240)
    assert main(["build", "--pairs", str(pairs), "--out", str(tmp_path / "o2")]) == 2
    assert "rsmmvp build: error: --pairs needs --annotations" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


def test_validate_cli_on_the_built_folder(
    built: tuple[Path, datasets.Dataset], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = built
    for target in (out, out / "disk", out / "data" / "test-00000-of-00001.parquet"):
        assert main(["validate", str(target)]) == 0
        assert "10 rows, 5 pairs: no violation" in capsys.readouterr().out


def test_load_raw_layout_and_its_fatal_violations(tmp_path: Path) -> None:
    ds = load_rsmmvp(make_raw_layout(tmp_path / "ok"))
    assert len(ds) == 10 and ds[0]["image"].size == (48, 48) and ds[0]["answer"] == "A"
    tolerated = load_rsmmvp(make_raw_layout(tmp_path / "pattern", defects={"unknown_pattern"}))
    assert tolerated[3]["pattern"] == "weather"  # logged, not fatal: MMVP's own table has no pattern column
    with pytest.raises(ValidationFailed) as err:
        load_rsmmvp(make_raw_layout(tmp_path / "bad", defects={"image_missing", "unknown_pattern"}))
    assert err.value.report.codes() == {"image_missing"}


def test_card_from_a_dataset_with_extra_citation(built: tuple[Path, datasets.Dataset]) -> None:
    from rsmmvp_tasks.dataset.card import render_card

    _, ds = built
    text = render_card(ds, CardInfo(pretty_name="X", citations="@misc{extra2026, title={Extra}}"))
    assert "size_categories:\n- n<1K" in text and "@misc{extra2026" in text
    assert "| Presence of Specific Features (`presence`) | 1 | 2 |" in text


def test_process_hub_docs_refuses_unusable_hub_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rsmmvp_tasks.dataset import hub

    layout = make_raw_layout(tmp_path / "snapshot", defects={"image_unreadable"})
    monkeypatch.setattr(hub, "resolve_source", lambda repo_id: layout)
    monkeypatch.setenv("RSMMVP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValidationFailed, match="image_unreadable"):
        process_hub_docs(datasets.Dataset.from_dict({"image": ["x"]}), "org/rsmmvp")
    assert not any((tmp_path / "cache").rglob("state.json"))  # nothing half-converted is cached


def test_rebuild_replaces_its_own_output(built: tuple[Path, datasets.Dataset], tmp_path: Path) -> None:
    out, _ = built
    build_from_raw(make_raw_layout(tmp_path / "raw_again", n_pairs=3), out)
    assert len(datasets.load_dataset(str(out), split="test")) == 6
    assert not [p for p in tmp_path.iterdir() if ".rsmmvp-" in p.name]  # no staging or retired folder left


# --- issue 9.5: --table on the command line (validate and build) ---


def test_cli_table_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = make_raw_layout(tmp_path / "raw")
    shutil.copy(layout / "Questions.csv", layout / "old_questions_backup.csv")
    assert main(["validate", str(layout)]) == 2
    assert "2 files could be the question table" in capsys.readouterr().err
    assert main(["validate", str(layout), "--table", "Questions.csv"]) == 0
    assert main(["build", "--raw", str(layout), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
    assert main(["build", "--raw", str(layout), "--table", "Questions.csv", "--out", str(tmp_path / "out")]) == 0
    assert len(datasets.load_dataset(str(tmp_path / "out"), split="test")) == 10


# --- issue 9.11: build never deletes or overwrites files it did not write ---


@pytest.mark.parametrize("foreign", ["thesis.tex", "disk/thesis.tex", "data/test-important.parquet", "README.md"])
def test_build_refuses_a_folder_with_files_it_did_not_write(
    built: tuple[Path, datasets.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str], foreign: str
) -> None:
    from rsmmvp_tasks.dataset.build import OutputNotEmptyError

    raw = make_raw_layout(tmp_path / "raw2", n_pairs=3)
    mine = tmp_path / "mine"  # a folder no build wrote
    (mine / foreign).parent.mkdir(parents=True, exist_ok=True)
    (mine / foreign).write_bytes(b"precious")
    with pytest.raises(OutputNotEmptyError, match=foreign.split("/")[-1]):
        build_from_raw(raw, mine)
    assert (mine / foreign).read_bytes() == b"precious"
    out, _ = built  # an earlier build's output with one file added by hand
    (out / foreign).parent.mkdir(parents=True, exist_ok=True)
    if not (out / foreign).exists():
        (out / foreign).write_bytes(b"precious")
        earlier = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert main(["build", "--raw", str(raw), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"holds files an earlier build did not write: {foreign}" in err and "--overwrite" in err
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == earlier
    assert main(["build", "--raw", str(raw), "--out", str(mine), "--overwrite"]) == 0
    assert not (mine / foreign).exists() or foreign == "README.md"
    assert len(datasets.load_dataset(str(mine), split="test")) == 6


# --- issue 9.12: a build killed mid-way leaves the earlier output; validate checks what users load ---


_KILLED_BUILD = """
import sys, time
import datasets
from rsmmvp_tasks import build_from_raw

real = datasets.Dataset.save_to_disk
def stall(self, path, **kw):  # the parquet is written; stop here until killed
    real(self, path, **kw)
    open(sys.argv[3], "w").close()
    time.sleep(600)
datasets.Dataset.save_to_disk = stall
build_from_raw(sys.argv[1], sys.argv[2])
"""


def test_build_killed_mid_way_leaves_the_earlier_output(built: tuple[Path, datasets.Dataset], tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out, ds = built
    before = _plain(ds)
    raw = make_raw_layout(tmp_path / "raw3", n_pairs=3)
    flag = tmp_path / "stalled"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(raw), str(out), str(flag)])
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the build did not reach the stall"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert _plain(datasets.load_dataset(str(out), split="test")) == before  # untouched
    assert main(["validate", str(out)]) == 0
    assert [p.name for p in out.parent.iterdir() if ".rsmmvp-tmp-" in p.name]  # the killed build's leftovers
    build_from_raw(raw, out)  # the next build cleans them up
    assert len(datasets.load_dataset(str(out), split="test")) == 6
    assert not [p.name for p in out.parent.iterdir() if ".rsmmvp-" in p.name]


def test_validate_reads_the_parquet_users_load_not_the_disk_copy(
    built: tuple[Path, datasets.Dataset], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = built
    parquet = out / "data" / "test-00000-of-00001.parquet"
    parquet.write_bytes(parquet.read_bytes()[:200])  # truncated; disk/ is intact
    assert main(["validate", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rsmmvp validate: error:") and "test-00000-of-00001.parquet" in err
    assert "cannot be read as parquet" in err


# --- issue 9.14: several processes converting the hub snapshot at once ---


_CONVERT = """
import logging, sys, time
from pathlib import Path
import datasets
from rsmmvp_tasks.dataset import hub, loading

logging.basicConfig(level=logging.INFO)

layout = Path(sys.argv[1])
hub.resolve_source = lambda repo_id: layout
real = loading.raw_to_dataset
def slow(*a, **k):  # widen the window in which both processes convert
    time.sleep(1.0)
    return real(*a, **k)
loading.raw_to_dataset = slow
Path(sys.argv[2]).touch()
while not Path(sys.argv[3]).exists():
    time.sleep(0.01)
docs = datasets.Dataset.from_dict({"image": ["x"]})
print("rows", len(loading.process_hub_docs(docs, "org/rsmmvp")))
"""


@pytest.mark.e2e
def test_two_processes_convert_the_hub_snapshot_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    layout = make_raw_layout(tmp_path / "snapshot")
    env = {**os.environ, "RSMMVP_CACHE": str(tmp_path / "cache")}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONVERT, str(layout), str(tmp_path / f"ready{i}"), str(go)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    go.touch()  # both start converting now
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=False):
        assert proc.returncode == 0, err
        assert "rows 10" in out and "Traceback" not in err
    logs = "".join(err for _, err in results)
    assert logs.count("converting its question table") == 1, logs
    assert logs.count("converted by another process") == 1, logs
    assert len(list((tmp_path / "cache" / "org__rsmmvp").glob("*/state.json"))) == 1


# --- issue 9.16: a push that cannot reach the hub is a message, not a traceback ---


def test_push_with_no_hub_is_not_pushed_exit_3(
    built: tuple[Path, datasets.Dataset], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import huggingface_hub

    out, _ = built
    secret = "hf_SECRETtoken1234567890"

    class Unreachable:
        def __init__(self, token: str | None = None) -> None:
            pass

        def create_repo(self, repo_id: str, **kw: object) -> str:
            raise ConnectionError(f"[Errno 111] Connection refused (token {secret})")

    monkeypatch.setattr(huggingface_hub, "HfApi", Unreachable)
    monkeypatch.setenv("HF_TOKEN", secret)
    raw = make_raw_layout(out.parent / "raw4")
    assert main(["build", "--raw", str(raw), "--out", str(out.parent / "o4"), "--push", "me/x", "--license", "pddl"]) == 3
    err = capsys.readouterr().err
    assert "rsmmvp build: error: not pushed to me/x: ConnectionError" in err
    assert "hf upload me/x" in err and secret not in err and "Traceback" not in err
    assert len(datasets.load_dataset(str(out.parent / "o4"), split="test")) == 10  # built, only not pushed


# --- issue 9.20: the card's metadata is what datasets expects ---


def test_load_dataset_of_a_built_folder_does_not_warn(built: tuple[Path, datasets.Dataset]) -> None:
    out, _ = built
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logger = logging.getLogger("datasets")
    logger.addHandler(handler)
    try:
        assert len(datasets.load_dataset(str(out), split="test")) == 10
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert not [m for m in messages if "malformed" in m or "dataset card" in m], messages
