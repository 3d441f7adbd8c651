"""``rsmmvp eval``: lmms-eval with an exit status that can be trusted (the real CLI, offline)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, offline_env

from rsmmvp_tasks import UsageError, hubaccess
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.commands import eval as eval_command
from rsmmvp_tasks.commands.eval import prepare_args
from rsmmvp_tasks.errors import ServiceError

FAKE_TOKEN = "hf_" + "EvalCommandSecret0123456789abcd"
FAKE_KEY = "sk-" + "EvalCommandKey0123456789abcd"


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
def test_unknown_task_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    """lmms-eval logs 'Tasks not found' and exits 0; rsmmvp eval refuses the name (exit 2) and suggests the nearest."""
    plain = subprocess.run([str(BIN / "lmms-eval"), "--model", "dummy", "--tasks", "rsmmvp_nope",
                            "--output_path", str(tmp_path / "plain")], cwd=tmp_path,
                           env=offline_env(tmp_path / "hf_home"), capture_output=True, text=True, timeout=600)
    assert plain.returncode == 0  # the reason this command exists
    proc = _rsmmvp_eval(["--model", "dummy", "--tasks", "rsmmvp_mini,rsmmvp_mnii", "--output_path", str(tmp_path / "out")],
                        tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("rsmmvp eval: error: --tasks: no task named rsmmvp_mnii") and "rsmmvp_mini" in last
    assert "Traceback" not in proc.stderr and "Building contexts" not in proc.stderr + proc.stdout


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


# ---- checks before the run (in-process: they refuse before lmms-eval is started)


def test_half_set_judge_is_refused_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RSMMVP_JUDGE_MODEL", "judge-model")
    monkeypatch.delenv("RSMMVP_JUDGE_BASE_URL", raising=False)
    code = main(["eval", "--model", "dummy", "--tasks", "rsmmvp_mini", "--output_path", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "RSMMVP_JUDGE_BASE_URL" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before the output folder, the model or a single generation


def test_unwritable_output_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a_file").write_text("x")
    code = main(["eval", "--model", "dummy", "--tasks", "rsmmvp_mini", "--output_path", str(tmp_path / "a_file" / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "--output_path" in err and "cannot write there" in err


class _Strict:
    def __init__(self, pretrained: str, dtype: str = "auto") -> None:
        pass


class _Lenient:
    def __init__(self, response: str = "A", read_bytes: int = 0, **kwargs: object) -> None:
        pass


def test_model_args_the_constructor_does_not_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eval_command, "_model_class", lambda name, force_simple: _Strict)
    monkeypatch.setattr(eval_command, "parse_model_args",  # lmms-eval's own parser is used by the e2e test below
                        lambda text: dict(kv.split("=", 1) for kv in (text or "").split(",") if kv))
    with pytest.raises(UsageError, match="dtpye: --model m does not take this parameter.*it takes: pretrained, dtype"):
        eval_command.check_model_args(["--model", "m", "--model_args", "pretrained=x,dtpye=float32"])
    assert eval_command.check_model_args(["--model", "m", "--model_args", "pretrained=x,dtype=float32"]) == {
        "pretrained": "x", "dtype": "float32"}
    warned: list[str] = []
    monkeypatch.setattr(eval_command, "_model_class", lambda name, force_simple: _Lenient)
    parsed = eval_command.check_model_args(["--model", "m", "--model_args", "respone=B,anything=1"], warned.append)
    assert parsed == {"respone": "B", "anything": "1"}
    assert len(warned) == 1 and "respone" in warned[0] and "did you mean response" in warned[0]


@pytest.mark.e2e  # imports lmms-eval's model registry in-process
def test_model_args_of_the_real_registry_are_read() -> None:
    """The class comes from lmms-eval's registry; rsmmvp_clip and dummy take **kwargs (near misses only warn)."""
    warned: list[str] = []
    eval_command.check_model_args(["--model", "dummy", "--model_args", "respone=A"], warned.append)
    assert warned and "did you mean response" in warned[0]


def test_failure_line_is_the_informative_one_with_the_way_out() -> None:
    """transformers' "not in the cache" line, not the socket's gaierror at the bottom of the chain."""
    import socket

    def chain() -> BaseException:
        try:
            try:
                try:
                    raise socket.gaierror(-2, "Name or service not known")
                except socket.gaierror as exc:
                    raise ConnectionError("[Errno -2] Name or service not known") from exc
            except ConnectionError as exc:
                raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find "
                              "them in the cached files.\nCheck your internet connection.") from exc
        except OSError as exc:
            return exc

    line = eval_command.describe(chain(), "llava_hf", {"pretrained": "llava-hf/llava-1.5-7b-hf"})
    assert "gaierror" not in line and "couldn't find them in the cached files" in line
    assert "`hf download llava-hf/llava-1.5-7b-hf --local-dir DIR`" in line and "pretrained=DIR" in line
    assert eval_command.describe(chain(), "llava_hf", {}).startswith("OSError: We couldn't connect")
    only_socket = socket.gaierror(-2, "Name or service not known")
    assert "gaierror" in eval_command.describe(only_socket)  # nothing better in the chain: the innermost


