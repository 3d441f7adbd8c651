"""The Hugging Face hub side: where the published benchmark lives, fetching a repo, pushing a folder.

- :data:`HUB_REPO_ID`: the published RSMMVP data (the ``rsmmvp`` task's ``dataset_path``).
- :func:`resolve_source`: a local folder as is, else a shipped task name (``rsmmvp_mini``) as the
  dataset of its YAML, else a hub dataset id fetched (or found in the
  local hub cache) with ``huggingface_hub.snapshot_download``. Offline with nothing cached, the
  error names the repo and the two ways out.
- :func:`push_folder`: create the dataset repo and upload a built folder -- only one whose card states
  the licence of every image source (``rsmmvp build --license``/``--sources``). The token comes from
  the argument, ``HF_TOKEN`` or the stored ``hf auth login``; it is never printed or logged.
  Any failure (no token, offline, refused) is a :class:`HubSourceError` saying "not pushed" and why.

Errors: a path that does not exist and is not a hub id is :class:`SourceNotFoundError` (exit code 2);
a hub that cannot be reached or refuses is :class:`HubSourceError`, a
:class:`~rsmmvp_tasks.errors.ServiceError` (exit code 3).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rsmmvp_tasks.dataset.card import NOT_STATED, card_sources
from rsmmvp_tasks.dataset.task_yaml import TASK_YAML_DIR
from rsmmvp_tasks.dataset.tasknames import shipped_task_datasets, task_dataset
from rsmmvp_tasks.errors import InputError, ServiceError, UsageError
from rsmmvp_tasks.schema import BUILD_MANIFEST

logger = logging.getLogger(__name__)

__all__ = ["HUB_REPO_ID", "HubSourceError", "SourceNotFoundError", "push_folder", "resolve_source"]

#: the published benchmark (images from GeoChat_Instruct), as the rsmmvp task loads it
HUB_REPO_ID = "IVUlab/RSMMVP"


class HubSourceError(ServiceError):
    """The hub could not be reached or refused: a dataset not fetched nor cached, a push not done."""


class SourceNotFoundError(InputError, FileNotFoundError):
    """A local path that does not exist and is not a hub dataset id either."""


def resolve_source(path_or_id: str | os.PathLike[str]) -> Path:
    """A local path (returned as is), a shipped task name (``rsmmvp_mini``: the dataset its YAML names,
    :mod:`rsmmvp_tasks.dataset.tasknames`) or a hub dataset id (returned as its local snapshot folder)."""
    local = Path(path_or_id).expanduser()
    if local.exists():
        return local
    shipped = task_dataset(str(path_or_id))
    if shipped is not None and shipped != str(path_or_id):
        return resolve_source(shipped)
    repo_id = str(path_or_id)
    if repo_id.count("/") != 1 or repo_id.startswith((".", "/", "~")):
        raise SourceNotFoundError(
            f"{repo_id}: no such file or folder, not a shipped task name ({', '.join(shipped_task_datasets())}) "
            "and not a hub dataset id of the form ORG/NAME"
        )
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
    """Upload ``folder`` to the dataset repo ``repo_id`` (created if needed); returns its URL.

    Raises :class:`~rsmmvp_tasks.errors.UsageError` when the card does not state the licence of every
    image source, :class:`HubSourceError` ("not pushed: <why>; <what to do>") when there is no token or
    the hub cannot be reached or refuses; the message never contains the token.
    """
    from huggingface_hub import HfApi, get_token


    card = Path(folder) / "README.md"
    entries = card_sources(card.read_text(encoding="utf-8")) if card.is_file() else None
    unstated = [e.source for e in entries or [] if e.license == NOT_STATED]
    if entries is None or unstated:
        why = "records no licence per image source" if entries is None else f"states no licence for {unstated}"
        raise UsageError(
            f"not pushed to {repo_id}: the card {card} {why}; rebuild with `rsmmvp build --license ID` or "
            "`--sources FILE` (imagery is under its provider's licence, which is never assumed)"
        )
    retry = (
        f"the folder {folder} is complete; push it later with `hf upload {repo_id} {folder} "
        "--repo-type dataset` or rerun `rsmmvp build` with --push"
    )
    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise HubSourceError(
            "not pushed: no Hugging Face token: set HF_TOKEN or run `hf auth login` "
            f"(the token is read, never printed); {retry}"
        )
    try:
        api = HfApi(token=token)
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        logger.info("uploading %s to the dataset repo %s", folder, repo_id)
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="dataset",
            commit_message="Upload RSMMVP-format dataset (rsmmvp build)",
            # the build manifest and the local task YAML (absolute paths of this machine) stay local
            ignore_patterns=[BUILD_MANIFEST, f"{TASK_YAML_DIR}/*"],
        )
    except Exception as exc:  # offline, network, auth, refused: all "not pushed", with the reason
        reason = str(exc).replace(token, "<token>").splitlines()[0] if str(exc) else ""
        raise HubSourceError(f"not pushed to {repo_id}: {type(exc).__name__}: {reason}; {retry}") from exc
    return str(url)
