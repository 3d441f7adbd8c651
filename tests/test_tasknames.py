"""Shipped task names as dataset arguments (issue 18.4): ``rsmmvp human page rsmmvp_mini`` and every
other command that takes a dataset, through the one resolver (``dataset.hub.resolve_source``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsmmvp_tasks import mini_dataset_dir
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.dataset.hub import HUB_REPO_ID, SourceNotFoundError, resolve_source
from rsmmvp_tasks.dataset.tasknames import shipped_task_datasets, task_dataset
from rsmmvp_tasks.paths import tasks_dir

MINI = mini_dataset_dir() / "rsmmvp_mini.parquet"


def test_every_shipped_task_names_its_dataset() -> None:
    found = shipped_task_datasets()
    yaml_tasks = {line.split(":", 1)[1].strip() for path in (tasks_dir() / "rsmmvp").glob("*.yaml")
                  for line in path.read_text().splitlines() if line.startswith("task:")}
    assert set(found) == yaml_tasks and {"rsmmvp", "rsmmvp_mini"} <= yaml_tasks
    for task, source in found.items():
        assert Path(source).is_file() or source.count("/") == 1, (task, source)
    assert task_dataset("rsmmvp_mini") == str(MINI.resolve()) == task_dataset("rsmmvp_mini_circular")
    assert task_dataset("rsmmvp") == HUB_REPO_ID == task_dataset("rsmmvp_cot")
    assert task_dataset("no_such_task") is None


def test_the_resolver_takes_task_names_and_a_local_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_source("rsmmvp_mini").resolve() == MINI.resolve()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rsmmvp_mini").mkdir()
    assert resolve_source("rsmmvp_mini") == Path("rsmmvp_mini")
    with pytest.raises(SourceNotFoundError, match="not a shipped task name .*rsmmvp_mini"):
        resolve_source("rsmmvp_mnii")


def test_validate_takes_a_task_name(capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate", "rsmmvp_mini"])  # its verdict on the sample's card is test_validate's business
    captured = capsys.readouterr()
    assert "rsmmvp_mini: 18 rows, 9 pairs" in captured.out and "no such file" not in captured.err
