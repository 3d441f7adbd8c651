"""Shared fixtures: an offline Hugging Face environment, a helper to run the real lmms-eval CLI, headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# huggingface_hub reads HF_HUB_OFFLINE and HF_HOME once, when it is first imported -- during collection, before
# any fixture runs -- so the offline switches are set here, at import time, for the whole session.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                  HF_HOME=tempfile.mkdtemp(prefix="rsmmvp-tests-hf-"))

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def offline_env(hf_home: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess that must not reach the hub (and has its own HF cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "LMMS_EVAL_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(hf_home),
        TOKENIZERS_PARALLELISM="false",
        WANDB_MODE="disabled",
    )
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may touch the hub: every test runs offline with a private HF cache."""
    home = tmp_path_factory.getbasetemp() / "hf_home"
    for k, v in offline_env(home).items():
        if k.startswith(("HF_", "TRANSFORMERS_")):
            monkeypatch.setenv(k, v)


@dataclass
class LmmsRun:
    returncode: int
    output: str
    results: dict[str, Any] | None
    samples: dict[str, list[dict[str, Any]]]

    def metrics(self, task: str) -> dict[str, Any]:
        """``{metric: value}`` of one task from the results JSON (filter suffix ",none" dropped)."""
        assert self.results is not None, f"lmms-eval wrote no results file; its output ends with:\n{self.output[-4000:]}"
        return {k.split(",")[0]: v for k, v in self.results["results"][task].items() if k != "alias"}


def run_lmms_eval(args: list[str], out_dir: Path, *, env_extra: dict[str, str] | None = None, cwd: Path = REPO,
                  timeout: int = 600, launcher: list[str] | None = None) -> LmmsRun:
    """Run ``lmms-eval`` as a user would and read back what it wrote.

    ``launcher`` replaces the ``lmms-eval`` executable (e.g. ``accelerate launch ... -m lmms_eval``).
    lmms-eval exits 0 even when the evaluation failed, so callers assert on ``results``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [*(launcher or [str(BIN / "lmms-eval")]), *args, "--output_path", str(out_dir), "--log_samples"]
    proc = subprocess.run(
        cmd, cwd=cwd, env=offline_env(out_dir / "hf_home", **(env_extra or {})),
        capture_output=True, text=True, timeout=timeout,
    )
    found = sorted(out_dir.rglob("*_results.json"))
    results = json.loads(found[-1].read_text()) if found else None
    samples: dict[str, list[dict[str, Any]]] = {}
    for f in out_dir.rglob("*_samples_*.jsonl"):
        task = f.stem.split("_samples_", 1)[1]
        samples[task] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return LmmsRun(proc.returncode, proc.stdout + proc.stderr, results, samples)


@pytest.fixture(scope="session")
def tiny_llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinyllava import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"))


# ---- headless Chromium (tests marked `browser`) -----------------------------------------


def find_browser() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` found on ``PATH`` (Debian's packages), or None: a test can hide them via PATH."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def browser_required() -> bool:
    """Under CI (``CI=true``) or ``RSMMVP_REQUIRE_BROWSER=1`` a missing browser fails the browser tests."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("RSMMVP_REQUIRE_BROWSER") == "1"


NO_BROWSER = ("no headless Chromium on PATH (install it: `apt-get install -y chromium chromium-driver`, which "
              "`bash scripts/setup.sh` does when run as root)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium with a private profile; downloads go to ``browser.download_dir``.

    Without Chromium on ``PATH`` the browser tests are skipped, with one summary line at the end of the run,
    except under CI or ``RSMMVP_REQUIRE_BROWSER=1``, where they fail.
    """
    found = find_browser()
    if found is None:
        if browser_required():
            pytest.fail(f"the browser tests need headless Chromium: {NO_BROWSER}")
        pytest.skip(NO_BROWSER)
    chromium, chromedriver = found
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.download_dir = downloads
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: Any, page: Path, clear: bool = True) -> None:
    """Load a written page from disk (``clear``: with an empty ``localStorage``) and wait for ``window.rsmmvpReady``."""
    driver.get(page.resolve().as_uri())
    if clear:  # pages of equal data share a storage key: start each test clean
        driver.execute_script("localStorage.clear()")
        driver.refresh()
    assert driver.execute_script("return window.rsmmvpReady") is True


# ---- test tiers -----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--all-tiers", action="store_true",
                     help="run every tier (fast, e2e, browser): overrides the default `-m` of setup.cfg's addopts")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("all_tiers"):
        config.option.markexpr = ""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One loud line when browser tests were skipped for want of Chromium."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if NO_BROWSER in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"rsmmvp: {len(skipped)} browser tests SKIPPED: {NO_BROWSER}",
                                    yellow=True, bold=True)
