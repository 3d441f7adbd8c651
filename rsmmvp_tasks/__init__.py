"""rsmmvp_tasks: the remote-sensing MMVP benchmark as an lmms-eval task suite.

Submodules (import what you need; none of them is imported here, so ``import rsmmvp_tasks``
stays cheap):

- :mod:`rsmmvp_tasks.schema`: the dataset contract.
- :mod:`rsmmvp_tasks.answers`: reading the chosen option out of a model reply.
- :mod:`rsmmvp_tasks.scoring`: question/pair accuracy, per-pattern table, bootstrap CIs.
- :mod:`rsmmvp_tasks.prompts`: doc -> prompt / visual / target for lmms-eval.
- :mod:`rsmmvp_tasks.lmms_task`: the functions the task YAMLs name (process_docs/results, aggregations).
- :mod:`rsmmvp_tasks.lmms_hook`: the ``lmms_eval.models`` entry point that makes the tasks visible.
- :mod:`rsmmvp_tasks.raw`, :mod:`rsmmvp_tasks.validate`, :mod:`rsmmvp_tasks.build`, :mod:`rsmmvp_tasks.card`,
  :mod:`rsmmvp_tasks.hub`, :mod:`rsmmvp_tasks.loading`: reading, checking, building, publishing and loading data.
- :mod:`rsmmvp_tasks.mining`: embedding, mining, reviewing and annotating new CLIP-blind pairs.
- :mod:`rsmmvp_tasks.paths`: where the installed task YAMLs and the embedded sample live.
- :mod:`rsmmvp_tasks.cli`: the ``rsmmvp`` command.
"""

__version__ = "0.1.0"
