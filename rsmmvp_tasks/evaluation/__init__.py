"""Evaluating a model on RSMMVP: what lmms-eval runs for the ``rsmmvp*`` tasks.

- :mod:`~rsmmvp_tasks.evaluation.answers` — reading the chosen option out of a free-text reply
- :mod:`~rsmmvp_tasks.evaluation.prompts` — a contract row -> prompt, image, target
- :mod:`~rsmmvp_tasks.evaluation.scoring` — question / pair accuracy, per-pattern table, intervals
- :mod:`~rsmmvp_tasks.evaluation.judge` — the optional LLM judge for replies the rules cannot read
- :mod:`~rsmmvp_tasks.evaluation.circular` — the option-order tasks (``rsmmvp*_circular``): every question in every option order
- :mod:`~rsmmvp_tasks.evaluation.task` — the functions the task YAMLs name (``process_docs``, ``process_results``, aggregations)
- :mod:`~rsmmvp_tasks.evaluation.hook` — the ``lmms_eval.models`` entry point that makes the tasks visible
"""
