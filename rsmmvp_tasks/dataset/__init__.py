"""Building RSMMVP-format datasets: read a raw layout, check it, build, describe, publish, load.

- :mod:`~rsmmvp_tasks.dataset.raw` — MMVP-style raw layouts (question table + images) -> contract rows
- :mod:`~rsmmvp_tasks.dataset.validate` — every violation of the contract, with its row
- :mod:`~rsmmvp_tasks.dataset.build` — rows -> parquet with embedded images + ``save_to_disk`` copy + card
- :mod:`~rsmmvp_tasks.dataset.card` — the dataset card (README.md with YAML metadata)
- :mod:`~rsmmvp_tasks.dataset.task_yaml` — the ready lmms-eval task YAML written beside a build, and its command
- :mod:`~rsmmvp_tasks.dataset.hub` — fetching from and pushing to the Hugging Face hub
- :mod:`~rsmmvp_tasks.dataset.loading` — loading any of these as a ``datasets.Dataset``; the hub task's conversion
"""
