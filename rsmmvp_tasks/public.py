"""What may leave this machine: local file paths reduced to the names that mean something elsewhere.

Whatever rsmmvp publishes (a dataset built for the hub, its card, a leaderboard pull request) names
files by their *file name*, never by where they sit here: ``/home/ana/scenes/LC08_x.TIF`` is
published as ``LC08_x.TIF``, ``pretrained=/srv/models/qwen2-vl-7b`` as ``pretrained=qwen2-vl-7b``
(the model's folder name). An absolute path tells strangers a user name and a folder layout, and
means nothing on their machine.

- :func:`public_name`: one value that is a path -> its last component (other text unchanged);
- :func:`strip_local_paths`: every absolute local path *inside* a text (``key=/a/b,other=1``), or in
  the strings of a JSON-like structure (dicts, lists), replaced by its last component;
- :func:`local_paths`: the absolute local paths a text still holds (what tests assert is empty).

An absolute local path is a POSIX path starting with ``/`` (not preceded by a letter, digit, ``:``
or ``/``, so ``https://host/x`` and ``a/b`` are not), a home path ``~/...``, or a Windows path
``C:\\...`` / ``C:/...``. URLs are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["local_paths", "public_name", "strip_local_paths"]

# a path component runs up to whitespace, a quote, or a separator of key=value lists (, ; =) or brackets
_COMPONENT = r"[^\s,;=\"'()\[\]{}<>|/\\]+"
_LOCAL_PATH = re.compile(
    rf"(?:(?<![\w:/.~])(?:~)?/(?:{_COMPONENT}/)*{_COMPONENT}/?"  # /abs/path, ~/path
    rf"|(?<![\w])[A-Za-z]:[\\/](?:{_COMPONENT}[\\/])*{_COMPONENT}[\\/]?)"  # C:\dir\file, C:/dir/file
)


def _last_component(path: str) -> str:
    parts = [p for p in re.split(r"[\\/]", path.rstrip("/\\")) if p and p != "~" and not re.fullmatch(r"[A-Za-z]:", p)]
    return parts[-1] if parts else ""


def public_name(value: str) -> str:
    """``value`` reduced to its file or folder name when it is a local path, else unchanged.

    >>> public_name("/home/ana/scenes/LC08_x.TIF"), public_name("C:\\\\data\\\\a.tif"), public_name("tiles/a.png")
    ('LC08_x.TIF', 'a.tif', 'tiles/a.png')
    """
    text = str(value)
    match = _LOCAL_PATH.fullmatch(text.strip())
    return _last_component(match.group(0)) if match else text


def strip_local_paths(value: Any) -> Any:
    """``value`` with every absolute local path inside its text replaced by the path's last component.

    Strings are rewritten; dicts (keys kept), lists and tuples are rebuilt with their items rewritten;
    anything else is returned as is.

    >>> strip_local_paths("pretrained=/srv/models/qwen2-vl,dtype=float32 see https://hf.co/x")
    'pretrained=qwen2-vl,dtype=float32 see https://hf.co/x'
    >>> strip_local_paths({"scene": "/home/u/a.tif", "window": [0, 0, 8, 8]})
    {'scene': 'a.tif', 'window': [0, 0, 8, 8]}
    """
    if isinstance(value, str):
        return _LOCAL_PATH.sub(lambda m: _last_component(m.group(0)) or m.group(0), value)
    if isinstance(value, Mapping):
        return {k: strip_local_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(strip_local_paths(v) for v in value)
    return value


def local_paths(text: str) -> list[str]:
    """The absolute local paths found in ``text`` (``[]`` when it may be published as is)."""
    return [m.group(0) for m in _LOCAL_PATH.finditer(str(text))]
