"""Mining CLIP-blind pairs from your own imagery: embed, mine, review, and read annotations back.

Modules, in pipeline order (heavy dependencies are imported inside functions):

- :mod:`~rsmmvp_tasks.mining.images` — image sources (folder, file list, Hugging Face dataset) and decoding
- :mod:`~rsmmvp_tasks.mining.encoders` — CLIP / self-supervised encoders, a registry of kinds
- :mod:`~rsmmvp_tasks.mining.store` — the resumable embedding cache (shards, ids, manifest, errors)
- :mod:`~rsmmvp_tasks.mining.embed` — ``rsmmvp embed``
- :mod:`~rsmmvp_tasks.mining.search` — ``rsmmvp mine``: exact blocked search, PAIRS table
- :mod:`~rsmmvp_tasks.mining.review` — ``rsmmvp review``: the annotation page
- :mod:`~rsmmvp_tasks.mining.annotations` — annotations back to dataset rows
"""
