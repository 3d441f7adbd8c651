"""Every subcommand, given bad input, as a user runs it: a real ``rsmmvp`` process.

Each case asserts the documented exit code (``rsmmvp --help``; :mod:`rsmmvp_tasks.errors`), no
Python traceback on stderr, an error line ``rsmmvp <command>...: error: ...`` and a message that
names the input that is wrong. A subcommand with no case of its own is still driven with an
unknown option, and :func:`test_every_subcommand_has_cases` fails when a new subcommand has no
case here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import offline_env

from rsmmvp_tasks.cli import build_parser

pytestmark = pytest.mark.e2e  # every case runs the rsmmvp CLI as a subprocess (about 100 s in all)

RSMMVP = Path(sys.executable).parent / "rsmmvp"


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return list(sub.choices)


@dataclass(frozen=True)
class Case:
    """``rsmmvp ARGV`` (``{d}`` is the folder of prepared inputs) must exit ``code`` naming ``names``."""

    argv: str
    code: int
    names: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    #: a short id for the test report
    id: str = ""

    @property
    def command(self) -> str:
        return self.argv.split()[0]


def case(argv: str, code: int, *names: str, id: str, **env: str) -> object:
    return pytest.param(Case(argv, code, names, env, id), id=f"{argv.split()[0]}-{id}")


# {d}: the prepared inputs (see `inputs`); messages must name the input, so the names below are
# the paths, options or ids given on the command line.
CASES = [
    case("tasks-path surplus", 2, "surplus", id="extra-argument"),
    case("eval --model dummy", 2, "--tasks", id="no-tasks"),
    # validate
    case("validate {d}/nope.parquet", 2, "{d}/nope.parquet", id="missing"),
    case("validate {d}/empty_dir", 2, "{d}/empty_dir", id="empty-dir"),
    case("validate {d}/corrupt.parquet", 2, "{d}/corrupt.parquet", id="corrupt-parquet"),
    case("validate {d}/empty.parquet", 2, "{d}/empty.parquet", id="empty-file"),
    case("validate {d}/notes.txt", 2, "{d}/notes.txt", id="not-a-table"),
    case("validate {d}/mined/pairs.parquet", 2, "PAIRS table", "rsmmvp review", id="pairs-table"),
    case("validate {d}/mined/pairs.csv", 2, "PAIRS table", "rsmmvp review", id="pairs-csv"),
    case("validate {d}/train_only", 2, "{d}/train_only", "'test' split", id="datasetdict-no-test"),
    case("validate {d}/raw --pair-size 0", 2, "--pair-size", "'0'", id="pair-size-0"),
    case("validate {d}/raw --pair-size two", 2, "--pair-size", "'two'", id="pair-size-text"),
    case("validate {d}/two_tables", 2, "Questions.csv", "backup.csv", "--table", id="two-tables"),
    case("validate {d}/raw --table nope.csv", 2, "nope.csv", id="table-missing"),
    case("validate nobody-here/not-cached", 3, "nobody-here/not-cached", id="hub-offline"),
    # build
    case("build --raw {d}/nope --out {d}/o1", 2, "{d}/nope", id="missing"),
    case("build --raw {d}/notes.txt --out {d}/o1", 2, "{d}/notes.txt", id="file-not-folder"),
    case("build --raw {d}/empty_dir --out {d}/o1", 2, "{d}/empty_dir", id="empty-dir"),
    case("build --raw {d}/raw --out {d}/o1 --pair-size 0", 2, "--pair-size", id="pair-size-0"),
    case("build --raw {d}/raw --out {d}/notes.txt", 2, "{d}/notes.txt", id="out-is-a-file"),
    case("build --raw {d}/raw --out {d}/precious", 2, "{d}/precious", "thesis.tex", "--overwrite", id="out-not-ours"),
    case("build --raw {d}/bad_raw --out {d}/o1", 1, "[same_answer]", id="violations"),
    case("build --pairs {d}/mined/pairs.parquet --out {d}/o1", 2, "--annotations", id="pairs-no-annotations"),
    case("build --pairs {d}/corrupt.parquet --annotations {d}/nope.json --out {d}/o1", 2, "{d}/", id="pairs-corrupt"),
    case("build --raw {d}/raw --out {d}/o2 --push me/rsmmvp-test --license cc-by-4.0", 3, "not pushed",
         "me/rsmmvp-test", id="push-offline", HF_TOKEN="hf_fake_token_for_tests_0000000000"),
    case("build --raw {d}/raw --out {d}/o3 --push me/rsmmvp-test", 2, "--license", "--sources", "me/rsmmvp-test",
         id="push-without-licence"),
    # embed
    case("embed {d}/nope --encoder {d}/clip --out {d}/c1", 2, "{d}/nope", id="missing-images"),
    case("embed {d}/empty_dir --encoder {d}/clip --out {d}/c1", 2, "{d}/empty_dir", id="no-images"),
    case("embed {d}/imgs --encoder openai/clip-vit-large-patch14 --out {d}/c1", 2,
         "openai/clip-vit-large-patch14", id="encoder-not-cached"),
    case("embed {d}/imgs --encoder {d}/empty_dir --out {d}/c1", 2, "{d}/empty_dir", id="encoder-not-a-model"),
    case("embed hf:nobody/nothing --encoder {d}/clip --out {d}/c1", 2, "nobody/nothing", id="hf-source-offline"),
    case("embed {d}/imgs --encoder {d}/clip --out {d}/c1 --batch-size 0", 2, "--batch-size", id="batch-size-0"),
    case("embed {d}/imgs --encoder {d}/clip --out {d}/c1 --device cuda", 2, "cuda", id="no-cuda"),
    case("embed {d}/imgs --encoder {d}/clip --out {d}/notes.txt", 2, "{d}/notes.txt", id="out-is-a-file"),
    # mine
    case("mine --clip {d}/nope --ssl {d}/ssl_cache --out {d}/p", 2, "{d}/nope", id="missing-cache"),
    case("mine --clip {d}/notes.txt --ssl {d}/ssl_cache --out {d}/p", 2, "{d}/notes.txt", id="cache-is-a-file"),
    case("mine --clip {d}/ssl_cache --ssl {d}/clip_cache --out {d}/p", 2, "{d}/ssl_cache", "{d}/clip_cache",
         id="swapped-caches"),
    case("mine --clip {d}/clip_cache --ssl {d}/ssl_cache --out {d}/p --dup-threshold -5", 2, "--dup-threshold",
         id="dup-threshold"),
    case("mine --clip {d}/clip_cache --ssl {d}/ssl_cache --out {d}/p --block 0", 2, "--block", id="block-0"),
    case("mine --clip {d}/clip_cache --ssl {d}/ssl_cache --out {d}/p --device cuda", 2, "cuda", id="no-cuda"),
    # review
    case("review {d}/nope.parquet --out {d}/r1", 2, "{d}/nope.parquet", id="missing"),
    case("review {d}/empty_dir --out {d}/r1", 2, "{d}/empty_dir", id="directory"),
    case("review {d}/corrupt.parquet --out {d}/r1", 2, "{d}/corrupt.parquet", id="corrupt-parquet"),
    case("review {d}/empty.csv --out {d}/r1", 2, "{d}/empty.csv", id="empty-csv"),
    case("review {d}/raw/Questions.csv --out {d}/r1", 2, "{d}/raw/Questions.csv", id="not-a-pairs-table"),
    case("review {d}/mined/pairs.parquet --out {d}/r1 --limit -1", 2, "--limit", id="limit-negative"),
    case("review {d}/mined/pairs.parquet --out {d}/r1 --thumb-size big", 2, "--thumb-size", id="thumb-size-text"),
    # tile (GeoTIFF scenes)
    case("tile {d}/nope.tif --out {d}/t1", 2, "{d}/nope.tif", id="missing-scene"),
    case("tile {d}/notes.txt --out {d}/t1", 2, "{d}/notes.txt", id="not-a-raster"),
    case("tile {d}/corrupt.parquet --out {d}/t1 --size 0", 2, "--size", id="size-0"),
    # human baseline
    case("human {d}/nope.parquet --out {d}/h1", 2, "{d}/nope.parquet", id="missing-dataset"),
    case("human {d}/corrupt.parquet --out {d}/h1", 2, "{d}/corrupt.parquet", id="corrupt-dataset"),
    case("human {d}/mined/pairs.parquet --out {d}/h1", 2, "PAIRS table", id="pairs-table"),
    case("human score {d}/nope.json --dataset {d}/raw --task t --out {d}/h2", 2, "{d}/nope.json", id="score-missing-export"),
    # report and leaderboard (when present)
    case("report {d}/nope", 2, "{d}/nope", id="missing"),
    case("report {d}/corrupt.parquet", 2, "{d}/corrupt.parquet", id="not-results"),
    case("leaderboard collect {d}/nope --out {d}/board.json", 2, "{d}/nope", id="missing"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of prepared inputs, good and bad, that the cases name as ``{d}``."""
    import datasets
    import numpy as np
    from mined_pairs import make_pairs
    from rawfixture import make_raw_layout
    from tinymodels import build_tiny_clip

    d = tmp_path_factory.mktemp("inputs")
    (d / "empty_dir").mkdir()
    (d / "corrupt.parquet").write_bytes(b"PAR1 this is not parquet at all")
    (d / "empty.parquet").write_bytes(b"")
    (d / "empty.csv").write_bytes(b"")
    (d / "notes.txt").write_text("not a dataset\n")
    make_raw_layout(d / "raw")
    make_raw_layout(d / "bad_raw", defects={"same_answer"})
    two = make_raw_layout(d / "two_tables")
    (two / "old_questions_backup.csv").write_bytes((two / "Questions.csv").read_bytes())
    (d / "precious").mkdir()
    (d / "precious" / "thesis.tex").write_text("years of work")
    make_pairs(d / "mined", n=2)
    make_pairs(d / "mined", n=2, fmt="csv")
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"index": [1]})}).save_to_disk(str(d / "train_only"))
    build_tiny_clip(d / "clip")
    (d / "imgs").mkdir()
    for image in sorted((d / "raw" / "MMVP Images").glob("*.jpg"))[:4]:
        (d / "imgs" / image.name).write_bytes(image.read_bytes())
    from rsmmvp_tasks.mining.store import CacheWriter

    rng = np.random.default_rng(0)
    ids = [f"img{k}" for k in range(8)]
    for kind in ("clip", "ssl"):
        vectors = rng.normal(size=(8, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        writer = CacheWriter(d / f"{kind}_cache", {"encoder": f"test/{kind}", "kind": kind, "dim": 16,
                                                   "dtype": "float32", "source": "synthetic"})
        writer.write_shard(ids, vectors, [f"/img/{i}.png" for i in ids])
    return d


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RSMMVP), *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_one_message_and_the_documented_code(bad: Case, inputs: Path, tmp_path: Path) -> None:
    if bad.command not in _subcommands():
        pytest.skip(f"no `rsmmvp {bad.command}` in this build")
    if "cuda" in bad.argv:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present: --device cuda is valid here")
    env = offline_env(tmp_path / "hf_home", **bad.env)
    result = _run(bad.argv.format(d=inputs).split(), env, tmp_path)
    err = result.stderr
    assert "Traceback" not in err, err
    assert result.returncode == bad.code, f"exit {result.returncode}, expected {bad.code}\n{err}"
    error_lines = [line for line in err.splitlines() if line.startswith(f"rsmmvp {bad.command}") and ": error: " in line]
    assert error_lines, f"no `rsmmvp {bad.command}...: error: ...` line:\n{err}"
    for name in bad.names:
        assert name.format(d=inputs) in err, f"{name!r} not named:\n{err}"


def test_every_subcommand_has_cases() -> None:
    covered = {c.values[0].command for c in CASES}
    assert set(_subcommands()) <= covered, f"subcommands without a bad-input case: {set(_subcommands()) - covered}"


@pytest.mark.parametrize("command", _subcommands())
def test_unknown_option_is_a_usage_error(command: str, tmp_path: Path) -> None:
    result = _run([command, "--no-such-option"], offline_env(tmp_path / "hf"), tmp_path)
    # argparse names a missing required argument first, else the unknown option; `eval` passes options
    # through to lmms-eval and names its missing --tasks
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"rsmmvp {command}" in result.stderr and ": error: " in result.stderr


def test_help_documents_exit_codes_and_version(tmp_path: Path) -> None:
    from rsmmvp_tasks import __version__
    from rsmmvp_tasks.errors import EXIT_INTERNAL, EXIT_UNAVAILABLE, EXIT_USAGE, EXIT_VIOLATIONS

    help_text = _run(["--help"], offline_env(tmp_path / "hf"), tmp_path).stdout
    for code in (0, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERNAL):
        assert f"\n  {code} " in help_text
    version = _run(["--version"], offline_env(tmp_path / "hf"), tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"rsmmvp {__version__}"


def test_no_library_chatter(inputs: Path, tmp_path: Path) -> None:
    """A successful command logs our own INFO lines only: no NumExpr, faiss loader, httpx or progress bars."""
    result = _run(["validate", str(inputs / "raw")], offline_env(tmp_path / "hf"), tmp_path)
    assert result.returncode == 0, result.stderr
    for chatter in ("NumExpr", "faiss", "HTTP Request", "swigfaiss", "it/s]", "examples/s]"):
        assert chatter not in result.stderr, result.stderr
    built = _run(["build", "--raw", str(inputs / "raw"), "--out", str(tmp_path / "out")], offline_env(tmp_path / "hf"),
                 tmp_path)
    assert built.returncode == 0, built.stderr
    assert "examples/s]" not in built.stderr and "ba/s]" not in built.stderr, built.stderr  # datasets' step bars
    assert "rsmmvp_tasks.dataset.build: wrote 10 rows" in built.stderr  # ours stay
    pytest.importorskip("faiss")
    mined = _run(["mine", "--clip", str(inputs / "clip_cache"), "--ssl", str(inputs / "ssl_cache"), "--out",
                  str(tmp_path / "pairs"), "--backend", "faiss", "--no-progress"], offline_env(tmp_path / "hf"), tmp_path)
    assert mined.returncode == 0, mined.stderr
    assert "swigfaiss" not in mined.stderr and "Loading faiss" not in mined.stderr, mined.stderr
    loud = _run(["-v", "validate", str(inputs / "raw")], offline_env(tmp_path / "hf"), tmp_path)
    assert "DEBUG" in loud.stderr or "INFO" in loud.stderr


def test_a_bug_keeps_its_traceback_and_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An exception that is not an RsmmvpError is a bug: traceback kept, a line asking to report it, exit 70."""
    from rsmmvp_tasks import cli
    from rsmmvp_tasks.commands import tasks_path

    def broken(args: object) -> int:
        raise KeyError("internal state")

    monkeypatch.setattr(tasks_path, "run", broken)
    assert cli.main(["tasks-path"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'internal state'" in err
    assert err.strip().splitlines()[-1].startswith("rsmmvp tasks-path: internal error (a bug in rsmmvp")


@pytest.mark.parametrize(
    "error, shown",
    [
        (PermissionError(13, "Permission denied", "/data/out/README.md"), "Permission denied: /data/out/README.md"),
        (OSError(28, "No space left on device"), "No space left on device"),
        (FileExistsError(17, "File exists", "/data/notes.txt"), "File exists: /data/notes.txt (a file is in the way"),
    ],
    ids=["permission", "disk-full", "wrong-kind"],
)
def test_the_users_environment_is_a_message_not_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: OSError, shown: str
) -> None:
    """Permissions, a full disk, a file where a folder must be: the user's to fix; one line, exit 2."""
    from rsmmvp_tasks import cli
    from rsmmvp_tasks.commands import tasks_path

    def fail(args: object) -> int:
        raise error

    monkeypatch.setattr(tasks_path, "run", fail)
    assert cli.main(["tasks-path"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rsmmvp tasks-path: error: {shown}") and len(err.strip().splitlines()) == 1


def test_output_pipe_closed_early_is_not_a_bug(tmp_path: Path) -> None:
    """`rsmmvp eval --help | head -0`: the reader is gone before anything is written; no traceback, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: every write gets EPIPE
    try:
        proc = subprocess.run([str(RSMMVP), "eval", "--help"], stdout=write_end, stderr=subprocess.PIPE,
                              cwd=tmp_path, env=offline_env(tmp_path / "hf"), timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode()
