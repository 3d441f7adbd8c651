"""A human baseline on any RSMMVP dataset: ``rsmmvp human page DATASET --out DIR`` and ``rsmmvp human score``.

- :mod:`~rsmmvp_tasks.human.page` — the static answering page (one image and question at a time,
  shuffled, the two images of a pair never in a row, nothing in the page derived from the answers or
  the row indices) and its private key file, its JSON export;
- :mod:`~rsmmvp_tasks.human.scoring` — answer files scored with the models' scorer into lmms-eval
  results files (``config.model = "human"``), the majority vote of three or more annotators, and the
  agreement between annotators (Cohen's and Fleiss' kappa).
"""
