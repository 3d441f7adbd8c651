"""``rsmmvp_clip``: the encoder's own zero-shot answers, in process and through the real lmms-eval CLI.

In process, a constructed encoder that cannot tell the two images of a pair apart (a "CLIP-blind"
one) must answer both questions of every pair alike and score 0 pair accuracy, while one that sees
the right statement for each image scores 1 -- through the same request handling lmms-eval uses.
End to end, tiny random CLIP and SigLIP models saved to folders run through ``lmms-eval --model
rsmmvp_clip`` from a plain (non-editable) install of this checkout, and the replies in the logged
samples must be the ones the model gives in process.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence

import datasets
import pytest
import torch
from conftest import offline_env, run_lmms_eval
from installs import install_checkout

from rsmmvp_tasks import InputError, UsageError, mini_dataset_dir, score
from rsmmvp_tasks.evaluation import task as task_fns
from rsmmvp_tasks.evaluation.prompts import doc_to_visual
from rsmmvp_tasks.models.clip import RsmmvpClip, choose, load_scorer, resolve_template, statement

TASK, SPLIT = "rsmmvp_mini", "test"


@pytest.fixture(scope="module")
def docs() -> datasets.Dataset:
    """The rsmmvp_mini split as lmms-eval hands it to a model (after the task's process_docs)."""
    raw = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    return task_fns.process_docs(raw)


def _answer(model: RsmmvpClip, docs: datasets.Dataset) -> list[str]:
    """Ask ``model`` every question the way lmms-eval 0.7.3 does (req.args of a simple model)."""
    model.task_dict = {TASK: {SPLIT: docs}}
    requests = [SimpleNamespace(args=("<prompt>", {}, doc_to_visual, i, TASK, SPLIT)) for i in range(len(docs))]
    return model.generate_until(requests)


def _scores(docs: datasets.Dataset, replies: Sequence[str]) -> Any:
    records = [task_fns.process_results(docs[i], [r])["question_accuracy"] for i, r in enumerate(replies)]
    return score(records)


def _image_key(image: Any) -> str:
    return hashlib.sha1(image.convert("RGB").tobytes()).hexdigest()


class BlindScorer:
    """Sees no difference between images; likes each statement by a fixed hash of its text."""

    def image_embeddings(self, images: Sequence[Any]) -> torch.Tensor:
        return torch.tensor([[1.0, 0.0]] * len(images))

    def text_embeddings(self, texts: Sequence[str]) -> tuple[torch.Tensor, int]:
        angles = [(zlib.crc32(t.encode()) % 1000) / 1000 * math.pi / 2 for t in texts]
        return torch.tensor([[math.cos(a), math.sin(a)] for a in angles]), 0


class SeeingScorer:
    """Embeds each image next to the statement of its correct option (one axis per statement)."""

    def __init__(self, docs: datasets.Dataset, template: str) -> None:
        self.axes: dict[str, int] = {}
        self.truth: dict[str, str] = {}
        for doc in docs:
            for option in doc["options"]:
                self.axes.setdefault(statement(doc["question"], option, template), len(self.axes))
            right = doc["options"][ord(doc["answer"]) - ord("A")]
            self.truth[_image_key(doc["image"])] = statement(doc["question"], right, template)

    def image_embeddings(self, images: Sequence[Any]) -> torch.Tensor:
        out = torch.zeros(len(images), len(self.axes))
        for i, image in enumerate(images):
            out[i, self.axes[self.truth[_image_key(image)]]] = 1.0
        return out

    def text_embeddings(self, texts: Sequence[str]) -> tuple[torch.Tensor, int]:
        out = torch.zeros(len(texts), len(self.axes))
        for i, text in enumerate(texts):
            out[i, self.axes[text]] = 1.0
        return out, 0


def test_templates_and_statements() -> None:
    sat = resolve_template("satellite")
    assert statement("Is there a bridge crossing the river?", "Yes", sat) == \
        "a satellite image. Is there a bridge crossing the river? Yes."
    assert statement("Which way?", "Top to bottom.", sat) == "a satellite image. Which way? Top to bottom."
    assert resolve_template("plain") == "{question} {option}"
    assert resolve_template("'a satellite image, {option}'") == "a satellite image, {option}"  # quoted for commas
    for bad in ("{question}", "a photo of {thing} {option}", "{option"):
        with pytest.raises(UsageError, match="template"):
            resolve_template(bad)


def test_choose_takes_the_best_and_refuses_ties() -> None:
    assert choose([0.1, 0.3]) == "B"
    assert choose([0.9, 0.3, 0.5]) == "A"
    assert choose([0.2, 0.2]) == ""  # identical statements or scores: no choice, counted as wrong
    assert choose([0.5, 0.2, 0.5]) == ""


@pytest.mark.parametrize("scores", [[math.nan, 0.3], [0.3, math.nan], [math.nan, math.nan], [math.inf, 0.2],
                                    [0.1, 0.5, -math.inf]])
def test_choose_gives_no_choice_on_non_finite_scores(scores: list[float]) -> None:
    assert choose(scores) == ""


class _LogCapture:
    """loguru warnings emitted while the context is open (lmms-eval and this package log through loguru)."""

    def __enter__(self) -> list[str]:
        from loguru import logger

        self.messages: list[str] = []
        self._id = logger.add(lambda m: self.messages.append(str(m)), level="WARNING", format="{message}")
        return self.messages

    def __exit__(self, *exc: object) -> None:
        from loguru import logger

        logger.remove(self._id)


def test_an_encoder_yielding_nan_answers_no_choice_and_warns_with_the_count(tmp_path: Path,
                                                                          docs: datasets.Dataset) -> None:
    """A float16 overflow gives NaN embeddings: every such question is unreadable, never "A"."""
    from tinyencoders import build_tiny_clip_text

    scorer = load_scorer(str(build_tiny_clip_text(tmp_path / "clip")), device="cpu")
    with torch.no_grad():
        scorer.model.visual_projection.weight.fill_(math.nan)  # what an overflowed image tower hands on
    with _LogCapture() as warnings:
        replies = _answer(RsmmvpClip.from_scorer(scorer, batch_size=4), docs)
    assert replies == [""] * len(docs)
    assert _scores(docs, replies).question_accuracy == 0.0
    assert any(f"{len(docs)} question(s) had NaN or infinite scores" in w for w in warnings), warnings


def test_blind_encoder_answers_both_images_alike_and_scores_zero_pairs(docs: datasets.Dataset) -> None:
    replies = _answer(RsmmvpClip.from_scorer(BlindScorer(), batch_size=4), docs)
    assert len(replies) == len(docs) and all(r in ("A", "B") for r in replies)
    by_pair: dict[str, set[str]] = {}
    for doc, reply in zip(docs, replies, strict=False):
        by_pair.setdefault(doc["pair_id"], set()).add(reply)
    assert all(len(letters) == 1 for letters in by_pair.values())  # the same statement wins for both images
    s = _scores(docs, replies)
    assert s.pair_accuracy == 0.0
    assert s.question_accuracy == pytest.approx(0.5)  # one of the two opposite answers is always right


def test_seeing_encoder_scores_every_pair_and_batching_changes_nothing(docs: datasets.Dataset) -> None:
    template = resolve_template("satellite")
    one = _answer(RsmmvpClip.from_scorer(SeeingScorer(docs, template), batch_size=1), docs)
    five = _answer(RsmmvpClip.from_scorer(SeeingScorer(docs, template), batch_size=5), docs)
    assert one == five == list(docs["answer"])
    assert _scores(docs, one).pair_accuracy == 1.0


def test_hub_id_missing_offline_names_the_local_folder_way(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    # HF_HUB_OFFLINE is read when huggingface_hub is imported (at collection, before conftest's env fixture)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(InputError) as err:
        load_scorer("no-such-org/no-such-clip", device="cpu")
    message = str(err.value)
    assert "no-such-org/no-such-clip" in message and "pretrained=DIR" in message and "local folder" in message


def test_a_model_without_a_text_tower_is_refused(tmp_path: Path) -> None:
    from tinymodels import build_tiny_dinov2

    with pytest.raises(UsageError, match="get_text_features"):
        load_scorer(str(build_tiny_dinov2(tmp_path / "dino")), device="cpu")


def test_half_precision_on_cpu_and_unknown_args_are_refused(tmp_path: Path) -> None:
    from tinyencoders import build_tiny_clip_text

    folder = build_tiny_clip_text(tmp_path / "clip")
    with pytest.raises(UsageError, match="float16"):
        load_scorer(str(folder), device="cpu", dtype="float16")
    with pytest.raises(UsageError, match="unknown model_args"):
        RsmmvpClip(pretrained=str(folder), device="cpu", temperature=0)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout installed non-editably (a wheel build) into a folder put first on PYTHONPATH."""
    site = install_checkout(tmp_path_factory.mktemp("site"))
    found = subprocess.run(
        [sys.executable, "-c", "import rsmmvp_tasks.models.clip as m; from importlib.metadata import distribution as d; "
         "print(m.__file__); print(d('rsmmvp-tasks').read_text('entry_points.txt'))"],
        env=offline_env(site / "hf", PYTHONPATH=str(site)), capture_output=True, text=True, cwd=site, timeout=300,
    )
    assert found.stdout.startswith(str(site)), found.stdout + found.stderr  # the installed copy, not the checkout
    assert "rsmmvp_tasks.evaluation.hook:manifests" in found.stdout
    return site


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_lmms_eval_runs_rsmmvp_clip_on_tiny_encoders(kind: str, tmp_path: Path, installed: Path,
                                                     docs: datasets.Dataset) -> None:
    from tinyencoders import build_tiny_clip_text, build_tiny_siglip

    folder = (build_tiny_clip_text if kind == "clip" else build_tiny_siglip)(tmp_path / f"tiny-{kind}")
    run = run_lmms_eval(
        ["--model", "rsmmvp_clip", "--model_args", f"pretrained={folder},device=cpu", "--tasks", TASK,
         "--batch_size", "4"],
        tmp_path / "out", cwd=tmp_path, env_extra={"PYTHONPATH": str(installed)},
    )
    m = run.metrics(TASK)
    assert run.results["config"]["model_backend"].startswith("rsmmvp_tasks.models.clip.RsmmvpClip")
    assert run.results["n-samples"][TASK]["effective"] == len(docs)
    assert (tmp_path / "out" / f"{tmp_path.name}__tiny-{kind}").is_dir()  # results/<last two path parts>/
    # the replies lmms-eval logged are those the same encoder gives in process, and the metrics follow from them
    expected = _answer(RsmmvpClip(pretrained=str(folder), device="cpu", batch_size=3), docs)
    logged = {s["doc_id"]: s["filtered_resps"][0] if isinstance(s["filtered_resps"], list) else s["filtered_resps"]
              for s in run.samples[TASK]}
    assert [logged[i] for i in range(len(docs))] == expected
    s = _scores(docs, expected)
    assert m["question_accuracy"] == pytest.approx(s.question_accuracy)
    assert m["pair_accuracy"] == pytest.approx(s.pair_accuracy)
    assert m["unreadable_rate"] == pytest.approx(s.unreadable_rate)
    assert "rsmmvp_clip: loaded" in run.output and ("padding=max_length" in run.output) == (kind == "siglip")


@pytest.mark.e2e
def test_two_processes_give_the_single_process_answers(tmp_path: Path, docs: datasets.Dataset) -> None:
    """Under a multi-process launch each rank loads the encoder and answers its share; the replies are unchanged."""
    from conftest import BIN
    from tinyencoders import build_tiny_clip_text

    folder = build_tiny_clip_text(tmp_path / "tiny-clip")
    launcher = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", "29531", "-m", "lmms_eval"]
    run = run_lmms_eval(["--model", "rsmmvp_clip", "--model_args", f"pretrained={folder},device=cpu",
                         "--tasks", TASK, "--batch_size", "4"], tmp_path / "out", cwd=tmp_path,
                        env_extra={"OMP_NUM_THREADS": "1"}, launcher=launcher)
    assert run.output.count("rsmmvp_clip: loaded") == 2, run.output[-3000:]  # one encoder per process
    expected = _answer(RsmmvpClip(pretrained=str(folder), device="cpu", batch_size=4), docs)
    logged = {s["doc_id"]: s["filtered_resps"][0] if isinstance(s["filtered_resps"], list) else s["filtered_resps"]
              for s in run.samples[TASK]}
    assert [logged[i] for i in range(len(docs))] == expected
    assert run.metrics(TASK)["pair_accuracy"] == pytest.approx(_scores(docs, expected).pair_accuracy)


_FULL_TASK = """
import sys
import datasets
mini = datasets.load_dataset("parquet", data_files=sys.argv[1], split="train")
def load_dataset(path=None, name=None, **kwargs):  # the hub repo IVUlab/RSMMVP, stood in for by the mini sample
    assert path == "IVUlab/RSMMVP", path
    return datasets.DatasetDict({"train": mini})
datasets.load_dataset = load_dataset
sys.argv = ["lmms-eval", *sys.argv[2:]]
from lmms_eval.__main__ import cli_evaluate
cli_evaluate()
"""


@pytest.mark.e2e
def test_rsmmvp_clip_on_the_full_task_with_the_hub_data_stood_in(tmp_path: Path, docs: datasets.Dataset) -> None:
    """The full `rsmmvp` task (hub dataset path, its own process_docs) with rsmmvp_clip; only the download is replaced."""
    from conftest import offline_env
    from tinyencoders import build_tiny_clip_text

    from rsmmvp_tasks.paths import mini_dataset_dir

    folder = build_tiny_clip_text(tmp_path / "tiny-clip")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_TASK, str(mini_dataset_dir() / "rsmmvp_mini.parquet"),
         "--model", "rsmmvp_clip", "--model_args", f"pretrained={folder},device=cpu", "--tasks", "rsmmvp",
         "--output_path", str(out), "--log_samples"],
        cwd=tmp_path, env=offline_env(tmp_path / "hf"), capture_output=True, text=True, timeout=600,
    )
    found = sorted(out.rglob("*_results.json"))
    assert found, (proc.stdout + proc.stderr)[-3000:]
    results = json.loads(found[-1].read_text())
    m = {k.split(",")[0]: v for k, v in results["results"]["rsmmvp"].items()}
    expected = _scores(docs, _answer(RsmmvpClip(pretrained=str(folder), device="cpu", batch_size=4), docs))
    assert results["n-samples"]["rsmmvp"]["effective"] == len(docs)
    assert m["question_accuracy"] == pytest.approx(expected.question_accuracy)
    assert m["pair_accuracy"] == pytest.approx(expected.pair_accuracy)
