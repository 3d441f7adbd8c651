"""What a person needs to see of each pair a model got wrong: both images, the question, the options
as text, the right answers and, per option order, what the model chose and said.

Two sources, both optional beyond the samples:

- **the samples file** of the run (``Run.samples_source``, read with
  :func:`~rsmmvp_tasks.sharing.runs.read_sample_records`): one record per reply, with its logged
  prompt, its raw reply and the letter read from it; a circular run's record also carries
  ``source_index`` (the dataset row), ``variant`` and ``option_order`` (for each shown position, the
  original position of its option), so every order's choice is shown as the option *text* it named;
- **the dataset** the run evaluated (:func:`locate_dataset`), for the images and the exact question
  and option texts. It is looked for, in this order: the ``--dataset`` given; the data files or folder
  the results file's task config names (``configs[task].dataset_path`` / ``dataset_kwargs``); the
  same file name in the installed task folder (the shipped ``rsmmvp_mini`` sample, wherever it was
  evaluated); a hub dataset id only in the local hub cache (never downloaded). A candidate is used
  only when its :func:`~rsmmvp_tasks.evaluation.results.dataset_fingerprint` equals the run's; a
  ``--dataset`` that does not match is an :class:`~rsmmvp_tasks.errors.InputError`. Without a
  dataset, the question and options come from the logged prompt (``question`` lines, then ``A. text``
  lines as :func:`rsmmvp_tasks.evaluation.prompts.format_options` writes them) and
  :attr:`DatasetSource.note` says in one line why no image is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.dataset.loading import load_rsmmvp
from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.evaluation.results import dataset_fingerprint
from rsmmvp_tasks.paths import tasks_dir
from rsmmvp_tasks.schema import letter_to_index, option_letters
from rsmmvp_tasks.sharing.runs import Run, read_sample_records
from rsmmvp_tasks.thumbnails import jpeg_bytes

__all__ = [
    "REPLY_CHARS",
    "REPLY_LINES",
    "THUMB_SIDE",
    "DatasetSource",
    "OrderChoice",
    "PairView",
    "QuestionView",
    "locate_dataset",
    "short_reply",
    "wrong_pair_views",
]

#: longest side of a thumbnail, in pixels
THUMB_SIDE = 224
#: a reply is shown in at most this many lines ...
REPLY_LINES = 4
#: ... and this many characters (head and tail kept: a chain of thought ends with its answer)
REPLY_CHARS = 320

_OPTION_LINE = re.compile(r"^([A-Z])\. (.*)$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class DatasetSource:
    """The dataset a run evaluated, read row by row (only the wrong pairs' images are decoded).

    ``where`` names what was read (``None``: nothing found); ``note`` is one line for the reader when
    images cannot be shown or were not verified (``None`` when the rows are the run's, fingerprint checked).
    """

    def __init__(self, data: Any = None, where: str | None = None, note: str | None = None) -> None:
        self.where, self.note = where, note
        self._data = data
        self._positions = {int(i): pos for pos, i in enumerate(data["index"])} if data is not None else {}

    @property
    def found(self) -> bool:
        return self._data is not None

    def row(self, index: int) -> Mapping[str, Any] | None:
        """The row whose ``index`` is ``index`` (image decoded), or ``None``."""
        pos = self._positions.get(int(index))
        return None if pos is None else self._data[pos]


@dataclass(frozen=True)
class OrderChoice:
    """One reply: the options as shown (``A. text`` order), the letter read, the option text it names,
    whether that option is the right one, and the reply cut to a few lines."""

    shown: tuple[str, ...]
    letter: str | None
    text: str | None
    right: bool
    reply: tuple[str, ...]


@dataclass(frozen=True)
class QuestionView:
    """One question (one image) of a wrong pair."""

    index: int
    question: str
    options: tuple[str, ...]
    answer: str
    pred: str | None
    correct: bool
    orders: tuple[OrderChoice, ...]
    jpeg: bytes | None = None

    @property
    def answer_text(self) -> str | None:
        return _text_of(self.answer, self.options)

    @property
    def circular(self) -> bool:
        return len(self.orders) > 1


@dataclass(frozen=True)
class PairView:
    """A wrong pair: its questions in index order."""

    pair_id: str
    pattern: str
    questions: tuple[QuestionView, ...] = field(default_factory=tuple)

    @property
    def question(self) -> str:
        """The pair's question when all its images were asked the same one, else ``""``."""
        texts = {q.question for q in self.questions}
        return next(iter(texts)) if len(texts) == 1 else ""

    @property
    def n_orders(self) -> int:
        """How many option orders were asked (1 for a plain run)."""
        return max((len(q.orders) for q in self.questions), default=0)

    def shown_in_order(self, k: int) -> tuple[str, ...] | None:
        """The options as shown in order ``k`` when every question of the pair showed the same, else ``None``."""
        shown = {q.orders[k].shown if k < len(q.orders) else None for q in self.questions}
        return next(iter(shown)) if len(shown) == 1 else None


def short_reply(reply: str, lines: int = REPLY_LINES, chars: int = REPLY_CHARS) -> tuple[str, ...]:
    """A reply cut to a few lines: blank lines dropped, spaces collapsed; when longer than ``lines``
    lines or ``chars`` characters, its head and its tail (where a reasoning reply states its answer)
    with ``…`` between."""
    kept = [" ".join(line.split()) for line in str(reply).splitlines()]
    kept = [line for line in kept if line]
    if len(kept) <= lines and sum(map(len, kept)) <= chars:
        return tuple(kept)
    flat = " ".join(kept)
    if len(kept) <= lines:
        half = chars // 2
        return (flat[:half].rstrip() + " … " + flat[-half:].lstrip(),)
    head, tail = kept[: lines // 2], kept[-(lines - lines // 2):]
    budget = chars // lines
    cut = [x if len(x) <= budget else x[: budget - 1] + "…" for x in head + tail]
    return (*cut[: len(head)], "…", *cut[len(head):])


def _text_of(letter: str | None, options: Sequence[str]) -> str | None:
    try:
        return options[letter_to_index(letter)] if letter else None
    except (ValueError, IndexError):
        return None


def _parse_prompt(prompt: str) -> tuple[str, tuple[str, ...]]:
    """``(question, options)`` from a logged prompt (module docstring); ``("", ())`` when it has no option lines."""
    lines = str(prompt).splitlines()
    for start, line in enumerate(lines):
        m = _OPTION_LINE.match(line)
        if m and m.group(1) == "A":
            options = []
            for later in lines[start:]:
                m = _OPTION_LINE.match(later)
                if not m or m.group(1) != option_letters(len(options) + 1)[-1]:
                    break
                options.append(m.group(2).strip())
            return " ".join(x.strip() for x in lines[:start] if x.strip()), tuple(options)
    return "", ()


# --------------------------------------------------------------------------- the dataset


def _task_config(run: Run) -> Mapping[str, Any]:
    config = (run.results.get("configs") or {}).get(run.task) if isinstance(run.results.get("configs"), Mapping) else None
    return config if isinstance(config, Mapping) else {}


def _candidates(run: Run) -> list[tuple[str, str | None]]:
    """``(as named, local path or None)`` for each place the results file's task config names (module docstring)."""
    config = _task_config(run)
    kwargs = config.get("dataset_kwargs") if isinstance(config.get("dataset_kwargs"), Mapping) else {}
    files = kwargs.get("data_files")
    if isinstance(files, Mapping):
        files = files.get(config.get("test_split")) or next(iter(files.values()), None)
    if isinstance(files, str):
        files = [files]
    if isinstance(files, list) and files:
        out = []
        for f in map(str, files):
            shipped = tasks_dir() / "rsmmvp" / "data" / Path(f).name  # the shipped sample, evaluated elsewhere
            local = f if Path(f).is_file() else str(shipped) if shipped.is_file() else None
            out.append((f, local))
        return out
    path = config.get("dataset_path")
    if not isinstance(path, str) or not path:
        return []
    if Path(path).expanduser().exists():
        return [(path, path)]
    if _HUB_ID.match(path):
        return [(f"{path} (hub)", _hub_snapshot(path, kwargs.get("revision")))]
    return [(path, None)]


def _hub_snapshot(repo_id: str, revision: Any) -> str | None:
    """The local hub cache's snapshot of dataset ``repo_id`` (never a download), or ``None``."""
    from huggingface_hub import snapshot_download

    try:
        return str(snapshot_download(repo_id=repo_id, repo_type="dataset", revision=revision or None,
                                     local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or no such revision): the report says so
        return None


def _fingerprint_of(data: Any) -> str:
    return dataset_fingerprint(data.select_columns(["index", "question", "options", "answer"]))


def locate_dataset(run: Run, explicit: str | Path | None = None) -> DatasetSource:
    """The dataset ``run`` evaluated (module docstring), or the reason it cannot be shown.

    Raises :class:`~rsmmvp_tasks.errors.InputError` when ``explicit`` cannot be read or is another dataset.
    """
    expected = run.dataset_fingerprint
    if explicit is not None:
        data = load_rsmmvp(explicit)
        if expected and _fingerprint_of(data) != expected:
            raise InputError(
                f"{explicit}: not the dataset this run evaluated (its fingerprint differs from the run's "
                f"{expected[:12]}…); pass the dataset the run was made on"
            )
        return DatasetSource(data, str(explicit), None if expected else
                             f"images from {explicit}, not verified: the run records no dataset fingerprint")
    candidates = _candidates(run)
    reasons: list[str] = []
    for named, local in candidates:
        if local is None:
            reasons.append(f"{named} is not on this machine")
            continue
        try:
            data = load_rsmmvp(local)
        except (InputError, ValueError, OSError) as exc:
            reasons.append(f"{named} cannot be read ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
            continue
        if expected and _fingerprint_of(data) != expected:
            reasons.append(f"{local} holds another dataset now (its fingerprint differs from the run's)")
            continue
        note = None if expected else f"images from {local}, not verified: the run records no dataset fingerprint"
        return DatasetSource(data, local, note)
    why = "; ".join(reasons) or "the results file names no dataset"
    return DatasetSource(None, None, f"Images not shown: {why}. Pass --dataset PATH (folder, parquet file or "
                                     "cached hub id) to show them.")


# --------------------------------------------------------------------------- the wrong pairs


def _replies_by_question(run: Run) -> dict[int, list[Mapping[str, Any]]]:
    """The samples' reply records by dataset row (``source_index`` of a circular run, else ``index``), in order."""
    out: dict[int, dict[int, Mapping[str, Any]]] = {}
    if not run.samples_source:
        return {}
    for r in read_sample_records(run.samples_source):
        row = int(r.get("source_index", r["index"]))
        out.setdefault(row, {}).setdefault(int(r.get("variant", 0)), r)
    return {row: [by_variant[k] for k in sorted(by_variant)] for row, by_variant in out.items()}


def _order_choice(record: Mapping[str, Any], options: Sequence[str]) -> OrderChoice:
    """One reply of a question; ``option_order`` (circular runs) maps shown positions to original ones."""
    shown_from_prompt = _parse_prompt(str(record.get("prompt", "")))[1]
    n = len(options) or len(shown_from_prompt)
    order = [int(j) for j in record.get("option_order") or range(n)]
    shown = tuple(options[j] for j in order) if options and len(order) == len(options) else shown_from_prompt
    letter = None if record.get("pred") is None else str(record["pred"])
    try:  # the original letter of the option chosen, against the record's own answer (in shown letters)
        right = letter is not None and letter_to_index(letter) == letter_to_index(str(record["answer"]))
    except (ValueError, KeyError):
        right = False
    return OrderChoice(shown, letter, _text_of(letter, shown), right, short_reply(str(record.get("reply", ""))))


def _question_view(q: Mapping[str, Any], replies: list[Mapping[str, Any]], dataset: DatasetSource | None,
                   thumb_side: int) -> QuestionView:
    index = int(q["index"])
    row = dataset.row(index) if dataset is not None else None
    if row is not None:
        question, options = str(row["question"]).strip(), tuple(str(o) for o in row["options"])
        jpeg = jpeg_bytes(row["image"], thumb_side, quality=80) if row.get("image") is not None else None
    else:  # the logged prompt of the original order
        original = next((r for r in replies if not r.get("option_order") or int(r.get("variant", 0)) == 0), None)
        question, options = _parse_prompt(str((original or {}).get("prompt") or q.get("prompt", "")))
        jpeg = None
    orders = tuple(_order_choice(r, options) for r in replies)
    pred = q.get("pred")
    return QuestionView(index=index, question=question, options=options, answer=str(q["answer"]),
                        pred=None if pred is None else str(pred), correct=pred is not None and pred == q["answer"],
                        orders=orders, jpeg=jpeg)


def wrong_pair_views(run: Run, dataset: DatasetSource | None = None, *, thumb_side: int = THUMB_SIDE) -> list[PairView]:
    """Every complete pair ``run`` got wrong (:meth:`Run.wrong_pairs` order), as :class:`PairView`; ``[]`` without samples."""
    wrong = run.wrong_pairs()
    if not wrong:
        return []
    replies = _replies_by_question(run)
    return [PairView(p.pair_id, p.pattern, tuple(_question_view(q, replies.get(int(q["index"]), []), dataset, thumb_side)
                                                  for q in p.questions)) for p in wrong]
