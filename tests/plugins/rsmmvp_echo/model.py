"""The model class of the test plugin (see the package docstring)."""

from __future__ import annotations

from typing import Any

import torch
from accelerate import Accelerator
from lmms_eval.api.model import lmms

from rsmmvp_echo import reply_for


class RuleVLM(lmms):
    is_simple = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        accelerator = Accelerator()
        self._rank = accelerator.process_index
        self._world_size = accelerator.num_processes
        self.accelerator = accelerator
        self._device = torch.device("cpu")

    @property
    def device(self) -> torch.device:
        return self._device

    def generate_until(self, requests: list[Any]) -> list[str]:
        out = []
        print(f"rule_vlm: rank {self._rank} answers {len(requests)} requests", flush=True)
        for req in requests:
            _context, _gen_kwargs, doc_to_visual, doc_id, task, split = req.args
            doc = self.task_dict[task][split][doc_id]
            doc_to_visual(doc)  # the image must decode
            out.append(reply_for(doc))
        return out

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("rule_vlm only generates")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        return self.generate_until(requests)
