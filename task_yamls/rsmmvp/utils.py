"""Names the functions of the rsmmvp tasks for lmms-eval's ``!function utils.<name>`` tags.

No logic lives here (lmms-eval loads this file by path, outside any package): everything is in
the installed ``rsmmvp_tasks`` package, typed and unit-tested.
"""

from rsmmvp_tasks.evaluation.aggregation import METRIC_LIST as metric_list  # noqa: F401
from rsmmvp_tasks.evaluation.prompts import doc_to_target, doc_to_text, doc_to_visual  # noqa: F401
from rsmmvp_tasks.evaluation.task import *  # noqa: F401,F403  (re-exports rsmmvp_tasks.evaluation.task.__all__)
