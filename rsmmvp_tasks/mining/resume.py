"""A resumable mine: the search's state saved after finished row blocks, picked up by the next run.

The search of :func:`~rsmmvp_tasks.mining.search.candidate_pairs` visits the pairs ``i < j`` row
block by row block (query chunk by query chunk for an approximate index); once every pair whose
first image is below row ``r`` is done, its state is the candidates kept so far (arrays) and a few
counters. :class:`Checkpoint` writes that state with ``r`` to one ``.npz`` file (atomically: a
temporary file renamed), at most every ``every`` seconds, and reads it back on the next run when
its *fingerprint* — the data's shape and a hash of sampled rows, the mining rule and the search
settings that change the result — matches; a checkpoint of other data or settings is ignored (and
replaced). The caller removes it once the search is complete.

A killed run therefore loses at most ``every`` seconds plus one row block of work; the resumed
search gives the same candidates as an uninterrupted one (tested with a failure injected after k
blocks).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["Checkpoint", "data_fingerprint"]

log = logging.getLogger(__name__)


def data_fingerprint(*arrays: Any, rows: int = 1024) -> str:
    """SHA-1 over the shapes of ``arrays`` (numpy or torch, 2-D) and up to ``rows`` evenly spaced rows of each."""
    import numpy as np

    h = hashlib.sha1()
    for x in arrays:
        h.update(repr(tuple(x.shape)).encode())
        sample = x[:: max(1, len(x) // rows)]  # sampled where the data lives: a GPU matrix is not copied whole
        sample = sample.detach().cpu().numpy() if hasattr(sample, "detach") else np.asarray(sample)
        h.update(np.ascontiguousarray(sample, dtype=np.float32).tobytes())
    return h.hexdigest()


class Checkpoint:
    """The state file of one mine (see the module docstring); ``path=None`` disables it."""

    def __init__(self, path: str | Path | None, fingerprint: dict[str, Any], every: float = 30.0) -> None:
        self.path = Path(path) if path is not None else None
        self.key = json.dumps(fingerprint, sort_keys=True, default=str)
        self.every = every
        self._last = time.monotonic()

    def load(self) -> tuple[int, dict[str, Any]] | None:
        """``(next_row, arrays)`` of a matching checkpoint, else ``None`` (missing, unreadable or of another run)."""
        import numpy as np

        if self.path is None or not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as z:
                if str(z["key"]) != self.key:
                    log.warning("ignoring the checkpoint %s: it is of other data or settings", self.path)
                    return None
                state = {k: z[k] for k in z.files if k not in ("key", "next_row")}
                return int(z["next_row"]), state
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the unreadable checkpoint %s (%s)", self.path, exc)
            return None

    def due(self) -> bool:
        """Whether ``every`` seconds have passed since the last save (or the start)."""
        return self.path is not None and time.monotonic() - self._last >= self.every

    def save(self, next_row: int, arrays: dict[str, Any]) -> None:
        """Write the state atomically (temporary file, then rename)."""
        import numpy as np

        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, key=np.asarray(self.key), next_row=np.asarray(next_row, np.int64), **arrays)
        os.replace(tmp, self.path)
        self._last = time.monotonic()

    def remove(self) -> None:
        """Delete the checkpoint (the search finished)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
