"""``rsmmvp_clip``: a CLIP/SigLIP-family encoder answering the rsmmvp questions zero-shot (MMVP-VLM style).

MMVP scored CLIP models directly ("MMVP-VLM") to show that the encoder is blind where the MLLM built
on it is. This lmms-eval model brings that measurement to the pairs the MLLMs see, with no second
dataset: for each question it turns every option into a statement, scores each statement against the
image with the encoder's image-text similarity, and answers with the letter of the best one::

    lmms-eval --model rsmmvp_clip --model_args pretrained=openai/clip-vit-large-patch14 \\
              --tasks rsmmvp --batch_size 32 --output_path results

so lmms-eval reports the encoder's question, pair and per-pattern accuracy on exactly the MLLMs' pairs.

Statements
----------
``template`` turns ``(question, option)`` into the text scored against the image. The default,
``"a satellite image. {question} {option}."`` (preset ``satellite``), follows MMVP-VLM's
``"a photo of " + statement`` with the remote-sensing domain word, and keeps the question so that an
option such as "Yes" or "Top to bottom" is read in its context::

    a satellite image. Is there a bridge crossing the river? Yes.
    a satellite image. Is there a bridge crossing the river? No.

The option's own final ``.``/``!``/``?`` is dropped so the statement ends with one full stop. The
preset ``plain`` is ``"{question} {option}"``; any other value is used as a format string and must
contain ``{option}`` (``{question}`` is optional). lmms-eval splits ``--model_args`` on commas, so a
template with a comma must be quoted whole (``template='a satellite image, {option}'``; the quotes
are removed here).

Scoring
-------
Image and statements are embedded with the model's ``get_image_features`` / ``get_text_features``
and L2-normalised; the score is their cosine similarity. CLIP's logit (``scale * cos``) and SigLIP's
probability (``sigmoid(scale * cos + bias)``) are increasing functions of it, so the argmax -- the
answer -- is the same one either model's own head would give. SigLIP text towers pool the last
position and were trained on texts padded to the full length, so ``padding=auto`` pads to
``max_length`` for SigLIP-family models and to the longest statement otherwise.

Ties are never broken in a model's favour: when the best two options score exactly the same (e.g.
the statements became identical after truncation to the text tower's length), the reply is empty,
which the task counts as unreadable and wrong. Likewise a question with any NaN or infinite score
(the encoder overflowed, typically in float16) gets no choice, never the first letter. Warnings count
the ties, the non-finite questions and the statements that were truncated.

``model_args``: ``pretrained`` (hub id or local folder; required), ``template``, ``device``
(``cuda``/``cuda:N``/``cpu``; default cuda when available), ``dtype`` (``auto``: bf16/fp16 on CUDA,
fp32 on CPU; or ``float32``/``float16``/``bfloat16``), ``padding`` (``auto``/``longest``/``max_length``),
``revision``, ``trust_remote_code``. The batch size (images per forward pass) is lmms-eval's
``--batch_size``. Under ``accelerate launch`` every process loads the encoder on its own GPU and
lmms-eval splits the questions between processes; the scores do not depend on the split.
"""

from __future__ import annotations

import math
import re
import string
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from accelerate import Accelerator
from lmms_eval.api.model import lmms
from loguru import logger as _log
from tqdm import tqdm

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.modelload import ModelLoadError, cause_of, load_pil_processor, not_loadable, resolve_dtype
from rsmmvp_tasks.schema import option_letters

__all__ = [
    "TEMPLATES",
    "DEFAULT_TEMPLATE",
    "resolve_template",
    "statement",
    "choose",
    "ClipScorer",
    "load_scorer",
    "RsmmvpClip",
]

#: named templates for ``template=`` (anything else is used as a format string)
TEMPLATES: dict[str, str] = {
    "satellite": "a satellite image. {question} {option}.",
    "plain": "{question} {option}",
}
DEFAULT_TEMPLATE = "satellite"
#: ``padding=`` choices
PADDINGS = ("auto", "longest", "max_length")


