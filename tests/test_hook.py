"""The entry-point hook that makes the tasks visible without --include_path, and its guards."""

from __future__ import annotations

import logging
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import BIN, offline_env

from rsmmvp_tasks import tasks_dir
from rsmmvp_tasks.evaluation import hook as lmms_hook

TASKS = {"rsmmvp", "rsmmvp_cot", "rsmmvp_mini", "rsmmvp_mini_cot"}


def _fake_tasks_module(initialize_tasks: object | None) -> types.ModuleType:
    mod = types.ModuleType("fake_lmms_eval_tasks")
    if initialize_tasks is not None:
        mod.TaskManager = type("TaskManager", (), {"initialize_tasks": initialize_tasks})
    return mod


def test_patch_appends_our_folder_once_and_keeps_user_paths_first() -> None:
    seen: list[list[str]] = []

    def initialize_tasks(self: object, include_path: object = None, include_defaults: bool = True) -> str:
        seen.append(include_path)  # type: ignore[arg-type]
        return "index"

    mod = _fake_tasks_module(initialize_tasks)
    assert lmms_hook.patch_task_manager(mod)
    assert lmms_hook.patch_task_manager(mod)  # idempotent
    tm = mod.TaskManager()
    ours = str(tasks_dir())
    assert tm.initialize_tasks() == "index"
    assert tm.initialize_tasks(include_path="/user/tasks") == "index"
    tm.initialize_tasks(include_path=["/a", ours], include_defaults=False)
    assert seen == [[ours], ["/user/tasks", ours], ["/a", ours]]


@pytest.mark.parametrize(
    "initialize_tasks",
    [None, lambda self, paths=None: None],  # missing method; renamed parameter
    ids=["no-initialize_tasks", "no-include_path-param"],
)
def test_changed_lmms_eval_warns_with_fallback_and_changes_nothing(initialize_tasks: object,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    mod = _fake_tasks_module(initialize_tasks)
    with caplog.at_level(logging.WARNING, logger="rsmmvp_tasks.evaluation.hook"):
        assert not lmms_hook.patch_task_manager(mod)
    assert "--include_path" in caplog.text and "rsmmvp tasks-path" in caplog.text
    if initialize_tasks is not None:
        assert mod.TaskManager.initialize_tasks is initialize_tasks


def test_entry_point_is_registered_and_returns_manifests() -> None:
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="lmms_eval.models") if ep.name == "rsmmvp"]
    assert len(eps) == 1 and eps[0].value == "rsmmvp_tasks.evaluation.hook:manifests"
    assert eps[0].load() is lmms_hook.manifests


