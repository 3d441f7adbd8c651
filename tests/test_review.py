"""``rsmmvp review``: the static annotation page, driven in headless Chromium, round-tripped to a dataset.

The browser tests use the ``browser`` fixture of ``conftest.py``: Chromium and its driver (Debian:
``apt-get install -y chromium chromium-driver``) and the ``selenium`` package; ``.ci/run`` installs them.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import open_page
from mined_pairs import annotation, make_pairs

from rsmmvp_tasks import UsageError, read_pairs, rows_from_annotations
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.mining.review import DATA_PLACEHOLDER, write_review_page


def page_json(page: Path) -> dict[str, Any]:
    """The data object embedded in a written page."""
    html = page.read_text(encoding="utf-8")
    assert DATA_PLACEHOLDER not in html
    start = html.index('<script id="rsmmvp-data" type="application/json">') + len('<script id="rsmmvp-data" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


# ---- without a browser ----------------------------------------------------------------------


def test_cli_writes_self_contained_page_and_template(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, n=3)
    out = tmp_path / "review"
    assert main(["review", str(pairs), "--out", str(out), "--limit", "2", "--thumb-size", "64"]) == 0
    data = page_json(out / "index.html")
    assert [p["rank"] for p in data["pairs"]] == [1, 2]
    assert data["limited"] is True and data["total_pairs"] == 3
    assert data["pairs_sha256"] == read_pairs(pairs).sha256
    html = (out / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched from the network
    src = data["pairs"][0]["src_a"]
    assert src.startswith("data:image/jpeg;base64,")
    from io import BytesIO

    from PIL import Image

    thumb = Image.open(BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert max(thumb.size) == 64  # downscaled from 320x240
    template = (out / "annotations_template.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(template) == 1 + 2


def test_link_images_and_unreadable_image(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pairs = make_pairs(tmp_path, n=2)
    (tmp_path / "img/1b.png").write_bytes(b"not an image")
    out = tmp_path / "site" / "review"
    with caplog.at_level(logging.WARNING):
        linked = page_json(write_review_page(pairs, out, embed_images=False))
        embedded = page_json(write_review_page(pairs, out, embed_images=True))
    assert linked["pairs"][0]["src_a"] == "../../img/0a.png"
    assert (out / linked["pairs"][0]["src_a"]).resolve() == (tmp_path / "img/0a.png").resolve()
    bad = embedded["pairs"][1]
    assert bad["src_b"] is None and "unreadable image" in bad["error_b"]
    assert bad["src_a"].startswith("data:image/jpeg")  # the other image of that pair is still shown
    assert "pair rank 2, image B: unreadable image" in caplog.text
    with pytest.raises(UsageError, match=r"limit \(--limit\) must be a positive"):
        write_review_page(pairs, out, limit=0)


MARKUP = '<!-- </script><script>window.pwned = 1</script> & "q" \u2028 \\ end'


def pairs_with_markup(root: Path) -> Path:
    """A PAIRS table whose extra column and image ids hold what breaks a naive <script> JSON payload."""
    import pandas as pd

    pairs = make_pairs(root, n=2)
    frame = pd.read_parquet(pairs)
    frame["note"] = [MARKUP, "<b>bold</b> & <!--"]
    frame.to_parquet(pairs)
    return pairs


def test_markup_in_pairs_values_keeps_the_page_data_intact(tmp_path: Path) -> None:
    """Issue 9.15: `<!--`, `</script>`, `&` in any PAIRS value are escaped so the JSON reads back exactly."""
    page = write_review_page(pairs_with_markup(tmp_path), tmp_path / "review")
    html = page.read_text(encoding="utf-8")
    start = html.index('<script id="rsmmvp-data" type="application/json">')
    payload = html[start:html.index("</script>", start)]
    assert "<!--" not in payload and "</" not in payload.split(">", 1)[1]
    data = page_json(page)
    assert data["pairs"][0]["extra"]["note"] == MARKUP
    assert data["pairs"][1]["extra"]["note"] == "<b>bold</b> & <!--"


def png_bomb(path: Path, side: int = 100_000) -> Path:
    """A tiny PNG whose header claims ``side`` x ``side`` pixels (far above PIL's decompression-bomb limit)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_gets_a_message_on_its_card(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 9.15: an image with more pixels than PIL allows does not crash `rsmmvp review`."""
    pairs = make_pairs(tmp_path, n=2)
    png_bomb(tmp_path / "img" / "1b.png")
    with caplog.at_level(logging.WARNING):
        assert main(["review", str(pairs), "--out", str(tmp_path / "review")]) == 0
    bad = page_json(tmp_path / "review" / "index.html")["pairs"][1]
    assert bad["src_b"] is None and "too large to show safely" in bad["error_b"]
    assert bad["src_a"].startswith("data:image/jpeg")
    assert "pair rank 2, image B: image too large" in caplog.text


def test_review_user_errors_exit_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 8.3: `rsmmvp review /nonexistent.parquet`, a table that is not PAIRS, a bad --limit."""
    code = main(["review", str(tmp_path / "nonexistent.parquet"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "PAIRS table not found" in err and "nonexistent.parquet" in err
    (tmp_path / "questions.csv").write_text("index,question\n1,Is it?\n")
    code = main(["review", str(tmp_path / "questions.csv"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "not a PAIRS table, missing column(s)" in err
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    code = main(["review", str(tmp_path / "broken.parquet"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot be read as a PAIRS table" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:
        main(["review", str(tmp_path / "x.parquet"), "--out", str(tmp_path / "r"), "--limit", "0"])
    assert exit_.value.code == 2 and "--limit" in capsys.readouterr().err


# ---- in the browser -------------------------------------------------------------------------


def card(driver: Any, rank: int) -> Any:
    return driver.find_element("css selector", f"#pair-{rank}")


def field(driver: Any, rank: int, name: str) -> Any:
    return card(driver, rank).find_element("css selector", f"[data-field={name}]")


def fill(driver: Any, rank: int, question: str, a: str, b: str) -> None:
    for name, text in (("question", question), ("option_a", a), ("option_b", b)):
        field(driver, rank, name).send_keys(text)


def choose_pattern(driver: Any, rank: int, visible_text_start: str) -> None:
    from selenium.webdriver.support.ui import Select

    select = Select(field(driver, rank, "pattern"))
    select.select_by_visible_text(next(o.text for o in select.options if o.text.startswith(visible_text_start)))


@pytest.mark.browser
def test_annotate_in_browser_then_build_a_valid_dataset(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    pairs = make_pairs(tmp_path, n=3)
    page = write_review_page(pairs, tmp_path / "review")
    open_page(browser, page)
    assert len(browser.find_elements("css selector", "section.pair")) == 3
    assert not browser.get_log("browser")  # no JavaScript error

    # pair 1: by mouse; picking image A's answer fills image B's with the opposite
    fill(browser, 1, "Is there a red building?", "Yes", "No")
    browser.find_element("css selector", "#ans-1-a-B").click()
    assert browser.find_element("css selector", "#ans-1-b-A").is_selected()
    choose_pattern(browser, 1, "Presence")
    assert card(browser, 1).get_attribute("data-status") == "done"

    # pair 2: equal answers raise the warning and keep the pair incomplete, until fixed
    fill(browser, 2, "Where is the red building?", "Left", "Right")
    browser.find_element("css selector", "#ans-2-a-A").click()
    warning = card(browser, 2).find_element("css selector", "[data-role=same-answer]")
    assert not warning.is_displayed()
    browser.find_element("css selector", "#ans-2-b-A").click()
    assert warning.is_displayed() and "same answer" in warning.text
    choose_pattern(browser, 2, "Positional")
    assert card(browser, 2).get_attribute("data-status") == "incomplete"
    # keyboard: Esc leaves the text field, "1" sets image A -> A and image B -> B
    field(browser, 2, "question").send_keys(Keys.ESCAPE)
    browser.switch_to.active_element.send_keys("1")
    assert browser.find_element("css selector", "#ans-2-b-B").is_selected()
    assert not warning.is_displayed()
    assert card(browser, 2).get_attribute("data-status") == "done"

    # pair 3: "j" moves to it, "s" skips it
    browser.switch_to.active_element.send_keys("j")
    assert "current" in card(browser, 3).get_attribute("class")
    browser.switch_to.active_element.send_keys("s")
    assert field(browser, 3, "skip").is_selected()
    assert "2 done" in browser.find_element("css selector", "#progress").text

    browser.save_screenshot(str(tmp_path / "review.png"))
    assert (tmp_path / "review.png").stat().st_size > 10_000

    # a reload loses nothing (localStorage)
    open_page(browser, page, clear=False)
    assert field(browser, 2, "option_b").get_attribute("value") == "Right"
    assert field(browser, 3, "skip").is_selected()

    exported = json.loads(browser.execute_script("return window.rsmmvpExport()"))
    assert exported["pairs_sha256"] == read_pairs(pairs).sha256
    assert [a["pair_rank"] for a in exported["annotations"]] == [1, 2, 3]

    # the download button writes the same annotations
    browser.find_element("css selector", "#download").click()
    target = browser.download_dir / "annotations.json"
    for _ in range(50):
        if target.exists():
            break
        time.sleep(0.1)
    downloaded = json.loads(target.read_text())
    assert downloaded["annotations"] == exported["annotations"]

    rows = rows_from_annotations(pairs, target)
    assert [(r["pair_id"], r["answer"], r["pattern"]) for r in rows] == [
        ("pair-0001", "B", "presence"), ("pair-0001", "A", "presence"),
        ("pair-0002", "A", "position"), ("pair-0002", "B", "position"),
    ]
    assert rows[2]["question"] == "Where is the red building?" and rows[2]["options"] == ["Left", "Right"]

    from rsmmvp_tasks.dataset.build import build_dataset
    from rsmmvp_tasks.dataset.validate import validate_dataset

    built = build_dataset(rows, tmp_path / "dataset")
    report = validate_dataset(built)
    assert report.ok, report


@pytest.mark.browser
def test_import_continues_previous_work(browser: Any, tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, n=2)
    page = write_review_page(pairs, tmp_path / "review")
    open_page(browser, page)
    previous = {"pairs_sha256": read_pairs(pairs).sha256,
                "annotations": [annotation(2, pattern="count", question="How many buildings?", options=["0", "1"],
                                           answer_a="A", answer_b="B"),
                                annotation(7)]}  # rank 7 is not on this page
    result = browser.execute_script("return window.rsmmvpImport(arguments[0])", json.dumps(previous))
    assert result == {"imported": 1, "unmatched": 1}
    assert "did not match" in browser.find_element("css selector", "#notice").text
    assert field(browser, 2, "question").get_attribute("value") == "How many buildings?"
    assert field(browser, 2, "pattern").get_attribute("value") == "count"
    assert browser.find_element("css selector", "#ans-2-b-B").is_selected()
    assert card(browser, 1).get_attribute("data-status") == "todo"
    # the file button path: the hidden <input type=file> takes a file
    (tmp_path / "prev.json").write_text(json.dumps({"annotations": [annotation(1, skip=True)]}))
    browser.find_element("css selector", "#import-file").send_keys(str(tmp_path / "prev.json"))
    for _ in range(50):
        if field(browser, 1, "skip").is_selected():
            break
        time.sleep(0.1)
    assert field(browser, 1, "skip").is_selected()


@pytest.mark.browser
def test_images_show_embedded_and_linked(browser: Any, tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path, n=2)
    (tmp_path / "img/1b.png").write_bytes(b"not an image")
    for embed in (True, False):
        page = write_review_page(pairs, tmp_path / f"review-{embed}", embed_images=embed, thumb_size=160)
        open_page(browser, page)
        img = card(browser, 1).find_element("css selector", "figure img")
        for _ in range(50):
            if browser.execute_script("return arguments[0].complete", img):
                break
            time.sleep(0.1)
        width = browser.execute_script("return arguments[0].naturalWidth", img)
        assert width == (160 if embed else 320)  # embedded: the 160 px thumbnail; linked: the 320 px file
        missing = card(browser, 2).find_elements("css selector", ".missing")
        if embed:  # the unreadable image is reported on its card; linked, the browser shows it broken
            assert len(missing) == 1 and "unreadable image" in missing[0].text


@pytest.mark.browser
def test_page_with_markup_in_its_data_runs(browser: Any, tmp_path: Path) -> None:
    """Issue 9.15 in the browser: the page is not blank, no script from the data runs, the text shows as text."""
    page = write_review_page(pairs_with_markup(tmp_path), tmp_path / "review")
    open_page(browser, page)
    assert not browser.get_log("browser")
    assert browser.execute_script("return window.pwned === undefined") is True
    assert len(browser.find_elements("css selector", "section.pair")) == 2
    assert "<b>bold</b>" in card(browser, 2).text
