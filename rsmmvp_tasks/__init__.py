"""rsmmvp_tasks: the remote-sensing MMVP benchmark as an lmms-eval task suite.

The package is arranged by who uses it:

- :mod:`rsmmvp_tasks.evaluation` — evaluating a model: answer reading, prompts, scoring, the lmms-eval
  task functions and the entry-point hook that makes the tasks visible;
- :mod:`rsmmvp_tasks.dataset` — building datasets: raw layouts, validation, building, the card, the hub,
  loading;
- :mod:`rsmmvp_tasks.mining` — mining new CLIP-blind pairs: images, encoders, the embedding store,
  embedding, search, the PAIRS table, the review page, annotations;
- :mod:`rsmmvp_tasks.imagery` — remote-sensing scenes: one image reader (bands, stretch, nodata), tiling
  with the tile table, footprints and distances, the ``imagery`` provenance of dataset rows;
- :mod:`rsmmvp_tasks.human` — a human baseline: the answering page and the scoring of people's answers;
- :mod:`rsmmvp_tasks.sharing` — sharing results: reading lmms-eval runs, reports, the leaderboard board,
  its rendering and hub submission, and the paired significance tests;
- :mod:`rsmmvp_tasks.models` — models registered with lmms-eval through our entry point (``rsmmvp_clip``);
- :mod:`rsmmvp_tasks.pages` — what the self-contained HTML pages (review, human, leaderboard) share;
- at the root: the shared contract (:mod:`~rsmmvp_tasks.schema`), the error types
  (:mod:`~rsmmvp_tasks.errors`), shared helpers (:mod:`~rsmmvp_tasks.values`, :mod:`~rsmmvp_tasks.fileio`),
  where things are installed (:mod:`~rsmmvp_tasks.paths`) and the ``rsmmvp`` command
  (:mod:`~rsmmvp_tasks.cli`, one module per subcommand in :mod:`rsmmvp_tasks.commands`).

Scripts and notebooks import the public API from here, so internal moves never break them::

    from rsmmvp_tasks import extract_choice, score, validate_dataset, load_rsmmvp, build_dataset, mine_pairs

Names are resolved lazily (PEP 562), so ``import rsmmvp_tasks`` stays cheap: torch, datasets and
transformers are imported only by the function that needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # the contract
    "REQUIRED_COLUMNS": "rsmmvp_tasks.schema",
    "PATTERNS": "rsmmvp_tasks.schema",
    "normalize_pattern": "rsmmvp_tasks.schema",
    "features": "rsmmvp_tasks.schema",
    # errors
    "RsmmvpError": "rsmmvp_tasks.errors",
    "UsageError": "rsmmvp_tasks.errors",
    "InputError": "rsmmvp_tasks.errors",
    "DataViolationError": "rsmmvp_tasks.errors",
    "ServiceError": "rsmmvp_tasks.errors",
    # shared helpers: missing cells, files written atomically, CSV cells a spreadsheet cannot execute
    "is_missing": "rsmmvp_tasks.values",
    "atomic_write_text": "rsmmvp_tasks.fileio",
    "write_csv_safe": "rsmmvp_tasks.fileio",
    # evaluating
    "extract_choice": "rsmmvp_tasks.evaluation.answers",
    "is_readable": "rsmmvp_tasks.evaluation.answers",
    "doc_to_text": "rsmmvp_tasks.evaluation.prompts",
    "score": "rsmmvp_tasks.evaluation.scoring",
    "Scores": "rsmmvp_tasks.evaluation.scoring",
    "format_pattern_table": "rsmmvp_tasks.evaluation.scoring",
    "read_details": "rsmmvp_tasks.evaluation.results",
    "dataset_fingerprint": "rsmmvp_tasks.evaluation.results",
    "redact_secrets": "rsmmvp_tasks.secrets",
    "JudgeConfig": "rsmmvp_tasks.evaluation.judge",
    "get_judge": "rsmmvp_tasks.evaluation.judge",
    # sharing results: reports, boards, paired tests
    "load_single_run": "rsmmvp_tasks.sharing.runs",
    "write_report": "rsmmvp_tasks.sharing.report",
    "Board": "rsmmvp_tasks.sharing.board",
    "collect_board": "rsmmvp_tasks.sharing.board",
    "render_board": "rsmmvp_tasks.sharing.render",
    "compare_outcomes": "rsmmvp_tasks.sharing.stats",
    "mcnemar_exact": "rsmmvp_tasks.sharing.stats",
    "paired_bootstrap": "rsmmvp_tasks.sharing.stats",
    # human baseline
    "write_human_page": "rsmmvp_tasks.human.page",
    "score_annotators": "rsmmvp_tasks.human.scoring",
    # building datasets
    "read_raw": "rsmmvp_tasks.dataset.raw",
    "validate_dataset": "rsmmvp_tasks.dataset.validate",
    "ValidationReport": "rsmmvp_tasks.dataset.validate",
    "build_dataset": "rsmmvp_tasks.dataset.build",
    "build_from_raw": "rsmmvp_tasks.dataset.build",
    "render_card": "rsmmvp_tasks.dataset.card",
    "push_folder": "rsmmvp_tasks.dataset.hub",
    "load_rsmmvp": "rsmmvp_tasks.dataset.loading",
    # mining
    "list_images": "rsmmvp_tasks.mining.images",
    "load_encoder": "rsmmvp_tasks.mining.encoders",
    "embed_images": "rsmmvp_tasks.mining.embed",
    "read_cache": "rsmmvp_tasks.mining.store",
    "MineParams": "rsmmvp_tasks.mining.search",
    "mine_pairs": "rsmmvp_tasks.mining.search",
    "mine_caches": "rsmmvp_tasks.mining.search",
    "read_pairs": "rsmmvp_tasks.mining.pairs",
    "write_review_page": "rsmmvp_tasks.mining.review",
    "rows_from_annotations": "rsmmvp_tasks.mining.annotations",
    # remote-sensing imagery
    "read_image": "rsmmvp_tasks.imagery.read",
    "ReadSettings": "rsmmvp_tasks.imagery.read",
    "tile_scenes": "rsmmvp_tasks.imagery.tile",
    "similarity_stats": "rsmmvp_tasks.mining.stats",
    # installed files
    "tasks_dir": "rsmmvp_tasks.paths",
    "mini_dataset_dir": "rsmmvp_tasks.paths",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rsmmvp_tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolve once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
