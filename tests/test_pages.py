"""rsmmvp_tasks.pages: the static pages' templates filled with the shared script, style and JSON data.

Fast tier: the data round-trips whatever markup it holds, a value spelling a placeholder stays data,
broken templates are refused. e2e: a non-editable install ships the shared files and renders every page.
The pages themselves are driven in Chromium by test_review.py, test_human.py and test_leaderboard.py.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import offline_env
from installs import install_checkout

from rsmmvp_tasks.human import page as human_page
from rsmmvp_tasks.mining import review
from rsmmvp_tasks.pages import COMMON_SCRIPT_PLACEHOLDER, COMMON_STYLE_PLACEHOLDER, render_page, script_json
from rsmmvp_tasks.sharing import render as board_render

#: (package, template, data placeholder, id of the data's <script> element, uses the shared script and style)
PAGES = [
    ("rsmmvp_tasks.mining", review.TEMPLATE_NAME, review.DATA_PLACEHOLDER, "rsmmvp-data", True),
    ("rsmmvp_tasks.human", human_page.TEMPLATE_NAME, human_page.DATA_PLACEHOLDER, "rsmmvp-human-data", True),
    ("rsmmvp_tasks.sharing", board_render.TEMPLATE_NAME, board_render.DATA_PLACEHOLDER, "rsmmvp-board", False),
]
#: markup a data value may hold: each would end the data's element, open a comment or break a JS string
NASTY = "a </script><script>alert(1)</script> <!-- <b>&amp;</b> --> \u2028\u2029 ünï \\ \" '"


def data_in(html: str, element_id: str) -> object:
    """The JSON of ``<script id=element_id>``, cut where an HTML parser ends the element."""
    opening = f'<script id="{element_id}" type="application/json">'
    start = html.index(opening) + len(opening)
    return json.loads(html[start:html.index("</script>", start)])


@pytest.mark.parametrize(("package", "template", "placeholder", "element", "shared"), PAGES)
def test_data_round_trips_whatever_markup_it_holds(package: str, template: str, placeholder: str, element: str,
                                                   shared: bool) -> None:
    data = {"items": [{"question": NASTY, "options": [COMMON_SCRIPT_PLACEHOLDER, placeholder]}], "n": 3}
    html = render_page(package, template, placeholder, data)
    assert data_in(html, element) == data  # the data placeholder's text inside the data stays text
    assert html.count(COMMON_SCRIPT_PLACEHOLDER) == 1  # the copy inside the data: the template's own was filled
    assert COMMON_STYLE_PLACEHOLDER not in html
    assert ("var rsmmvpPage" in html) == shared and ("#zoom.open" in html) == shared
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)  # nothing fetched from the network


def test_script_json_escapes_markup_and_refuses_non_finite_floats() -> None:
    text = script_json({"v": NASTY})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"v": NASTY}
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError):
            script_json({"v": bad})  # JSON.parse would refuse the page


def test_a_broken_template_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fake_pages"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "none.html").write_text("<script>/* no data */</script>")
    (package / "twice.html").write_text(f"<script>{COMMON_SCRIPT_PLACEHOLDER}{COMMON_SCRIPT_PLACEHOLDER}</script>__D__")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RuntimeError, match="exactly once"):
        render_page("fake_pages", "none.html", "__D__", {})
    with pytest.raises(RuntimeError, match="at most once"):
        render_page("fake_pages", "twice.html", "__D__", {})


@pytest.mark.e2e
def test_a_non_editable_install_renders_every_page(tmp_path: Path) -> None:
    site = install_checkout(tmp_path / "site")
    code = (
        "import json, sys, rsmmvp_tasks.pages as p\n"
        "print(p.__file__)\n"
        f"for package, template, placeholder, _, _ in {[page[:3] + (None, None) for page in PAGES]!r}:\n"
        "    html = p.render_page(package, template, placeholder, {'items': []})\n"
        "    print(json.dumps([template, 'var rsmmvpPage' in html, '#zoom.open' in html, '__RSMMVP' in html]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=offline_env(tmp_path / "hf", PYTHONPATH=str(site)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(str(site)), lines[0]  # the installed copy, not the checkout
    rendered = {row[0]: row[1:] for row in map(json.loads, lines[1:])}
    assert rendered == {review.TEMPLATE_NAME: [True, True, False], human_page.TEMPLATE_NAME: [True, True, False],
                        board_render.TEMPLATE_NAME: [False, False, False]}
