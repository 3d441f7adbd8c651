"""The browser tier on a machine without Chromium: skipped with one summary line, except under CI, where it fails.

The browser is looked up on ``PATH``, so these tests hide it by running pytest with a ``PATH`` that holds only the
venv's ``bin`` folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve()


@pytest.mark.browser
def test_browser_fixture_renders_a_page(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text("<!doctype html><title>t</title><p id='x'>rsmmvp</p>")
    browser.get(page.as_uri())
    assert browser.find_element("id", "x").text == "rsmmvp"


def _run_hidden(**env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "RSMMVP_REQUIRE_BROWSER")}
    env["PATH"] = str(Path(sys.executable).parent)  # no /usr/bin: no chromium, no chromedriver
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--all-tiers",
         f"{HERE}::test_browser_fixture_renders_a_page"],
        cwd=HERE.parent.parent, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.e2e
def test_without_a_browser_the_browser_tests_skip_with_one_summary_line() -> None:
    proc = _run_hidden()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 skipped" in proc.stdout
    lines = [ln for ln in proc.stdout.splitlines() if "browser tests SKIPPED" in ln]
    assert len(lines) == 1 and "apt-get install -y chromium chromium-driver" in lines[0], proc.stdout[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize("env", [{"CI": "true"}, {"RSMMVP_REQUIRE_BROWSER": "1"}])
def test_under_ci_a_missing_browser_fails(env: dict[str, str]) -> None:
    proc = _run_hidden(**env)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "1 error" in proc.stdout or "1 failed" in proc.stdout
    assert "need headless Chromium" in proc.stdout
