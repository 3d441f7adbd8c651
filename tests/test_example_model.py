"""The example model package (examples/rsmmvp_example_model), installed and run as a new user would.

It is pip-installed non-editably (wheel build, its own dist-info with the ``lmms_eval.models`` entry
point) into a temporary folder, and the plain ``lmms-eval --model rsmmvp_example`` command must find
it, feed it the rsmmvp_mini images and prompts, and score exactly the replies its documented rule gives.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest
from conftest import REPO, run_lmms_eval
from installs import pip_install_target

from rsmmvp_tasks import extract_choice, mini_dataset_dir, score
from rsmmvp_tasks.evaluation.prompts import doc_to_text, doc_to_visual

EXAMPLE = REPO / "examples" / "rsmmvp_example_model"
TASK = "rsmmvp_mini"


def _rule(doc: dict) -> str:
    """The placeholder's documented rule, restated: the brightest of len(options) vertical strips."""
    gray = np.asarray(doc_to_visual(doc)[0].convert("L"), dtype=np.float64)
    brightest = int(np.argmax([s.mean() for s in np.array_split(gray, len(doc["options"]), axis=1)]))
    return f"The answer is {'ABCDEFGH'[brightest]}."


@pytest.mark.e2e
def test_example_package_installs_and_runs_from_the_plain_lmms_eval_command(tmp_path: Path) -> None:
    site = pip_install_target(EXAMPLE, tmp_path / "site")
    infos = list(site.glob("rsmmvp_example_model-*.dist-info"))
    assert len(infos) == 1 and "rsmmvp_example = rsmmvp_example_model:manifests" in \
        (infos[0] / "entry_points.txt").read_text()
    assert not (EXAMPLE / "build").exists() and not list(EXAMPLE.glob("*.egg-info"))  # built from a copy

    out = tmp_path / "results"
    run = run_lmms_eval(["--model", "rsmmvp_example", "--tasks", TASK], out, cwd=tmp_path,
                        env_extra={"PYTHONPATH": str(site)})
    assert list(out.glob("*_results.json")), "a model without pretrained= writes straight into --output_path"
    m = run.metrics(TASK)
    assert run.results["config"]["model_backend"].startswith("rsmmvp_example_model.model.ExampleVLM")

    mini = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    expected = {i: _rule(doc) for i, doc in enumerate(mini)}
    samples = run.samples[TASK]
    assert len(samples) == len(mini)
    for s in samples:
        reply = s["filtered_resps"][0] if isinstance(s["filtered_resps"], list) else s["filtered_resps"]
        assert reply == expected[s["doc_id"]]
        assert doc_to_text(mini[s["doc_id"]], {"pre_prompt": ""}) in str(s["input"])  # the prompt it was given
    records = [{"index": d["index"], "pair_id": d["pair_id"], "pattern": d["pattern"], "pair_size": 2,
                "answer": d["answer"], "pred": extract_choice(expected[i], list(d["options"]))}
               for i, d in enumerate(mini.remove_columns("image"))]
    s = score(records)
    assert 0.0 < s.pair_accuracy < 1.0  # the rule reads the image: neither constant nor perfect
    assert m["question_accuracy"] == pytest.approx(s.question_accuracy)
    assert m["pair_accuracy"] == pytest.approx(s.pair_accuracy)
    assert m["unreadable_rate"] == 0.0
