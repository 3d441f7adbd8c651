"""lmms-eval task definitions of rsmmvp (installed as ``rsmmvp_tasks.task_yamls``); no code lives here."""
