r"""The static pages' one way to be rendered: a packaged template, the shared script and style, JSON data.

The pages of ``rsmmvp review`` (:mod:`rsmmvp_tasks.mining.review`), ``rsmmvp human``
(:mod:`rsmmvp_tasks.human.page`) and ``rsmmvp leaderboard render`` (:mod:`rsmmvp_tasks.sharing.render`)
are each one self-contained HTML file (no server, no network: they work from ``file://``). Each is a
template packaged next to its module; :func:`render_page` fills it:

- :data:`COMMON_SCRIPT_PLACEHOLDER`, if the template has it, becomes ``common.js`` of this package:
  ``rsmmvpPage.notice``, ``rsmmvpPage.store`` (progress in ``localStorage``) and
  ``rsmmvpPage.wireExportImport`` (the JSON download via a ``Blob`` and the import via a ``FileReader``);
- :data:`COMMON_STYLE_PLACEHOLDER`, if the template has it, becomes ``common.css`` of this package
  (the sticky top bar, progress bar, buttons, notice line, key caps, zoom overlay);
- the template's data placeholder (exactly once) becomes the page's data as :func:`script_json`.

Both shared files are inlined, not linked, so a page stays one file that can be moved or sent.

The data sits in a ``<script type="application/json">`` element and any value may hold ``</script>``,
``<!--`` or ``&``: :func:`script_json` writes ``<``, ``>`` and ``&`` as ``\u003c``, ``\u003e``,
``\u0026`` (and U+2028/U+2029 escaped), so the HTML parser never sees markup in it and ``JSON.parse``
reads back exactly the values. JSON has no NaN or infinity: such a float is refused (``ValueError``)
rather than written into a page that would not load; callers map them to ``None`` first.

A template that lacks its data placeholder, has a placeholder twice, or a shared file that would
close its element early is a packaging bug: :class:`RuntimeError`.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

__all__ = ["COMMON_SCRIPT_PLACEHOLDER", "COMMON_STYLE_PLACEHOLDER", "render_page", "script_json"]

#: where a template receives ``common.js`` (inside its own ``<script>`` element)
COMMON_SCRIPT_PLACEHOLDER = "/*__RSMMVP_COMMON_JS__*/"
#: where a template receives ``common.css`` (inside its ``<style>`` element)
COMMON_STYLE_PLACEHOLDER = "/*__RSMMVP_COMMON_CSS__*/"

#: characters written as JSON \u escapes inside a page's <script> element
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
#: what would end the element a shared file is inlined into
_CLOSING_TAG = re.compile(r"</(script|style)", re.IGNORECASE)


def script_json(data: Any) -> str:
    """``data`` as JSON safe to place inside a ``<script>`` element (see the module docstring)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    for char, escape in _SCRIPT_ESCAPES.items():
        text = text.replace(char, escape)  # these characters occur only inside JSON strings, where \u escapes are exact
    return text


def _shared(name: str) -> str:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    if _CLOSING_TAG.search(text):
        raise RuntimeError(f"rsmmvp_tasks/pages/{name} must not contain a closing </script> or </style> tag")
    return text


def render_page(package: str, template_name: str, data_placeholder: str, data: Any) -> str:
    """The page ``template_name`` packaged in ``package``, shared script/style inlined, ``data`` at ``data_placeholder``.

    The shared files go in first and the data last, so a data value that spells a placeholder stays data.
    """
    page = resources.files(package).joinpath(template_name).read_text(encoding="utf-8")
    for placeholder, name in ((COMMON_SCRIPT_PLACEHOLDER, "common.js"), (COMMON_STYLE_PLACEHOLDER, "common.css")):
        count = page.count(placeholder)
        if count > 1:
            raise RuntimeError(f"{template_name} must contain {placeholder} at most once, found {count}")
        if count:
            page = page.replace(placeholder, _shared(name))
    if page.count(data_placeholder) != 1:
        raise RuntimeError(f"{template_name} must contain {data_placeholder} exactly once")
    return page.replace(data_placeholder, script_json(data))
