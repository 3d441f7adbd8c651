"""``rsmmvp leaderboard submit``: open a pull request adding a run to a hub dataset repo of results.

The run is validated as ``collect`` validates it (no ``--limit``/``--offset``, no incomplete pair, a
dataset fingerprint, readable metrics, samples that belong to it); then its results JSON and samples
JSONL are committed, in lmms-eval's layout (``<model>/<ts>_results.json``,
``<model>/<ts>_samples_<task>.jsonl``, so ``collect hf:ORG/NAME`` reads them back), with
``huggingface_hub.HfApi(endpoint=...).create_commit(..., create_pr=True)``: the repo's maintainers
merge it, nothing is written to the main branch.

- endpoint: the ``endpoint`` argument, else ``HF_ENDPOINT``, else huggingface.co;
- token: ``HF_TOKEN``, else the stored hub login (``hf auth login``). It is never printed, logged or
  written; a file that contains it is refused before anything is sent;
- ``dry_run``: prints what would be sent (files, sizes, commit message) and sends nothing;
- local paths stay local: what is sent (the files' text, the pull request's title and body) has every
  absolute path of this machine reduced to its last component (``pretrained=/srv/models/qwen2-vl`` ->
  ``pretrained=qwen2-vl``, the model's folder name), by :func:`rsmmvp_tasks.public.strip_local_paths`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import DataViolationError, ServiceError, UsageError
from rsmmvp_tasks.hubaccess import check_hub
from rsmmvp_tasks.public import strip_local_paths
from rsmmvp_tasks.secrets import redact
from rsmmvp_tasks.sharing.formatting import interval, pct
from rsmmvp_tasks.sharing.runs import Run, load_runs

__all__ = ["Submission", "prepare_submission", "public_bytes", "submit"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Submission:
    """What a submit sends: the files (local path -> path in the repo) and the commit's texts."""

    repo_id: str
    files: tuple[tuple[Path, str], ...]
    commit_message: str
    commit_description: str
    warnings: tuple[str, ...]

    def payload(self, local: Path) -> bytes:
        """What is sent for the file ``local``: its content with local paths reduced (:func:`public_bytes`)."""
        return public_bytes(local)

    def describe(self, endpoint: str) -> str:
        """A human-readable account of the submission (no secret in it)."""
        lines = [f"pull request to the dataset repo {self.repo_id} at {endpoint}",
                 f"commit message: {self.commit_message}", "files:"]
        lines += [f"  {local} -> {remote} ({len(self.payload(local))} bytes)" for local, remote in self.files]
        lines += ["description:"] + [f"  {line}" for line in self.commit_description.splitlines()]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def public_bytes(path: Path) -> bytes:
    """A results JSON or samples JSONL file as sent: every string with its absolute local paths reduced
    to their last component (:func:`~rsmmvp_tasks.public.strip_local_paths`), JSON kept valid."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        lines = [json.dumps(strip_local_paths(json.loads(line)), ensure_ascii=False) if line.strip() else line
                 for line in text.splitlines()]
        return ("\n".join(lines) + ("\n" if text.endswith("\n") else "")).encode("utf-8")
    return json.dumps(strip_local_paths(json.loads(text)), indent=2, ensure_ascii=False).encode("utf-8")


def _folder(run: Run) -> str:
    """The repo folder of a run: lmms-eval's sanitised model name, else the model's; a local model path
    (which lmms-eval sanitises to ``__srv__models__qwen2-vl``) gives its folder name (``qwen2-vl``)."""
    name = str(run.results.get("model_name_sanitized") or "") or run.model
    if name.startswith("__"):  # "/srv/models/qwen2-vl" with "/" -> "__"
        name = name.rstrip("_").rsplit("__", 1)[-1]
    name = strip_local_paths(name)
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "model"


def _describe_run(run: Run) -> str:
    d = run.details
    pa, qa = d["pair_accuracy"], d["question_accuracy"]
    return (f"{run.label} on {run.task} ({run.date}): pair accuracy {pct(pa['value'])} "
            f"{interval(pa['ci_low'], pa['ci_high'])}, question accuracy {pct(qa['value'])}, "
            f"unreadable {pct(d['unreadable_rate'])}, {d['n_pairs']} pairs; dataset fingerprint "
            f"{run.dataset_fingerprint}; lmms-eval {run.lmms_eval_version or '-'}, rsmmvp {run.rsmmvp_version or '-'}")


def prepare_submission(path: str | Path, repo_id: str, *, task: str | None = None) -> Submission:
    """Validate the run(s) at ``path`` like ``collect`` and list what would be committed."""
    if not _REPO_ID.match(repo_id):
        raise UsageError(f"--repo {repo_id!r}: give a hub dataset repo as ORG/NAME")
    runs = load_runs(path, task=task)
    if not runs:
        raise UsageError(f"{path}: no rsmmvp run to submit (no results file holds an rsmmvp task)")
    refused = [f"{r.source} [{r.task}]: {'; '.join(r.problems())}" for r in runs if r.problems()]
    if refused:
        raise DataViolationError("not submitted, the run does not measure the whole dataset:\n  "
                                 + "\n  ".join(refused) + "\nRerun it on the whole dataset (no --limit) and submit that")
    files: dict[Path, str] = {}
    warnings = []
    for r in runs:
        folder = _folder(r)
        files.setdefault(Path(r.source), f"{folder}/{Path(r.source).name}")
        if r.samples_source:
            files.setdefault(Path(r.samples_source), f"{folder}/{Path(r.samples_source).name}")
        else:
            warnings.append(f"{r.source} [{r.task}] has no samples file: boards cannot test its differences "
                            "(rerun lmms-eval with --log_samples)")
    labels = sorted({strip_local_paths(f"{r.label} on {r.task}") for r in runs})
    message = f"Add RSMMVP results: {', '.join(labels)}"
    if len(message) > 200:
        message = f"Add RSMMVP results: {len(runs)} runs"
    description = strip_local_paths(
        "\n".join(["Submitted with `rsmmvp leaderboard submit`.", ""] + [f"- {_describe_run(r)}" for r in runs]))
    return Submission(repo_id, tuple(files.items()), message, description, tuple(warnings))


def _token() -> str | None:
    from huggingface_hub import get_token

    return os.environ.get("HF_TOKEN") or get_token()


def submit(path: str | Path, repo_id: str, *, dry_run: bool = False, endpoint: str | None = None,
           task: str | None = None) -> tuple[Submission, str, Any]:
    """Validate and send (or with ``dry_run`` only describe) a submission.

    Returns ``(submission, description, pull request URL or None)``. Raises
    :class:`DataViolationError` for a partial run or a file containing the token, :class:`UsageError`
    without a token, :class:`ServiceError` when the hub cannot be reached or refuses.
    """
    submission = prepare_submission(path, repo_id, task=task)
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    token = _token()
    for local, _remote in submission.files:
        if token and (token in local.read_text(encoding="utf-8", errors="replace")
                      or token.encode() in submission.payload(local)):
            raise DataViolationError(f"{local} contains your Hugging Face token: not submitted. Remove it from the "
                                     "file (e.g. from --model_args) first")
    description = submission.describe(endpoint)
    if dry_run:
        found = "found" if token else "not found (set HF_TOKEN or log in before submitting)"
        return submission, f"{description}\ntoken: {found}\ndry run: nothing was sent", None
    if not token:
        raise UsageError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (the token is read, never shown)")
    check_hub("rsmmvp leaderboard submit", required=True, endpoint=endpoint)  # one probe, not a minute of retries
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=endpoint, token=token)
    operations = [CommitOperationAdd(path_in_repo=remote, path_or_fileobj=submission.payload(local))
                  for local, remote in submission.files]
    try:
        info = api.create_commit(repo_id=repo_id, repo_type="dataset", operations=operations,
                                 commit_message=submission.commit_message,
                                 commit_description=submission.commit_description, create_pr=True)
    except Exception as exc:  # offline, refused (401/403/404), unreachable
        status = getattr(getattr(exc, "response", None), "status_code", None)
        hint = {401: "the token was refused", 403: "the token may not open pull requests on this repo",
                404: f"the dataset repo {repo_id} does not exist at {endpoint} or the token cannot see it"}.get(status, "")
        raise ServiceError(redact(f"submitting to {repo_id} at {endpoint} failed ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''})" + (f": {hint}" if hint else ""),
                                  [token])) from None
    return submission, description, getattr(info, "pr_url", None)
