"""Subcommands of the ``rsmmvp`` CLI, one module each (see :mod:`rsmmvp_tasks.cli`)."""
