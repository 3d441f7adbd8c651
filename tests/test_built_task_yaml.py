"""``rsmmvp build`` writes a ready lmms-eval task YAML and prints the line that runs it; that line works.

The e2e test runs the printed line as printed (only the ``lmms-eval`` executable is resolved to this
venv's), from a working directory that holds a folder named like the build folder -- the trap that
made lmms-eval read ``--tasks my_rsmmvp`` as a folder and select nothing.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import datasets
import pytest
import yaml
from conftest import BIN, run_lmms_eval

from rsmmvp_tasks import tasks_dir
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.dataset.task_yaml import TASK_YAML_DIR, eval_command, render_task_yaml, task_name_for
from rsmmvp_tasks.schema import PARQUET_NAME


def _build(tmp_path: Path, capsys: pytest.CaptureFixture[str], out_name: str = "my_rsmmvp") -> tuple[Path, str]:
    from rawfixture import make_raw_layout

    out = tmp_path / out_name
    capsys.readouterr()
    assert main(["build", "--raw", str(make_raw_layout(tmp_path / "raw")), "--out", str(out)]) == 0
    return out, capsys.readouterr().out


def _printed_command(stdout: str) -> str:
    lines = [line.strip() for line in stdout.splitlines() if line.strip().startswith("lmms-eval ")]
    assert len(lines) == 1, stdout
    return lines[0]


def test_task_names_are_safe_identifiers() -> None:
    assert task_name_for("/data/My RSMMVP-v2") == "rsmmvp_my_rsmmvp_v2_task"
    assert task_name_for("out/") == "rsmmvp_out_task"
    assert task_name_for("/x/---") == "rsmmvp_dataset_task"


def test_yaml_paths_survive_odd_characters(tmp_path: Path) -> None:
    out = tmp_path / "a b: #c"
    config = yaml.safe_load(render_task_yaml(out, "rsmmvp_t_task"))
    assert config["dataset_kwargs"]["data_files"]["test"] == str(out.resolve() / PARQUET_NAME)
    assert shlex.split(eval_command(out, "rsmmvp_t_task"))[2] == str(out.resolve() / TASK_YAML_DIR)


def test_build_writes_the_task_yaml_and_prints_its_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, stdout = _build(tmp_path, capsys)
    name = "rsmmvp_my_rsmmvp_task"
    files = list((out / TASK_YAML_DIR).iterdir())
    assert [f.name for f in files] == [f"{name}.yaml"]
    config = yaml.safe_load(files[0].read_text())
    assert config == {
        "task": name,
        "include": str(tasks_dir() / "rsmmvp" / "_default_template_yaml"),
        "dataset_path": "parquet",
        "dataset_kwargs": {"data_files": {"test": str(out.resolve() / PARQUET_NAME)}},
        "test_split": "test",
    }
    assert Path(config["include"]).is_file() and Path(config["dataset_kwargs"]["data_files"]["test"]).is_file()
    assert _printed_command(stdout) == eval_command(out)
    # the YAML is part of the build's output: a rebuild into the same folder is not refused because of it
    _build(tmp_path, capsys)
    assert [f.name for f in (out / TASK_YAML_DIR).iterdir()] == [f"{name}.yaml"]


@pytest.mark.e2e
def test_the_printed_line_evaluates_the_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, stdout = _build(tmp_path, capsys)
    line = _printed_command(stdout)
    assert shlex.split(line)[-2:] == ["--model", "dummy"]  # lmms-eval's dummy model answers "A" to everything
    cwd = tmp_path / "elsewhere"
    (cwd / out.name).mkdir(parents=True)  # a folder named like the build folder, in the working directory
    # the line exactly as printed, through bash, with this venv's lmms-eval first on PATH; run_lmms_eval appends
    # --output_path <cwd>/results --log_samples, which is what the printed relative `--output_path results` means
    run = run_lmms_eval([], cwd / "results", cwd=cwd, launcher=["bash", "-c", line + ' "$@"', "bash"],
                        env_extra={"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    name = task_name_for(out)
    m = run.metrics(name)
    ds = datasets.load_dataset("parquet", data_files=str(out / PARQUET_NAME), split="train")
    assert run.results["n-samples"][name]["effective"] == len(ds) == 10
    assert m["question_accuracy"] == pytest.approx(sum(a == "A" for a in ds["answer"]) / len(ds))
    assert m["pair_accuracy"] == 0.0  # a constant reply never gets a pair with opposite answers right


@pytest.mark.e2e
def test_a_yaml_including_ours_sets_the_prompt_for_one_model(tmp_path: Path) -> None:
    """README "Evaluate your model": the per-model prompt override, as a user YAML that includes a task of ours."""
    tasks = tmp_path / "my_tasks"
    tasks.mkdir()
    (tasks / "rsmmvp_mini_qstyle.yaml").write_text(
        "task: rsmmvp_mini_qstyle\n"
        f"include: {json.dumps(str(tasks_dir() / 'rsmmvp' / 'rsmmvp_mini.yaml'))}\n"
        "lmms_eval_specific_kwargs:\n"
        "  default:\n"
        '    pre_prompt: ""\n'
        '    post_prompt: "\\nAnswer with the option\'s letter from the given choices directly."\n'
        "  dummy:\n"
        '    pre_prompt: "Question: "\n'
        '    post_prompt: "\\nAnswer with the option letter only."\n'
    )
    run = run_lmms_eval(["--model", "dummy", "--tasks", "rsmmvp_mini_qstyle", "--include_path", str(tasks)],
                        tmp_path / "out", cwd=tmp_path)
    assert run.metrics("rsmmvp_mini_qstyle")["question_accuracy"] == pytest.approx(0.5)
    prompts = [str(s["input"]) for s in run.samples["rsmmvp_mini_qstyle"]]
    assert len(prompts) == 18
    assert all(p.startswith("Question: ") and p.endswith("\nAnswer with the option letter only.") for p in prompts)
