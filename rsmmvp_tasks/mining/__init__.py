"""Mining CLIP-blind pairs from your own imagery: embed, mine, review, and read annotations back.

Modules, in pipeline order (heavy dependencies are imported inside functions):

- :mod:`~rsmmvp_tasks.mining.images` — image sources (folder, file list, Hugging Face dataset), decoding, content stamps
- :mod:`~rsmmvp_tasks.mining.encoders` — CLIP / self-supervised encoders, a registry of kinds
- :mod:`~rsmmvp_tasks.mining.store` — the resumable embedding cache (shards, ids, stamps, manifest, errors, checks)
- :mod:`~rsmmvp_tasks.mining.lock` — one writer per cache (a file lock naming its holder)
- :mod:`~rsmmvp_tasks.mining.embed` — ``rsmmvp embed``
- :mod:`~rsmmvp_tasks.mining.search` — ``rsmmvp mine``: the mining rule, exact blocked search, joining two caches
- :mod:`~rsmmvp_tasks.mining.precision` — low-precision candidate passes kept exact (error margin, float64
  rescore), tile size from free memory
- :mod:`~rsmmvp_tasks.mining.ann` — ``mine --index ivf|hnsw`` (faiss) and ``--check-recall``
- :mod:`~rsmmvp_tasks.mining.resume` — the checkpoint of a resumable mine
- :mod:`~rsmmvp_tasks.mining.places` — place-aware pairs: the tile table joined to the caches, overlap/distance and
  different-scene rules, footprint columns of PAIRS
- :mod:`~rsmmvp_tasks.mining.stats` — ``rsmmvp mine --stats``: the CLIP x SSL histogram and counts per threshold
- :mod:`~rsmmvp_tasks.mining.pairs` — the PAIRS table: columns, writer, reader, pair-image export
- :mod:`~rsmmvp_tasks.mining.review` — ``rsmmvp review``: the annotation page
- :mod:`~rsmmvp_tasks.mining.annotations` — annotation files, and the dataset rows they become

Helpers: :mod:`~rsmmvp_tasks.mining.devices` (``--device`` checked up front) and
:mod:`~rsmmvp_tasks.modelload` (outside mining: dtypes, PIL processors, the message for a hub id that cannot be loaded).
"""
