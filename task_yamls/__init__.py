"""lmms-eval task definitions of rsmmvp (installed as ``rsmmvp_tasks.tasks``); no code lives here."""
