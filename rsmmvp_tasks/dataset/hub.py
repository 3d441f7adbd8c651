"""The Hugging Face hub side: where the published benchmark lives, fetching a repo, pushing a folder.

- :data:`HUB_REPO_ID`: the published RSMMVP data (the ``rsmmvp`` task's ``dataset_path``).
- :func:`resolve_source`: a local folder as is, else a hub dataset id fetched (or found in the
  local hub cache) with ``huggingface_hub.snapshot_download``. Offline with nothing cached, the
  error names the repo and the two ways out.
- :func:`push_folder`: create the dataset repo and upload a built folder. The token comes from
  the argument, ``HF_TOKEN`` or the stored ``huggingface-cli login``; it is never printed or logged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["HUB_REPO_ID", "HubSourceError", "push_folder", "resolve_source"]

#: the published benchmark (images from GeoChat_Instruct), as the rsmmvp task loads it
HUB_REPO_ID = "IVUlab/RSMMVP"


class HubSourceError(RuntimeError):
    """A hub dataset could not be fetched or found in the local cache."""


def resolve_source(path_or_id: str | os.PathLike[str]) -> Path:
    """A local path (returned as is) or a hub dataset id (returned as its local snapshot folder)."""
    local = Path(path_or_id).expanduser()
    if local.exists():
        return local
    repo_id = str(path_or_id)
    if repo_id.count("/") != 1 or repo_id.startswith((".", "/", "~")):
        raise FileNotFoundError(f"{repo_id}: no such file or folder, and not a hub dataset id of the form ORG/NAME")
    from huggingface_hub import snapshot_download

    logger.info("fetching hub dataset %s (or its cached snapshot)", repo_id)
    try:
        return Path(snapshot_download(repo_id=repo_id, repo_type="dataset"))
    except Exception as exc:  # offline, not cached, no access, no such repo
        raise HubSourceError(
            f"hub dataset {repo_id!r} could not be fetched and is not in the local hub cache "
            f"({type(exc).__name__}: {exc}). Fix: run once with network access (HF_HUB_OFFLINE unset) so it is "
            f"cached, or download a copy of the repository and pass its folder instead of the id."
        ) from exc


def push_folder(
    folder: str | os.PathLike[str], repo_id: str, *, private: bool = False, token: str | None = None
) -> str:
    """Upload ``folder`` to the dataset repo ``repo_id`` (created if needed); returns its URL."""
    from huggingface_hub import HfApi, get_token

    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise HubSourceError(
            "no Hugging Face token: set HF_TOKEN or run `huggingface-cli login` (the token is read, never printed)"
        )
    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    logger.info("uploading %s to the dataset repo %s", folder, repo_id)
    api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="Upload RSMMVP-format dataset (rsmmvp build)",
    )
    return str(url)
