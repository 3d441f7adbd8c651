"""One writer per embedding cache: the lock ``rsmmvp embed`` holds for a whole run.

Two runs embedding into one cache at once would both see the same images pending and store them
twice. :func:`cache_lock` takes ``CACHE/.lock`` (a :mod:`filelock` lock: ``flock`` on POSIX, released
by the operating system when the process dies, so a killed run never leaves a stale lock) without
waiting, and records who holds it in ``CACHE/writer.json`` (pid, host, start time, command line).
A second run is refused with :class:`CacheLockedError` naming that holder.

In a multi-process run (``torchrun`` / ``accelerate launch``) only process 0 takes the lock; the
others write under it. Network file systems may not honour ``flock``: keep caches on a local disk.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rsmmvp_tasks.fileio import atomic_write_text
from rsmmvp_tasks.mining.store import CacheError

__all__ = ["LOCK_NAME", "WRITER_NAME", "CacheLockedError", "cache_lock", "lock_holder"]

LOCK_NAME = ".lock"
WRITER_NAME = "writer.json"


class CacheLockedError(CacheError):
    """Another run is writing to the cache (the message names its pid and host)."""


def lock_holder(cache: str | Path) -> str:
    """Who holds the lock of ``cache``, in words (from ``writer.json``; "unknown" when it says nothing)."""
    try:
        info = json.loads((Path(cache) / WRITER_NAME).read_text(encoding="utf-8"))
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["started"])))
        return f"pid {info['pid']} on host {info['host']}, since {started}: {info.get('command', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown (it is starting, or its writer.json was removed)"


@contextmanager
def cache_lock(cache: str | Path) -> Iterator[None]:
    """Hold the writer lock of ``cache`` (created if needed) for the ``with`` block.

    Raises :class:`CacheLockedError` at once when another process holds it.
    """
    from filelock import FileLock, Timeout

    cache = Path(cache)
    if cache.exists() and not cache.is_dir():
        raise CacheError(f"{cache} is a file; an embedding cache is a folder: give --out a new or existing folder")
    cache.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cache / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise CacheLockedError(
            f"{cache} is being written by another `rsmmvp embed` ({lock_holder(cache)}); wait for it to finish "
            "(rerunning afterwards resumes), or embed into another --out folder"
        ) from None
    writer = cache / WRITER_NAME
    try:
        atomic_write_text(writer, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                              "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])}))
        yield
    finally:
        try:
            writer.unlink()
        except FileNotFoundError:
            pass
        lock.release()
