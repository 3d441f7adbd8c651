"""The YAML side only names functions of the package, and names them all correctly."""

from __future__ import annotations

import importlib.util
import re

import yaml

from rsmmvp_tasks import PATTERNS, tasks_dir
from rsmmvp_tasks.evaluation.aggregation import METRICS, aggregate

FOLDER = tasks_dir() / "rsmmvp"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: ("!function", loader.construct_scalar(node)))


def _load(name: str) -> dict:
    return yaml.load((FOLDER / name).read_text(), Loader=_Loader)


def _utils():
    spec = importlib.util.spec_from_file_location("rsmmvp_yaml_utils", FOLDER / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_template_reports_every_metric_in_order() -> None:
    template = _load("_default_template_yaml")
    assert template["metric_list"] == ("!function", "utils.metric_list")  # built from schema.PATTERNS
    metric_list = _utils().metric_list
    assert [m["metric"] for m in metric_list] == list(METRICS)
    assert all(m["aggregation"] is aggregate for m in metric_list)  # one aggregation serves every metric
    assert {f"pair_accuracy_{p}" for p in PATTERNS} <= set(METRICS)
    # lmms-eval 0.7.3 prints every metric as a row except *_stderr ones: the table rows are these
    rows = [m for m in METRICS if not m.endswith("_stderr")]
    assert rows == ["question_accuracy", "pair_accuracy", "unreadable_rate", *(f"pair_accuracy_{p}" for p in PATTERNS),
                    "position_bias_rate"]
    assert all(f"{m}_stderr" in METRICS for m in rows)
    # every _stderr companion comes after its metric (lmms-eval overwrites <m>_stderr when aggregating <m>)
    assert all(METRICS.index(f"{m}_stderr") > METRICS.index(m) for m in rows)


def test_every_function_tag_resolves_to_a_package_function() -> None:
    utils = _utils()
    names = []
    for path in sorted(FOLDER.glob("*.yaml")) + [FOLDER / "_default_template_yaml"]:
        names += re.findall(r"!function\s+utils\.(\w+)", path.read_text())
    assert names
    for name in names:
        obj = getattr(utils, name, None)
        assert obj is not None, f"utils.{name} is not defined"
        fns = [m["aggregation"] for m in obj] if isinstance(obj, list) else [obj]
        for fn in fns:
            assert callable(fn), f"utils.{name} is not callable"
            assert fn.__module__.startswith("rsmmvp_tasks."), f"utils.{name} must live in the rsmmvp_tasks package"


def test_utils_holds_no_logic() -> None:
    source = (FOLDER / "utils.py").read_text()
    assert not re.search(r"^\s*(def|class)\s", source, flags=re.M)


def test_task_names_and_prompts() -> None:
    tasks = {p.name: _load(p.name) for p in FOLDER.glob("*.yaml")}
    assert {"rsmmvp", "rsmmvp_cot", "rsmmvp_mini", "rsmmvp_mini_cot"} <= {t["task"] for t in tasks.values()}
    for name in ("rsmmvp_cot.yaml", "rsmmvp_mini_cot.yaml"):
        assert "Answer: X" in tasks[name]["lmms_eval_specific_kwargs"]["default"]["post_prompt"]
        assert tasks[name]["generation_kwargs"]["max_new_tokens"] >= 256
    template = _load("_default_template_yaml")
    assert template["generation_kwargs"]["do_sample"] is False and template["generation_kwargs"]["max_new_tokens"] <= 32


def test_full_task_points_at_the_hub_repo_constant() -> None:
    from rsmmvp_tasks.dataset.hub import HUB_REPO_ID

    assert _load("rsmmvp.yaml")["dataset_path"] == HUB_REPO_ID


def test_hub_task_has_a_revision_setting_the_cot_variant_inherits() -> None:
    assert _load("rsmmvp.yaml")["dataset_kwargs"] == {"revision": "main"}
    assert _load("rsmmvp_cot.yaml")["include"] == "rsmmvp.yaml" and "dataset_kwargs" not in _load("rsmmvp_cot.yaml")