def test_unknown_task_names_and_wildcards() -> None:
    known = ["rsmmvp", "rsmmvp_mini", "rsmmvp_mini_cot", "mmvp"]
    assert eval_command.missing_task_names(["rsmmvp_mini", "rsmmvp_*", "rsmmvp_mnii", "nope_*"], known) == [
        "rsmmvp_mnii", "nope_*"]
    assert "did you mean rsmmvp_mini" in str(eval_command.unknown_tasks_error(["rsmmvp_mnii"], known))


# ---- the hub, probed once


@pytest.fixture
def closed_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """A hub endpoint nothing listens on; the process is not in offline mode (restored afterwards)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    for name in hubaccess.OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    hubaccess.forget_probes()
    yield endpoint
    hubaccess.forget_probes()


def test_unreachable_hub_switches_to_offline_once(closed_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    said: list[str] = []
    assert hubaccess.check_hub("rsmmvp eval", required=False, say=said.append) is False
    assert len(said) == 1 and closed_endpoint in said[0] and "HF_HUB_OFFLINE=1" in said[0]
    assert all(os.environ[name] == "1" for name in hubaccess.OFFLINE_VARIABLES)
    calls: list[str] = []
    monkeypatch.setattr(hubaccess, "probe_hub", lambda *a, **k: calls.append("probe"))  # type: ignore[func-returns-value]
    assert hubaccess.check_hub("rsmmvp eval", required=False, say=said.append) is False
    assert calls == [] and len(said) == 1  # offline now: not probed again, nothing said again


def test_unreachable_hub_is_refused_where_it_is_required(closed_endpoint: str) -> None:
    with pytest.raises(ServiceError, match="cannot be reached.*ConnectionRefused"):
        hubaccess.check_hub("rsmmvp leaderboard submit", required=True)


def test_reachable_hub_answers_any_http_status(monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hubaccess.forget_probes()
        assert hubaccess.probe_hub(f"http://127.0.0.1:{server.server_port}") is None
    finally:
        server.shutdown()
        hubaccess.forget_probes()


@pytest.mark.e2e
def test_offline_hub_model_fails_fast_with_the_download_way_out(tmp_path: Path) -> None:
    """No HF_HUB_OFFLINE, a hub that does not answer: one probe, offline at once, no retries, the `hf download` line."""
    env = offline_env(tmp_path / "hf_home")
    for name in hubaccess.OFFLINE_VARIABLES:
        env.pop(name)
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there: nothing can be downloaded either
    proc = subprocess.run([str(BIN / "rsmmvp"), "eval", "--model", "llava_hf", "--model_args",
                           "pretrained=llava-hf/llava-1.5-7b-hf", "--tasks", "rsmmvp_mini",
                           "--output_path", str(tmp_path / "out")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Retrying in" not in proc.stderr + proc.stdout
    notices = [line for line in proc.stderr.splitlines() if "cannot be reached" in line]
    assert len(notices) == 1 and "HF_HUB_OFFLINE=1" in notices[0]
    last = proc.stderr.strip().splitlines()[-1]
    assert "`hf download llava-hf/llava-1.5-7b-hf --local-dir DIR`" in last and "gaierror" not in last


# ---- its own results, and no secret on the console


@pytest.mark.e2e
def test_reports_its_own_results_file_only_and_prints_no_secret(tmp_path: Path) -> None:
    """The save of this run fails (its model folder is a file); another run's results file appears in the same
    folder meanwhile: rsmmvp eval must not take it for its own. --model_args secrets never reach the console."""
    out = tmp_path / "out"
    (out / "org__model").parent.mkdir(parents=True)
    (out / "org__model").write_text("a file where lmms-eval wants its model folder")
    other = out / "other_model" / "20990101_000000_results.json"
    other.parent.mkdir()
    other.write_text(json.dumps({"results": {"rsmmvp_mini": {"accuracy,none": 1.0}}}))
    future = 4102444800  # 2100-01-01: "written during this run" by any clock
    os.utime(other, (future, future))
    proc = _rsmmvp_eval(["--model", "dummy", "--model_args", f"pretrained=org/model,api_key={FAKE_KEY},token={FAKE_TOKEN}",
                         "--tasks", "rsmmvp_mini", "--output_path", str(out)], tmp_path)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "saved no results file in this run" in last and str(other) not in proc.stdout + proc.stderr
    assert "dummy (pretrained=org/model" in proc.stdout  # lmms-eval's print() of the model line, redacted
    for secret in (FAKE_KEY, FAKE_TOKEN, FAKE_KEY[3:], FAKE_TOKEN[3:]):
        assert secret not in proc.stdout + proc.stderr
