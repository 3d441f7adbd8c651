"""``rsmmvp eval``: lmms-eval with an exit status that can be trusted (the real CLI, offline)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, offline_env
from rsmmvp_tasks.commands.eval import prepare_args
from rsmmvp_tasks import UsageError


def _rsmmvp_eval(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "rsmmvp"), "eval", *args], cwd=cwd, env=offline_env(cwd / "hf_home"),
                          capture_output=True, text=True, timeout=600)


def test_prepare_args_adds_output_path_and_reads_tasks() -> None:
    argv, out, tasks = prepare_args(["--model", "dummy", "--tasks=rsmmvp_mini,rsmmvp_mini_cot"])
    assert out == Path("results") and argv[-2:] == ["--output_path", "results"]
    assert tasks == ["rsmmvp_mini", "rsmmvp_mini_cot"]
    argv, out, _ = prepare_args(["eval", "--tasks", "x", "--output_path", "/tmp/o"])
    assert out == Path("/tmp/o") and argv[0] == "--tasks" and argv.count("--output_path") == 1


@pytest.mark.parametrize("args", [["--model", "dummy"], ["--model", "dummy", "--tasks", "list"]])
def test_prepare_args_refuses_what_it_cannot_check(args: list[str]) -> None:
    with pytest.raises(UsageError):
        prepare_args(args)


@pytest.mark.e2e
def test_success_exits_0_and_says_where_the_results_are(tmp_path: Path) -> None:
    proc = _rsmmvp_eval(["--model", "dummy", "--model_args", "response=A", "--tasks", "rsmmvp_mini"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = [s for s in proc.stdout.splitlines() if s.startswith("rsmmvp eval: results in ")]
    assert line, proc.stdout[-2000:]
    path = tmp_path / line[-1].split("results in ", 1)[1]
    assert path.parent == tmp_path / "results"  # the default --output_path; dummy lands directly in it
    assert isinstance(json.loads(path.read_text())["results"]["rsmmvp_mini"]["pair_accuracy,none"], float)


@pytest.mark.e2e
def test_failed_evaluation_exits_1_with_the_error(tmp_path: Path) -> None:
    """lmms-eval logs 'Tasks not found' and exits 0; rsmmvp eval exits 1 and names the task."""
    plain = subprocess.run([str(BIN / "lmms-eval"), "--model", "dummy", "--tasks", "rsmmvp_nope",
                            "--output_path", str(tmp_path / "plain")], cwd=tmp_path,
                           env=offline_env(tmp_path / "hf_home"), capture_output=True, text=True, timeout=600)
    assert plain.returncode == 0  # the reason this command exists
    proc = _rsmmvp_eval(["--model", "dummy", "--tasks", "rsmmvp_nope", "--output_path", str(tmp_path / "out")],
                        tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("rsmmvp eval: error:") and "rsmmvp_nope" in last
    assert "Traceback" not in proc.stderr.split("rsmmvp eval: error:")[-1]


@pytest.mark.e2e
def test_model_that_fails_to_load_exits_1(tmp_path: Path) -> None:
    proc = _rsmmvp_eval(["--model", "llava_hf", "--model_args", f"pretrained={tmp_path / 'no_such_model'},device=cpu",
                         "--tasks", "rsmmvp_mini", "--output_path", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("rsmmvp eval: error: lmms-eval reported an error")
    assert not list((tmp_path / "out").rglob("*_results.json"))


def test_help_explains_the_exit_status(tmp_path: Path) -> None:
    proc = _rsmmvp_eval(["--help"], tmp_path)
    assert proc.returncode == 0 and "usage: rsmmvp eval" in proc.stdout and "exits 0" in proc.stdout.replace("\n", " ")


def test_usage_error_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _rsmmvp_eval(["--model", "dummy"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--tasks" in proc.stderr


@pytest.mark.e2e
def test_a_refused_dataset_exits_1_naming_the_violation_not_the_retry(tmp_path: Path) -> None:
    """lmms-eval wraps our process_docs refusal in tenacity's RetryError; rsmmvp eval shows the refusal itself."""
    import datasets

    from rsmmvp_tasks.paths import mini_dataset_dir, tasks_dir

    mini = datasets.load_dataset("parquet", data_files=str(mini_dataset_dir() / "rsmmvp_mini.parquet"), split="train")
    bad = mini.remove_columns(["answer"]).add_column("answer", [f"({a.lower()})" for a in mini["answer"]])
    bad.to_parquet(tmp_path / "bad.parquet")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "my_bad_rs.yaml").write_text(
        f"task: my_bad_rs\ninclude: {tasks_dir() / 'rsmmvp' / '_default_template_yaml'}\ndataset_path: parquet\n"
        f"dataset_kwargs:\n  data_files:\n    test: {tmp_path / 'bad.parquet'}\ntest_split: test\n")
    proc = _rsmmvp_eval(["--model", "dummy", "--tasks", "my_bad_rs", "--include_path", str(tmp_path / "tasks"),
                         "--output_path", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "breaks the RSMMVP contract" in last and "RetryError" not in last, last