def _python(code: str, tmp_path: Path, argv: list[str] | None = None, **env: str) -> str:
    """Run ``code`` in a fresh interpreter whose command line (``sys.argv[1:]``) is ``argv``."""
    proc = subprocess.run([sys.executable, "-c", code, *(argv or [])], cwd=tmp_path,
                          env=offline_env(tmp_path / "hf", **env),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


_LIST_OURS = "print('tasks', sorted(t for t in TaskManager().all_tasks if t.startswith('rsmmvp')))\n"


@pytest.mark.e2e
def test_real_lmms_eval_indexes_our_tasks_lazily_when_the_run_asks_for_one(tmp_path: Path) -> None:
    code = ("import sys, lmms_eval.models\n"
            "print('early', 'lmms_eval.tasks' in sys.modules)\n"
            "from lmms_eval.tasks import TaskManager\n" + _LIST_OURS +
            "print('builtin', 'mmvp' in TaskManager().all_tasks)\n")
    out = _python(code, tmp_path, argv=["--model", "dummy", "--tasks", "mmvp,rsmmvp_mini"])
    assert "early False" in out  # importing the model registry did not pay for lmms_eval.tasks
    listed = eval(out.split("tasks ", 1)[1].splitlines()[0])
    assert TASKS <= set(listed)
    assert "builtin True" in out  # built-ins still indexed; none of ours shadows them
    assert not {"mmvp"} & set(listed)
    # the same process asking for another task only: the TaskManager is lmms-eval's own
    out = _python(code, tmp_path, argv=["--model", "dummy", "--tasks", "mmvp"])
    assert eval(out.split("tasks ", 1)[1].splitlines()[0]) == []


@pytest.mark.e2e
def test_legacy_lmms_eval_plugins_variable_is_harmless(tmp_path: Path) -> None:
    out = _python("import lmms_eval.models as m\nfrom lmms_eval.tasks import TaskManager\n" + _LIST_OURS, tmp_path,
                  argv=["--tasks", "rsmmvp_mini"], LMMS_EVAL_PLUGINS="rsmmvp_tasks")
    assert TASKS <= set(eval(out.split("tasks ", 1)[1].splitlines()[0]))


@pytest.mark.parametrize(
    "argv, wanted",
    [(["--tasks", "rsmmvp_mini"], True), (["--tasks=mmvp,rsmmvp_cot"], True), (["--task", "rsmmvp*"], True),
     (["--tasks", "list"], True), (["eval", "--tasks", "mmvp"], False), (["--tasks", "mm*"], False),
     (["--model", "rsmmvp_clip", "--tasks", "mmvp"], False), ([], False), (["--tasks"], False),
     (["--include_path", "/x", "--tasks", "rsmmvp_my_rsmmvp_task"], True), (["--tasks", "my_rsmmvp"], False)],
)
def test_requests_rsmmvp_reads_the_command_line(argv: list[str], wanted: bool) -> None:
    assert lmms_hook.requests_rsmmvp(["lmms-eval", *argv]) is wanted


def test_requests_rsmmvp_reads_the_tasks_of_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("model: dummy\ntasks: mmvp,rsmmvp_mini\n")
    (tmp_path / "two.yaml").write_text("- {model: dummy, tasks: mmvp}\n- {model: dummy, tasks: [mme]}\n")
    assert lmms_hook.requested_task_names(["--config", str(tmp_path / "one.yaml")]) == ["mmvp", "rsmmvp_mini"]
    assert lmms_hook.requests_rsmmvp(["--config", str(tmp_path / "one.yaml")])
    assert not lmms_hook.requests_rsmmvp(["--config", str(tmp_path / "two.yaml")])
    assert not lmms_hook.requests_rsmmvp(["--config", str(tmp_path / "missing.yaml")])


def test_our_task_names_are_the_yaml_task_names() -> None:
    assert TASKS <= lmms_hook.our_task_names() and all(n.startswith("rsmmvp") for n in lmms_hook.our_task_names())


@pytest.mark.parametrize("tasks, patched", [("mmvp", False), ("rsmmvp_mini", True)])
def test_entry_point_patches_nothing_for_another_task(tasks: str, patched: bool, tmp_path: Path) -> None:
    """The entry point itself (no lmms-eval run): only a run asking for an rsmmvp task gets the patch and redaction."""
    out = _python(
        "import logging, sys\n"
        "from rsmmvp_tasks.evaluation.hook import manifests\n"
        "factory = logging.getLogRecordFactory()\n"
        "print('manifests', len(manifests()))\n"
        "print('finder', any(type(f).__name__ == '_PatchOnImport' for f in sys.meta_path))\n"
        "print('factory', logging.getLogRecordFactory() is not factory)\n",
        tmp_path, argv=["--model", "dummy", "--tasks", tasks])
    assert "manifests 1" in out  # rsmmvp_clip is registered either way: that is what the entry point group is for
    assert f"finder {patched}" in out and f"factory {patched}" in out


@pytest.mark.e2e
def test_cli_task_list_shows_our_tasks(tmp_path: Path) -> None:
    proc = subprocess.run([str(BIN / "lmms-eval"), "--tasks", "list"], cwd=tmp_path,
                          env=offline_env(tmp_path / "hf"), capture_output=True, text=True, timeout=300)
    text = proc.stdout + proc.stderr
    for task in TASKS:
        assert f" {task} " in text or f"|{task}" in text or task in text.split(), f"{task} missing from --tasks list"


def test_tasks_path_command_prints_the_task_folder() -> None:
    proc = subprocess.run([str(BIN / "rsmmvp"), "tasks-path"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    folder = Path(proc.stdout.strip())
    assert (folder / "rsmmvp" / "rsmmvp_mini.yaml").is_file()
    assert folder == tasks_dir()


def test_no_task_shadows_a_builtin_name() -> None:
    import lmms_eval

    builtin_dir = Path(lmms_eval.__file__).parent / "tasks"
    builtin_names = set()
    for y in builtin_dir.rglob("*.yaml"):
        for line in y.read_text(errors="ignore").splitlines():
            if line.startswith("task:"):
                builtin_names.add(line.split(":", 1)[1].strip().strip("\"'"))
    assert not TASKS & builtin_names


FAKE_TOKEN = "hf_" + "FakeTokenForRedactionTest0123456789"


@pytest.mark.e2e
def test_hf_token_never_reaches_lmms_eval_output_or_files(tmp_path: Path) -> None:
    """lmms-eval 0.7.3 logs its tracker args with HF_TOKEN at INFO; our entry point redacts it."""
    from conftest import run_lmms_eval

    run = run_lmms_eval(["--model", "dummy", "--tasks", "rsmmvp_mini", "--hf_hub_log_args", "public_repo=False"],
                        tmp_path, env_extra={"HF_TOKEN": FAKE_TOKEN}, cwd=tmp_path)
    assert run.results is not None, run.output[-3000:]
    assert "Evaluation tracker args" in run.output and "'token': '***'" in run.output  # the line was logged, redacted
    assert FAKE_TOKEN not in run.output
    assert FAKE_TOKEN[3:] not in run.output
    for f in tmp_path.rglob("*"):
        if f.is_file():  # results, samples and the HF cache alike
            assert FAKE_TOKEN[3:].encode() not in f.read_bytes(), f
