"""Models shipped by rsmmvp for lmms-eval's legacy ``LMMS_EVAL_PLUGINS`` mechanism.

lmms-eval imports ``<plugin>.models`` and reads ``AVAILABLE_MODELS`` (model name -> class name,
resolved as ``<plugin>.models.<name>.<Class>``) when ``LMMS_EVAL_PLUGINS=rsmmvp_tasks`` is set.
rsmmvp ships tasks, not models, so the mapping is empty; it exists so that setting the variable
is harmless. Register your own models through the ``lmms_eval.models`` entry-point group
(see the README).
"""

AVAILABLE_MODELS: dict[str, str] = {}