def resolve_template(template: str) -> str:
    """A preset name or a format string -> the format string (checked: it must name ``{option}``)."""
    text = str(template).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":  # quoted to protect commas in --model_args
        text = text[1:-1]
    text = TEMPLATES.get(text, text)
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise UsageError(f"rsmmvp_clip: template {template!r} is not a valid format string: {exc}") from exc
    if "option" not in fields or not fields <= {"question", "option"}:
        raise UsageError(
            f"rsmmvp_clip: template {template!r} must contain {{option}} and may contain {{question}}, nothing else "
            f"(presets: {', '.join(f'{k}={v!r}' for k, v in TEMPLATES.items())})"
        )
    return text


def statement(question: str, option: str, template: str) -> str:
    """The text scored against the image for one option (``template`` already resolved)."""
    option = re.sub(r"[\s.!?]+$", "", str(option).strip())
    return template.format(question=str(question).strip(), option=option)


def choose(scores: Sequence[float]) -> str:
    """The letter of the highest score; ``""`` (read as no choice) when the best two are tied or when
    any score is not finite (NaN or infinite: a numeric overflow, e.g. in float16, says nothing)."""
    if not all(math.isfinite(s) for s in scores):
        return ""
    ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    if not ranked or (len(ranked) > 1 and scores[ranked[0]] == scores[ranked[1]]):
        return ""
    return option_letters(len(scores))[ranked[0]]


