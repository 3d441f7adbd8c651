"""``ExampleVLM``: the smallest complete lmms-eval 0.7.3 model, to copy and fill with a real one.

What lmms-eval hands a "simple" model (``is_simple = True``)
------------------------------------------------------------
``generate_until(requests)`` receives a list of ``Instance`` objects and must return one reply string
per request, in the same order. Each ``request.args`` is the 6-tuple::

    (context, gen_kwargs, doc_to_visual, doc_id, task, split)

- ``context``: the prompt text, already built by the task (for the rsmmvp tasks: the question, the
  lettered options and the answer instruction; see ``lmms_eval_specific_kwargs`` to change it per model);
- ``gen_kwargs``: the task's ``generation_kwargs`` (``max_new_tokens``, ``temperature``, ``until``, ...);
- ``doc_to_visual``: a function; ``doc_to_visual(self.task_dict[task][split][doc_id])`` returns the
  document's images as a list of PIL images (one image per rsmmvp question);
- ``doc_id``, ``task``, ``split``: where the document is in ``self.task_dict`` (lmms-eval fills it).

Under ``accelerate launch`` lmms-eval gives each process ``len(requests) / world_size`` requests,
according to ``self.rank`` / ``self.world_size``; set them from ``accelerate.Accelerator`` as below
and put the model on ``cuda:<local_process_index>``.

The placeholder answer (replace :meth:`ExampleVLM.answer` with your model's generation): it reads the
option letters from the prompt, splits the image into as many vertical strips as there are options
and answers the letter of the brightest strip -- deterministic, weight-free, and reading both the
image and the prompt the documented way.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from accelerate import Accelerator
from lmms_eval.api.model import lmms
from PIL import Image
from tqdm import tqdm

#: "A. Yes" lines of the prompt -> their letters
_OPTION_LINE = re.compile(r"^([A-Z])\. ", flags=re.MULTILINE)


class ExampleVLM(lmms):
    """Registered as ``rsmmvp_example`` (see ``rsmmvp_example_model.manifests``)."""

    is_simple = True

    def __init__(self, device: str = "cpu", batch_size: int | str = 1, **kwargs: Any) -> None:
        # --model_args k=v,... arrive here as keyword arguments; lmms-eval adds batch_size (and device
        # when --device is given). Refuse what you do not understand rather than ignoring it.
        super().__init__()
        if kwargs:
            raise ValueError(f"rsmmvp_example: unknown model_args {sorted(kwargs)}")
        accelerator = Accelerator()
        self.accelerator = accelerator
        self._rank = accelerator.process_index
        self._world_size = accelerator.num_processes
        self._device = device if accelerator.num_processes == 1 else f"cuda:{accelerator.local_process_index}"
        self.batch_size_per_gpu = int(batch_size)
        # A real model loads here, e.g.:
        #   self.model = AutoModelForImageTextToText.from_pretrained(path, dtype=..., device_map=self._device)
        #   self.processor = AutoProcessor.from_pretrained(path)

    @property
    def device(self) -> str:
        return self._device

    def generate_until(self, requests: list[Any]) -> list[str]:
        replies = []
        for request in tqdm(requests, disable=self.rank != 0, desc="rsmmvp_example"):
            context, gen_kwargs, doc_to_visual, doc_id, task, split = request.args
            images = doc_to_visual(self.task_dict[task][split][doc_id])
            reply = self.answer(images, context, gen_kwargs)
            for stop in gen_kwargs.get("until") or []:  # honour the task's stop strings
                reply = reply.split(stop)[0]
            replies.append(reply)
        return replies

    def answer(self, images: list[Image.Image], prompt: str, gen_kwargs: dict[str, Any]) -> str:
        """The model's reply to one prompt about ``images`` (placeholder: see the module docstring)."""
        letters = _OPTION_LINE.findall(prompt)
        if not letters:
            raise ValueError(f"rsmmvp_example: no lettered options in the prompt {prompt!r}")
        gray = np.asarray(images[0].convert("L"), dtype=np.float64)
        strips = np.array_split(gray, len(letters), axis=1)
        brightest = int(np.argmax([strip.mean() for strip in strips]))
        return f"The answer is {letters[brightest]}."

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("rsmmvp_example only generates (the rsmmvp tasks are generate_until)")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("rsmmvp_example answers single-round tasks only")
