"""What to tell a user when a model or dataset named by hub id cannot be loaded.

transformers and datasets fail with messages about URLs and ``preprocessor_config.json``; the user
needs to know whether the hub was asked at all (offline mode), that the name was not in the local
cache, and that a local folder works. :func:`not_loadable` says that in one line.
"""

from __future__ import annotations

from rsmmvp_tasks.hubaccess import hub_offline

__all__ = ["cause_of", "hub_offline", "not_loadable"]


def cause_of(exc: BaseException) -> str:
    """``"<ExceptionType>: <first line of its message>"``, to quote a library's error in ours."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def not_loadable(what: str, hub_id: str, exc: BaseException, download: str, local: str) -> str:
    """``"<what>: cannot load <hub_id>: <why> (<cause>). Download it once while online (<download>), or <local>"``."""
    cause = cause_of(exc)
    why = ("it is not in the local Hugging Face cache and offline mode is on (HF_HUB_OFFLINE)" if hub_offline()
           else "it was found neither in the local Hugging Face cache nor on the hub")
    return f"{what}: cannot load {hub_id!r}: {why} ({cause}). Download it once while online ({download}), or {local}"