@dataclass
class ClipScorer:
    """A loaded CLIP/SigLIP-family model with its tokenizer and image processor."""

    name: str
    model: Any
    tokenizer: Any
    image_processor: Any
    device: torch.device
    dtype: torch.dtype
    padding: str
    max_length: int

    def image_embeddings(self, images: Sequence[Any]) -> torch.Tensor:
        """RGB PIL images -> ``(n, d)`` L2-normalised float32 embeddings on the CPU."""
        inputs = self.image_processor(images=list(images), return_tensors="pt")
        inputs = {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                  for k, v in inputs.items()}
        with torch.inference_mode():
            out = _pooled(self.model.get_image_features(**inputs))
        return torch.nn.functional.normalize(out.float(), dim=-1).cpu()

    def text_embeddings(self, texts: Sequence[str]) -> tuple[torch.Tensor, int]:
        """Texts -> (``(m, d)`` L2-normalised float32 embeddings on the CPU, number of truncated texts)."""
        texts = list(texts)
        lengths = [len(ids) for ids in self.tokenizer(texts)["input_ids"]]
        truncated = sum(n > self.max_length for n in lengths)
        enc = self.tokenizer(texts, padding=self.padding, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        inputs = {k: enc[k].to(self.device) for k in ("input_ids", "attention_mask") if k in enc}
        with torch.inference_mode():
            out = _pooled(self.model.get_text_features(**inputs))
        return torch.nn.functional.normalize(out.float(), dim=-1).cpu(), truncated


def _pooled(out: Any) -> torch.Tensor:
    """``get_*_features`` output -> tensor (transformers >= 5 returns a model output whose pooler is the projection)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def load_scorer(pretrained: str, *, device: str | torch.device = "cpu", dtype: str = "auto", padding: str = "auto",
                revision: str | None = None, trust_remote_code: bool = False) -> ClipScorer:
    """Load ``pretrained`` (a hub id in the local cache, or a folder) as a :class:`ClipScorer`.

    Raises :class:`~rsmmvp_tasks.errors.InputError` when the model cannot be found (naming the local
    folder alternative) and :class:`~rsmmvp_tasks.errors.UsageError` when it is not a CLIP-family
    model or an option is invalid.
    """
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer


    if padding not in PADDINGS:
        raise UsageError(f"rsmmvp_clip: padding={padding!r}; choose one of {', '.join(PADDINGS)}")
    try:
        torch_dtype = resolve_dtype(str(dtype), device)
    except ModelLoadError as exc:
        raise UsageError(f"rsmmvp_clip: {exc}") from exc
    local = Path(str(pretrained)).expanduser()
    source = str(local.resolve()) if local.is_dir() else str(pretrained)
    extra = {"revision": revision} if revision else {}
    with _load_errors(pretrained, local):
        model = AutoModel.from_pretrained(source, dtype=torch_dtype, trust_remote_code=trust_remote_code, **extra)
    if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
        raise UsageError(
            f"rsmmvp_clip: {pretrained} loads as {type(model).__name__}, which has no image-text similarity "
            "(get_image_features/get_text_features); use a CLIP- or SigLIP-family model"
        )
    with _load_errors(pretrained, local):
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, **extra)
        image_processor = load_pil_processor(AutoImageProcessor, source)
    model.eval().to(device)
    model_type = str(getattr(model.config, "model_type", ""))
    if padding == "auto":
        padding = "max_length" if model_type.startswith("siglip") else "longest"
    text_config = getattr(model.config, "text_config", model.config)
    limits = [getattr(tokenizer, "model_max_length", None), getattr(text_config, "max_position_embeddings", None)]
    max_length = min(int(n) for n in limits if n and int(n) < 1_000_000)
    scorer = ClipScorer(str(pretrained), model, tokenizer, image_processor, torch.device(device), torch_dtype,
                        padding, max_length)
    _log.info(f"rsmmvp_clip: loaded {pretrained} ({type(model).__name__}, {str(torch_dtype).replace('torch.', '')}, "
              f"padding={padding}, max {max_length} tokens) on {device}")
    return scorer


@contextmanager
def _load_errors(pretrained: str, local: Path) -> Iterator[None]:
    """Turn transformers' ``OSError`` (not found, offline, incomplete folder) into one :class:`InputError`."""
    try:
        yield
    except OSError as exc:

        if not local.is_dir():  # a hub id: the one message every command gives for hub ids it cannot load
            raise InputError(not_loadable("rsmmvp_clip", pretrained, exc, f"`hf download {pretrained} --local-dir DIR`",
                                          "pass pretrained=DIR (a local folder)")) from exc
        raise InputError(
            f"rsmmvp_clip: cannot load pretrained={pretrained!r}: the folder exists but lacks part of a transformers "
            "model (config.json, weights, tokenizer files, preprocessor_config.json). "
            f"transformers said: {cause_of(exc)}"
        ) from exc


class RsmmvpClip(lmms):
    """lmms-eval model: the encoder's own zero-shot answer to each rsmmvp question (see the module docstring)."""

    is_simple = True

    def __init__(self, pretrained: str | None = None, template: str = DEFAULT_TEMPLATE, device: str | None = None,
                 dtype: str = "auto", batch_size: int | str = 1, padding: str = "auto", revision: str | None = None,
                 trust_remote_code: bool = False, max_batch_size: int | None = None, **kwargs: Any) -> None:
        super().__init__()
        if kwargs:
            raise UsageError(
                f"rsmmvp_clip: unknown model_args {sorted(kwargs)}; known: pretrained, template, device, dtype, padding, "
                "revision, trust_remote_code (the batch size is lmms-eval's --batch_size)"
            )
        if not pretrained:
            raise UsageError("rsmmvp_clip: pass the encoder as --model_args pretrained=<hub id or local folder>")
        accelerator = Accelerator()
        device = str(device) if device else ("cuda" if torch.cuda.is_available() else "cpu")
        if accelerator.num_processes > 1 and torch.device(device).type == "cuda":
            device = f"cuda:{accelerator.local_process_index}"  # one encoder per process, one GPU each
        self.accelerator = accelerator
        self._rank = accelerator.process_index
        self._world_size = accelerator.num_processes
        self._setup(load_scorer(str(pretrained), device=device, dtype=str(dtype), padding=str(padding),
                                revision=revision, trust_remote_code=bool(trust_remote_code)),
                    template, batch_size)

    @classmethod
    def from_scorer(cls, scorer: Any, template: str = DEFAULT_TEMPLATE, batch_size: int | str = 1) -> "RsmmvpClip":
        """A single-process instance around an already built scorer (anything with ``image_embeddings`` and
        ``text_embeddings`` as in :class:`ClipScorer`): for tests and notebooks."""
        self = cls.__new__(cls)
        lmms.__init__(self)
        self._setup(scorer, template, batch_size)
        return self

    def _setup(self, scorer: Any, template: str, batch_size: int | str) -> None:
        self.scorer = scorer
        self.template = resolve_template(template)
        self.batch_size_per_gpu = _batch_size(batch_size)

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    @property
    def device(self) -> torch.device:
        return getattr(self.scorer, "device", torch.device("cpu"))

    def generate_until(self, requests: list[Any]) -> list[str]:
        """One letter (or ``""`` on a tie or a non-finite score) per request, in request order."""
        replies: list[str] = []
        ties = truncated = nonfinite = 0
        bar = tqdm(total=len(requests), disable=self.rank != 0, desc="rsmmvp_clip")
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start:start + self.batch_size]
            images, texts, counts = [], [], []
            for req in chunk:
                _context, _gen_kwargs, doc_to_visual, doc_id, task, split = req.args
                doc = self.task_dict[task][split][doc_id]
                visuals = doc_to_visual(doc)
                if len(visuals) != 1:
                    raise ValueError(f"rsmmvp_clip: doc {doc_id} of {task} has {len(visuals)} images; it scores one")
                images.append(visuals[0])
                options = list(doc["options"])
                texts.extend(statement(doc["question"], o, self.template) for o in options)
                counts.append(len(options))
            image_emb = self.scorer.image_embeddings(images)
            text_emb, n_truncated = self.scorer.text_embeddings(texts)
            truncated += n_truncated
            offset = 0
            for i, n in enumerate(counts):
                sims = (text_emb[offset:offset + n] @ image_emb[i]).tolist()
                offset += n
                reply = choose(sims)
                finite = all(math.isfinite(x) for x in sims)
                nonfinite += not finite
                ties += finite and reply == ""
                replies.append(reply)
            bar.update(len(chunk))
        bar.close()
        if truncated:
            _log.warning(f"rsmmvp_clip: {truncated} statement(s) were longer than the text tower's "
                         f"{getattr(self.scorer, 'max_length', '?')} tokens and were truncated; use a shorter template")
        if nonfinite:
            _log.warning(f"rsmmvp_clip: {nonfinite} question(s) had NaN or infinite scores (a numeric overflow of the "
                         f"encoder in {str(getattr(self.scorer, 'dtype', '?')).replace('torch.', '')}; try "
                         "dtype=float32) and were answered with no choice (counted as unreadable and wrong)")
        if ties:
            _log.warning(f"rsmmvp_clip: {ties} question(s) had tied best options and were answered with no choice "
                         "(counted as unreadable and wrong)")
        return replies

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("rsmmvp_clip answers generate_until tasks (the rsmmvp tasks) only")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("rsmmvp_clip answers single-round questions only")


def _batch_size(value: int | str) -> int:
    """lmms-eval's ``--batch_size`` (an int, or ``auto``/``auto:N``, which mean 32 here) as a positive int."""
    text = str(value).strip().lower()
    if text.startswith("auto"):
        return 32
    try:
        size = int(text)
    except ValueError:
        raise UsageError(f"rsmmvp_clip: --batch_size {value!r} is not a number") from None
    if size < 1:
        raise UsageError(f"rsmmvp_clip: --batch_size must be at least 1, not {size}")
    return size
