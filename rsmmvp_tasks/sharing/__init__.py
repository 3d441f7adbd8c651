"""Sharing results: from lmms-eval output folders to reports, a leaderboard and paired significance tests.

- :mod:`~rsmmvp_tasks.sharing.runs` — find lmms-eval results files (and their samples JSONL), read
  one rsmmvp task of a run into a :class:`~rsmmvp_tasks.sharing.runs.Run` (its identity: task/protocol,
  fingerprint, normalised model, judge, scoring version; the instant it was made, in UTC), and say what
  makes a run unfit for a board (``--limit``, incomplete pairs);
- :mod:`~rsmmvp_tasks.sharing.stats` — paired bootstrap over pairs, McNemar's exact test, Holm's
  adjustment;
- :mod:`~rsmmvp_tasks.sharing.plots` — the matplotlib charts (per-pattern bars, the heat map);
- :mod:`~rsmmvp_tasks.sharing.report` — ``rsmmvp report``: one run's report (md, csv, png, html);
- :mod:`~rsmmvp_tasks.sharing.board` — ``rsmmvp leaderboard collect``/``compare``: the board JSON, one
  section per task/protocol and dataset fingerprint;
- :mod:`~rsmmvp_tasks.sharing.render` — ``rsmmvp leaderboard render``: md, csv, heat map and a static
  ``index.html`` (from ``leaderboard_template.html``);
- :mod:`~rsmmvp_tasks.sharing.submit` — ``rsmmvp leaderboard submit``: a pull request to a hub repo.
"""
