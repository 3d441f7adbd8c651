"""Building an RSMMVP-format dataset folder from contract rows, raw layouts or annotations.

``build_dataset(rows, out_dir)`` validates first (nothing is written if any violation is
found: :class:`ValidationFailed` carries the full report), then writes::

    out_dir/data/test-00000-of-00001.parquet   image bytes embedded (no path to a file left behind)
    out_dir/disk/                              datasets.save_to_disk copy (load_from_disk)
    out_dir/README.md                          dataset card (rsmmvp_tasks.dataset.card)
    out_dir/.rsmmvp-build.json                 the files this build wrote, with their sha256 (not pushed)

``datasets.load_dataset(str(out_dir))`` reads it through the card's ``configs``; so does the hub
after ``rsmmvp build ... --push ORG/NAME``.

What is written may be published, so it names files, never where they sit on this machine: the
image's ``path``, and every absolute local path in the ``source``, ``encoders`` and ``imagery``
columns (a scene ``/home/.../scene.tif`` -> ``scene.tif``), are reduced to their last component
(:func:`rsmmvp_tasks.public.strip_local_paths`); the card, rendered from those rows, holds none either.
The card records the licence of each image source (:mod:`rsmmvp_tasks.dataset.card`); a source of
the data that its licence table leaves out is a violation (``source_unlicensed``), nothing written.

Nothing of anyone else's is lost, and no half-written folder is ever left in place:

- ``out_dir`` must be absent, empty, or the output of an earlier build holding only the files that
  build wrote, each as it wrote it (its ``.rsmmvp-build.json`` records their sha256, through
  :mod:`rsmmvp_tasks.fileio`'s written-file manifests): a file added by hand, or one edited since (a
  curated dataset card), is refused with :class:`OutputNotEmptyError` unless ``overwrite=True``
  (``--overwrite``), which replaces the folder;
- the whole folder is written to ``.<name>.rsmmvp-tmp-<pid>`` beside ``out_dir`` and swapped in at
  the end (two renames), so a build killed at any point leaves the earlier output as it was; the next
  build removes the leftovers of a killed one (and puts an earlier output back if the kill fell
  between the two renames).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsmmvp_tasks.dataset.card import CardInfo, render_card
from rsmmvp_tasks.dataset.validate import (
    ValidationReport,
    card_violations,
    validate_dataset,
)
from rsmmvp_tasks.errors import DataViolationError, UsageError
from rsmmvp_tasks.fileio import file_sha256, not_owned, read_manifest, write_manifest
from rsmmvp_tasks.imagery.provenance import decode_rows
from rsmmvp_tasks.public import strip_local_paths
from rsmmvp_tasks.schema import BUILD_MANIFEST, OPTIONAL_COLUMNS, PAIR_SIZE, PARQUET_NAME, features
from rsmmvp_tasks.values import first_few

logger = logging.getLogger(__name__)

__all__ = [
    "BUILD_MANIFEST",
    "PUBLIC_TEXT_COLUMNS",
    "OutputNotEmptyError",
    "ValidationFailed",
    "build_dataset",
    "build_from_raw",
    "check_output_dir",
    "rows_to_dataset",
]

#: the file, inside a built folder, listing the files the build wrote (how a rebuild knows its own output)

#: text columns whose absolute local paths are reduced to file names before anything is written
PUBLIC_TEXT_COLUMNS: tuple[str, ...] = ("source", "encoders", "imagery")

_STAGING = ".rsmmvp-tmp-"
_RETIRED = ".rsmmvp-old-"


class ValidationFailed(DataViolationError):
    """The rows break the contract; ``.report`` lists every violation (exit code 1)."""

    def __init__(self, report: ValidationReport, context: str = "the data breaks the RSMMVP contract") -> None:
        summary = (
            f"{context} ({report.n_rows} rows, {report.n_pairs} pairs, {len(report.violations)} violation(s)):"
        )
        super().__init__("\n".join([summary, *(v.format() for v in report.violations)]))
        self.report = report


class OutputNotEmptyError(UsageError):
    """The output folder holds files that no earlier build wrote (exit code 2)."""


def _image_bytes(image: Any) -> dict[str, Any]:
    """Any accepted image form -> ``{"bytes": ..., "path": <file name or None>}`` (bytes embedded)."""
    import io

    from PIL import Image

    if isinstance(image, dict):
        if image.get("bytes"):
            return {"bytes": image["bytes"], "path": Path(image["path"]).name if image.get("path") else None}
        image = image.get("path")
    if isinstance(image, (bytes, bytearray)):
        return {"bytes": bytes(image), "path": None}
    if isinstance(image, Image.Image):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return {"bytes": buf.getvalue(), "path": None}
    path = Path(str(image))
    return {"bytes": path.read_bytes(), "path": path.name}


def rows_to_dataset(rows: list[dict[str, Any]]) -> Any:
    """Contract rows -> a :class:`datasets.Dataset` with the contract features, sorted by index.

    Images are embedded as bytes under their file name; the :data:`PUBLIC_TEXT_COLUMNS` hold no absolute
    local path (each reduced to its last component)."""
    import datasets
    from tqdm.auto import tqdm

    records = []
    ordered = sorted(rows, key=lambda r: int(r["index"]))
    for row in tqdm(ordered, desc="reading images", unit="img", disable=len(ordered) < 500):
        record = {k: row.get(k) for k in ("index", "pair_id", "question", "options", "answer", "pattern")}
        record["index"] = int(record["index"])
        record["pair_id"] = str(record["pair_id"])
        record["options"] = [str(o) for o in record["options"]]
        record["image"] = _image_bytes(row["image"])
        for column in OPTIONAL_COLUMNS:
            value = row.get(column)
            record[column] = strip_local_paths(value) if column in PUBLIC_TEXT_COLUMNS else value
        records.append(record)
    return datasets.Dataset.from_list(records, features=features())


def _written_files(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def check_output_dir(out: Path, *, overwrite: bool = False) -> None:
    """Refuse ``out`` unless a build may replace it (see the module docstring).

    Raises :class:`OutputNotEmptyError` naming what is in the way and the ``--overwrite`` way out.
    """
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise OutputNotEmptyError(f"--out {out}: is a file, not a folder; choose a folder path")
    present = _written_files(out)
    if not present or overwrite:
        return
    fix = "choose another --out, move those files away, or pass --overwrite to replace the whole folder"
    written = read_manifest(out, BUILD_MANIFEST)
    if written is None:
        shown = first_few(present, 5)
        raise OutputNotEmptyError(
            f"--out {out}: the folder is not empty and is not the output of an earlier `rsmmvp build` "
            f"(no readable {BUILD_MANIFEST}); it holds {shown}. Nothing written; {fix}"
        ) from None
    foreign = [f for f in present if f not in written and f != BUILD_MANIFEST]
    if foreign:
        shown = first_few(foreign, 5)
        raise OutputNotEmptyError(
            f"--out {out}: holds files an earlier build did not write: {shown}. A rebuild replaces the whole "
            f"folder; nothing written; {fix}"
        )
    changed = not_owned(out, [f for f in present if f != BUILD_MANIFEST], BUILD_MANIFEST)
    if changed:
        shown = first_few(changed, 5)
        raise OutputNotEmptyError(
            f"--out {out}: {shown}: a rebuild would replace the edit (copy it into --description/--attribution, "
            f"or keep the file elsewhere); nothing written; {fix}"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _recover(out: Path) -> None:
    """Clean up after a build killed mid-way: restore a retired output, drop dead staging folders."""
    for leftover in sorted(out.parent.glob(f".{out.name}{_RETIRED}*")) + sorted(
        out.parent.glob(f".{out.name}{_STAGING}*")
    ):
        try:
            pid = int(leftover.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if _pid_alive(pid) and pid != os.getpid():
            continue  # another build at work
        if _RETIRED in leftover.name and not out.exists():
            logger.warning("restoring %s from %s (a build was killed while swapping it in)", out, leftover)
            leftover.rename(out)
        else:
            logger.info("removing %s, left by a killed build", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def _write_extra(folder: Path, extra_files: Mapping[str, str | bytes]) -> None:
    for relative, content in extra_files.items():
        target = folder / relative
        if Path(relative).is_absolute() or ".." in Path(relative).parts or target.exists():
            raise UsageError(f"extra file {relative!r}: must be a new path inside the output folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def build_dataset(
    rows: list[dict[str, Any]],
    out_dir: str | Path,
    *,
    card: CardInfo | None = None,
    pair_size: int = PAIR_SIZE,
    overwrite: bool = False,
    extra_files: Mapping[str, str | bytes] | None = None,
) -> Any:
    """Validate ``rows``, then write the dataset folder (see the module docstring); returns the Dataset.

    ``extra_files`` (relative path -> text or bytes) are written into the folder in the same swap and
    recorded as this build's output (e.g. a task YAML), so a rebuild replaces them too.
    Raises :class:`ValidationFailed` (nothing written) or :class:`OutputNotEmptyError`.
    """
    out = Path(out_dir)
    _recover(out)
    check_output_dir(out, overwrite=overwrite)
    rows = decode_rows(rows)  # 16-bit/float/multiband rasters -> the 8-bit PNG the encoders saw (imagery.provenance)
    report = validate_dataset(rows, pair_size=pair_size)
    if not report.ok:
        raise ValidationFailed(report, context="nothing written: the data breaks the RSMMVP contract")
    ds = rows_to_dataset(rows)
    card_text = render_card(ds, card or CardInfo())
    unlicensed = card_violations(card_text, ds, where="the card")
    if unlicensed:
        report = ValidationReport(report.n_rows, report.n_pairs, unlicensed)
        raise ValidationFailed(report, context="nothing written: the card's licence table leaves out a source")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}{_STAGING}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        (staging / PARQUET_NAME).parent.mkdir(parents=True)
        ds.to_parquet(str(staging / PARQUET_NAME))
        ds.save_to_disk(str(staging / "disk"))
        (staging / "README.md").write_text(card_text, encoding="utf-8")
        _write_extra(staging, extra_files or {})
        write_manifest(staging, {f: file_sha256(staging / f) for f in _written_files(staging)}, BUILD_MANIFEST)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote %d rows (%d pairs) to %s", len(ds), report.n_pairs, out)
    return ds


def _swap_in(staging: Path, out: Path) -> None:
    """Put the finished ``staging`` folder at ``out``; an earlier ``out`` is removed only afterwards."""
    retired = out.parent / f".{out.name}{_RETIRED}{os.getpid()}"
    if out.exists() or out.is_symlink():
        out.rename(retired)
    staging.rename(out)
    if retired.exists():
        shutil.rmtree(retired)


def build_from_raw(
    raw: str | Path,
    out_dir: str | Path,
    *,
    card: CardInfo | None = None,
    pair_size: int = PAIR_SIZE,
    table: str | Path | None = None,
    overwrite: bool = False,
) -> Any:
    """A raw MMVP-style layout (folder or hub id) -> a validated dataset folder (see :func:`build_dataset`)."""
    from rsmmvp_tasks.dataset.hub import resolve_source
    from rsmmvp_tasks.dataset.raw import read_raw

    rows = read_raw(resolve_source(raw), pair_size=pair_size, table=table)
    return build_dataset(rows, out_dir, card=card, pair_size=pair_size, overwrite=overwrite)
