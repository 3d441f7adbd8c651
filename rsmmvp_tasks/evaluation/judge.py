"""An optional LLM judge for the replies the rules cannot read -- and only those.

:func:`rsmmvp_tasks.evaluation.answers.extract_choice` returns ``None`` when a reply states no single
choice. With a judge configured, such a reply (and no other: a reply the rules read is never sent,
never overridden) is shown to a chat model together with the question and the lettered options,
and the model must answer with one option letter or the word ``none``. Anything else it says counts
as unreadable, and so does a judge that cannot be reached: the reply then stays unreadable, exactly
as without a judge.

Configuration (environment only; nothing changes and no network call is made unless both of the
first two are set):

=================================  ==========================================================
``RSMMVP_JUDGE_BASE_URL``          an OpenAI-compatible API, e.g. ``http://127.0.0.1:8000/v1``
                                   (vLLM, llama.cpp ``server``, a hosted API); requests go to
                                   ``<base>/chat/completions``
``RSMMVP_JUDGE_MODEL``             the model name sent in each request (part of the cache key)
``RSMMVP_JUDGE_API_KEY``           bearer token; else ``OPENAI_API_KEY``; none for local servers
                                   (then no ``Authorization`` header is sent). Never logged, never
                                   written to a file or a result
``RSMMVP_JUDGE_TIMEOUT``           seconds per request (default 30)
``RSMMVP_JUDGE_RETRIES``           retries after a timeout, a refused connection, HTTP 408/409/
                                   429/5xx (default 3), by the ``openai`` client: exponential
                                   backoff from 0.5 s with jitter, or the server's ``Retry-After``
``RSMMVP_JUDGE_CONCURRENCY``       requests in flight at once, per process (default 4; lmms-eval
                                   calls ``process_results`` from 4 threads)
``RSMMVP_JUDGE_MAX_TOKENS``        the token limit of each request (default 16; 0 leaves it out,
                                   for APIs that refuse it): ``max_tokens``, or
                                   ``max_completion_tokens`` (and no ``temperature``) for reasoning
                                   models, as lmms-eval's own judge sends them (names starting
                                   ``gpt-5``, ``o1``, ``o3``, ``o4``, or any model whose API refuses
                                   ``max_tokens`` or ``temperature`` with an HTTP 400; asked again
                                   its way at once)
``RSMMVP_CACHE``                   cache root (default ``~/.cache/rsmmvp``); verdicts are kept in
                                   ``<root>/judge/``
=================================  ==========================================================

Cache: a verdict (a letter or ``none``) is stored under the sha256 of (judge model, prompt version,
question, options, reply), one small JSON file each, written atomically; re-scoring the same
replies never asks twice, across processes and runs. Failures and unreadable verdicts are not
cached (a fixed server is asked again).

Transport: the ``openai`` client (``openai.OpenAI(base_url=..., api_key=..., timeout=...,
max_retries=...)``; it comes with lmms-eval), whose typed errors map onto this policy: a status
error after the client's retries, a timeout or a refused connection is ``failed`` (not cached,
asked again next time); an answer that is not a chat completion, or has no text, is ``failed``
without a retry. An HTTP 401/403/404 (``AuthenticationError``, ``PermissionDeniedError``,
``NotFoundError``: wrong key, wrong model or URL) turns the judge off for the rest of the process
after one warning; the replies it would have been asked about stay unreadable and are counted as
``failed`` in :func:`summarize`. A judge on this machine (``localhost``, ``127.0.0.1``, ``::1``) is
reached directly, whatever ``http_proxy`` says. A base URL with ``user:password@`` is refused (it
never authenticates such an API, and would be logged); every message passes through
:func:`rsmmvp_tasks.secrets.redact` with the key.

What a run records (per question, only when a judge is configured; see :func:`judge_fields`):
``pred_rules`` (what the rules read), ``judge_status`` (``not_needed`` when the rules read it, else
``answered`` / ``none`` / ``unreadable`` / ``failed``), ``pred_judge`` (the judge's letter or
``None``), ``judge_model`` and ``judge_prompt`` (:data:`PROMPT_VERSION`); ``pred`` is the rules'
letter, else the judge's. :func:`summarize` turns the records into the ``judge`` entry of a run's
details, which says which judge (model, prompt version) read the run and whether it was ``active``.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from rsmmvp_tasks.errors import UsageError
from rsmmvp_tasks.fileio import atomic_write_text
from rsmmvp_tasks.paths import cache_root
from rsmmvp_tasks.schema import option_letters
from rsmmvp_tasks.secrets import redact, scrub_url

__all__ = [
    "ENV_BASE_URL",
    "ENV_MODEL",
    "ENV_API_KEY",
    "NO_CHOICE",
    "PROMPT_VERSION",
    "JudgeConfig",
    "JudgeOutcome",
    "Judge",
    "judge_messages",
    "parse_verdict",
    "get_judge",
    "disabled",
    "judge_fields",
    "summarize",
]

log = logging.getLogger(__name__)

ENV_BASE_URL = "RSMMVP_JUDGE_BASE_URL"
ENV_MODEL = "RSMMVP_JUDGE_MODEL"
ENV_API_KEY = "RSMMVP_JUDGE_API_KEY"
ENV_FALLBACK_KEY = "OPENAI_API_KEY"

#: the judge's answer for "the reply chooses no option"
NO_CHOICE = "none"
#: bump when the judge's prompt changes: older cached verdicts are then not reused
PROMPT_VERSION = "1"
#: the longest reply sent (characters); longer ones keep their start and their end, where answers are
MAX_REPLY_CHARS = 12000
#: judge_status values
STATUSES = ("not_needed", "answered", "none", "unreadable", "failed")
#: statuses of a reply the judge gave a verdict on (the server answered, now or in the cache)
VERDICT_STATUSES = ("answered", "none", "unreadable")
#: errors that turn the judge off: HTTP 401, 403, 404 (wrong key, wrong model or URL)
_FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
#: model names that take ``max_completion_tokens`` and no ``temperature`` (as lmms-eval's judge provider)
REASONING_PREFIXES = ("gpt-5", "o1", "o3", "o4")
#: hosts that are this machine: reached without any proxy
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

SYSTEM_PROMPT = (
    "You read a reply that another model wrote to a multiple-choice question and report which option the "
    "reply chooses. Do not answer the question yourself and do not judge whether the reply is right. "
    "Answer with only the letter of the option the reply chooses. If the reply chooses no option, chooses "
    "more than one, refuses, or is unclear, answer with only the word none."
)


def _env_number(environ: Mapping[str, str], name: str, default: float, *, minimum: float, integer: bool) -> Any:
    raw = environ.get(name, "").strip()
    if not raw:
        return int(default) if integer else float(default)
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        kind = "an integer" if integer else "a number"
        raise UsageError(f"{name}={raw!r} is not {kind} >= {minimum:g}; unset it for the default ({default:g})")
    return value


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how to talk to it. ``api_key`` is excluded from ``repr``."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    retries: int = 3
    concurrency: int = 4
    max_tokens: int = 16
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if not re.match(r"^https?://[^/\s]+", self.base_url):
            raise UsageError(
                f"{ENV_BASE_URL}={scrub_url(self.base_url)!r} is not an http(s) URL; set it to an OpenAI-compatible "
                "API such as http://127.0.0.1:8000/v1"
            )
        if "@" in urllib.parse.urlsplit(self.base_url).netloc:  # never logged, never sent: it does not authenticate
            raise UsageError(
                f"{ENV_BASE_URL}={scrub_url(self.base_url)} holds a user name or password, which does not "
                f"authenticate an OpenAI-compatible API: remove 'user:password@' and put the key in {ENV_API_KEY}"
            )
        if not self.model.strip():
            raise UsageError(f"{ENV_MODEL} is empty; set it to the judge model's name")

    @property
    def endpoint(self) -> str:
        """``<base_url>/chat/completions`` (a base URL that already ends so is used as is)."""
        return self.api_base + "/chat/completions"

    @property
    def api_base(self) -> str:
        """The API root the ``openai`` client is given: ``base_url`` without a ``/chat/completions`` ending."""
        base = self.base_url.rstrip("/")
        return base[: -len("/chat/completions")] if base.endswith("/chat/completions") else base

    @property
    def reasoning(self) -> bool:
        """Whether the model is a reasoning model by name (:data:`REASONING_PREFIXES`)."""
        return self.model.strip().startswith(REASONING_PREFIXES)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "JudgeConfig | None":
        """The configuration in the environment, or ``None`` when no judge is configured.

        Raises :class:`~rsmmvp_tasks.errors.UsageError` when only one of the URL and the model is
        set, or a number is malformed: a half-configured judge is a mistake, not "no judge".
        """
        env = os.environ if environ is None else environ
        base_url, model = env.get(ENV_BASE_URL, "").strip(), env.get(ENV_MODEL, "").strip()
        if not base_url and not model:
            return None
        if not base_url or not model:
            have, lack = (ENV_BASE_URL, ENV_MODEL) if base_url else (ENV_MODEL, ENV_BASE_URL)
            raise UsageError(f"{have} is set but {lack} is not: set both to use the judge, or neither")
        if env.get("RSMMVP_JUDGE_BACKOFF", "").strip():
            log.warning("RSMMVP_JUDGE_BACKOFF is no longer read: the openai client waits 0.5 s, doubling, between "
                        "retries (or what the server's Retry-After says); unset it")
        return cls(
            base_url=base_url,
            model=model,
            api_key=(env.get(ENV_API_KEY) or env.get(ENV_FALLBACK_KEY) or "").strip() or None,
            timeout=_env_number(env, "RSMMVP_JUDGE_TIMEOUT", 30, minimum=0.001, integer=False),
            retries=_env_number(env, "RSMMVP_JUDGE_RETRIES", 3, minimum=0, integer=True),
            concurrency=_env_number(env, "RSMMVP_JUDGE_CONCURRENCY", 4, minimum=1, integer=True),
            max_tokens=_env_number(env, "RSMMVP_JUDGE_MAX_TOKENS", 16, minimum=0, integer=True),
            cache_dir=cache_root() / "judge",
        )


@dataclass(frozen=True)
class JudgeOutcome:
    """What the judge made of one reply.

    ``status``: ``answered`` (``pred`` is a letter), ``none`` (the judge says no option is chosen),
    ``unreadable`` (the judge said something else) or ``failed`` (no usable answer from the server).
    """

    pred: str | None
    status: str
    cached: bool = False


def _shorten(reply: str) -> str:
    if len(reply) <= MAX_REPLY_CHARS:
        return reply
    half = MAX_REPLY_CHARS // 2
    return reply[:half] + "\n[... middle of the reply left out ...]\n" + reply[-half:]


def judge_messages(question: str, options: Sequence[str], reply: str) -> list[dict[str, str]]:
    """The chat messages the judge gets: the instructions, then the question, options and reply."""
    letters = option_letters(len(options))
    listed = "\n".join(f"{letter}. {text}" for letter, text in zip(letters, options, strict=True))
    user = (
        f"Question:\n{question.strip()}\n\nOptions:\n{listed}\n\n"
        f"Reply to read (between the markers):\n<<<REPLY\n{_shorten(reply)}\nREPLY>>>\n\n"
        f"Which option does the reply choose? Answer with exactly one of: {', '.join(letters)}, none."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_WRAPPING = " \t\r\n\"'`*_()[]{}<>"


def parse_verdict(text: Any, n_options: int) -> str | None:
    """The judge's verdict: an option letter, :data:`NO_CHOICE`, or ``None`` for anything else.

    Accepted: exactly one option letter or the word ``none`` (any case), optionally wrapped in
    quotes, brackets, markdown emphasis or followed by one period, after any ``<think>`` block.
    """
    if not isinstance(text, str):
        return None
    word = _THINK.sub("", text).strip(_WRAPPING)
    if word.endswith("."):
        word = word[:-1].strip(_WRAPPING)
    if word.lower() == NO_CHOICE:
        return NO_CHOICE
    letter = word.upper()
    return letter if letter in option_letters(n_options) else None


def _field(obj: Any, name: str) -> Any:
    """``obj[name]`` of a mapping, else the attribute ``name`` (``None`` when absent)."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _content_of(completion: Any) -> str | None:
    """``choices[0].message.content`` of a chat completion (text parts joined), or ``None``.

    ``completion`` is what the ``openai`` client returns: a ``ChatCompletion`` (fields the server
    left out are ``None``), or the body as text when the server did not answer JSON.
    """
    choices = _field(completion, "choices")
    if not isinstance(choices, list) or not choices:
        return None
    content = _field(_field(choices[0], "message"), "content")
    if isinstance(content, list):  # content parts
        texts = [_field(p, "text") for p in content]
        texts = [t for t in texts if isinstance(t, str)]
        return "".join(texts) if texts else None
    return content if isinstance(content, str) else None


def _status_reason(error: openai.APIStatusError) -> str:
    """``HTTP <code>: <start of the body>`` of a status error (to be scrubbed before it is shown)."""
    try:
        snippet = error.response.text[:300].strip().replace("\n", " ")
    except Exception:  # noqa: BLE001 - an unreadable body: the status says enough
        snippet = ""
    return f"HTTP {error.status_code}" + (f": {snippet}" if snippet else "")


class Judge:
    """Asks the configured endpoint about unreadable replies, with a cache, retries and a concurrency limit.

    Thread-safe: lmms-eval calls ``process_results`` from several threads (the ``openai`` client is
    shared by them).
    """

    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        self._slots = threading.BoundedSemaphore(config.concurrency)
        self._lock = threading.Lock()
        self._off_reason: str | None = None
        self._warned: set[str] = set()
        self._key_locks: dict[str, threading.Lock] = {}
        self._memory: dict[str, str] = {}  # verdicts of this process (also without a cache folder)
        self._completion_tokens = config.reasoning  # send max_completion_tokens (and no temperature)
        # a server on this machine is never behind a proxy, whatever http_proxy says
        local = (urllib.parse.urlsplit(config.api_base).hostname or "") in _LOOPBACK
        self._client = openai.OpenAI(
            base_url=config.api_base,
            api_key=config.api_key or "no-key",  # without a key no Authorization header is sent (_request)
            timeout=config.timeout,
            max_retries=config.retries,
            http_client=openai.DefaultHttpxClient(trust_env=False) if local else None,
        )

    def __repr__(self) -> str:
        return f"Judge(model={self.config.model!r}, endpoint={scrub_url(self.config.endpoint)!r})"

    # -- cache ---------------------------------------------------------------------------------

    def cache_key(self, question: str, options: Sequence[str], reply: str) -> str:
        """sha256 of (judge model, prompt version, question, options, reply)."""
        payload = json.dumps([self.config.model, PROMPT_VERSION, question, list(options), reply], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return None if self.config.cache_dir is None else self.config.cache_dir / key[:2] / f"{key}.json"

    def _cached(self, key: str, n_options: int) -> str | None:
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            verdict = json.loads(path.read_text(encoding="utf-8")).get("verdict")
        except (OSError, ValueError, AttributeError):
            return None  # a damaged entry is asked again (and rewritten)
        return verdict if verdict == NO_CHOICE or verdict in option_letters(n_options) else None

    def _store(self, key: str, verdict: str) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps({"model": self.config.model, "prompt": PROMPT_VERSION,
                                                "verdict": verdict}))
        except OSError as exc:  # a read-only cache costs money on the next run, nothing else
            self._warn_once("cache", f"rsmmvp judge: cannot write the cache {path.parent} ({exc}); verdicts are not kept")

    # -- requests ------------------------------------------------------------------------------

    def _warn_once(self, kind: str, message: str) -> None:
        with self._lock:
            if kind in self._warned:
                return
            self._warned.add(kind)
        log.warning("%s", self._scrub(message))

    def _scrub(self, text: str) -> str:
        """``text`` without the API key or anything shaped like one."""
        return redact(text, [self.config.api_key])

    def _request(self, messages: list[dict[str, str]]) -> Any:
        """One chat completion through the ``openai`` client (its retries included); raises its errors."""
        limit: dict[str, Any] = {}
        if self.config.max_tokens:
            limit = ({"max_completion_tokens": self.config.max_tokens} if self._completion_tokens
                     else {"max_tokens": self.config.max_tokens})
        sampling = {} if self._completion_tokens else {"temperature": 0}
        headers = None if self.config.api_key else {"Authorization": openai.omit}
        with self._slots:
            return self._client.chat.completions.create(model=self.config.model, messages=messages,  # type: ignore[arg-type]
                                                        extra_headers=headers, **limit, **sampling)

    def _ask(self, messages: list[dict[str, str]]) -> tuple[str | None, str | None]:
        """``(content, None)``, or ``(None, why)`` (module docstring: the error policy); never raises."""
        if self._off_reason is not None:
            return None, self._off_reason
        try:
            try:
                completion = self._request(messages)
            except openai.BadRequestError as error:
                reason = _status_reason(error)
                if self._completion_tokens or ("max_completion_tokens" not in reason and "'temperature'" not in reason):
                    raise
                self._completion_tokens = True  # a reasoning model the name did not tell: ask it its way
                completion = self._request(messages)
        except _FATAL_ERRORS as error:
            why = self._scrub(_status_reason(error))
            with self._lock:
                self._off_reason = f"judge off after {why}"
            self._warn_once("fatal", f"rsmmvp judge: {scrub_url(self.config.endpoint)} answered {why}; check "
                            f"{ENV_BASE_URL}, {ENV_MODEL} and the key. The judge is off for the rest of this run: "
                            "the replies it would read stay unreadable")
            return None, why
        except openai.APIStatusError as error:
            return None, self._scrub(_status_reason(error))
        except openai.APIConnectionError as error:  # refused, timed out (APITimeoutError), broken
            cause = error.__cause__ or error
            return None, self._scrub(f"no answer ({type(error).__name__}: {cause})")
        except openai.OpenAIError as error:  # e.g. a body that does not validate
            return None, self._scrub(f"unusable answer ({type(error).__name__}: {error})")
        content = _content_of(completion)
        if isinstance(completion, str):
            return None, self._scrub(f"the answer is not a chat completion ({completion[:80]!r})")
        if content is None:
            return None, "the answer has no choices[0].message.content"
        return content, None

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def judge(self, question: str, options: Sequence[str], reply: str) -> JudgeOutcome:
        """The judge's reading of ``reply`` (cached); never raises for a failing server.

        The same (question, options, reply) asked from several threads at once is sent once: the
        others wait for that verdict (the two questions of a pair often get the same reply).
        """
        options = [str(o) for o in options]
        key = self.cache_key(question, options, reply)
        with self._key_lock(key):
            return self._judge(key, question, options, reply)

    def _judge(self, key: str, question: str, options: list[str], reply: str) -> JudgeOutcome:
        verdict = self._memory.get(key) or self._cached(key, len(options))
        if verdict is not None:
            return JudgeOutcome(None if verdict == NO_CHOICE else verdict, verdict if verdict == NO_CHOICE else "answered",
                                cached=True)
        content, why = self._ask(judge_messages(question, options, reply))
        if content is None:
            self._warn_once("failed", f"rsmmvp judge: no verdict from {scrub_url(self.config.endpoint)} ({why}); such replies "
                            "stay unreadable (counted as 'failed' in the run's details)")
            return JudgeOutcome(None, "failed")
        verdict = parse_verdict(content, len(options))
        if verdict is None:
            shown = content if len(content) <= 60 else content[:57] + "..."
            self._warn_once("unreadable", f"rsmmvp judge: {self.config.model} answered {shown!r}, not a letter or "
                            "'none'; such replies stay unreadable")
            return JudgeOutcome(None, "unreadable")
        self._memory[key] = verdict
        self._store(key, verdict)
        return JudgeOutcome(None if verdict == NO_CHOICE else verdict, verdict if verdict == NO_CHOICE else "answered")

    def judge_many(self, items: Iterable[tuple[str, Sequence[str], str]]) -> list[JudgeOutcome]:
        """:meth:`judge` over ``(question, options, reply)`` items, ``concurrency`` at a time, in order."""
        from tqdm.auto import tqdm

        items = list(items)
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            futures = [pool.submit(self.judge, q, o, r) for q, o, r in items]
            return [f.result() for f in tqdm(futures, desc="judge", unit="reply", disable=len(items) < 20)]


_JUDGES: dict[JudgeConfig, Judge] = {}
_JUDGES_LOCK = threading.Lock()
_DISABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("rsmmvp_judge_disabled", default=False)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """No judge inside this block (this thread/context), whatever the environment says.

    For answers that are not model replies: a person's "can't tell" in ``rsmmvp human score`` is
    final, and must not be sent to a judge.
    """
    token = _DISABLED.set(True)
    try:
        yield
    finally:
        _DISABLED.reset(token)


def get_judge(environ: Mapping[str, str] | None = None) -> Judge | None:
    """The process's judge for the configuration in the environment (one per configuration), or ``None``
    (also inside :func:`disabled`)."""
    if _DISABLED.get():
        return None
    config = JudgeConfig.from_env(environ)
    if config is None:
        return None
    with _JUDGES_LOCK:
        judge = _JUDGES.get(config)
        if judge is None:
            judge = _JUDGES[config] = Judge(config)
        return judge


def judge_fields(question: str, options: Sequence[str], reply: str, rule_pred: str | None,
                 judge: Judge | None = None) -> tuple[str | None, dict[str, Any]]:
    """``(pred, extra record fields)`` for one reply.

    Without a judge (none given and none configured): ``(rule_pred, {})`` -- the record is unchanged.
    With one: ``pred`` is ``rule_pred`` when the rules read the reply (the judge is not asked),
    else the judge's letter (or ``None``); the fields keep both readings apart (module docstring).
    """
    judge = judge if judge is not None else get_judge()
    if judge is None:
        return rule_pred, {}
    fields: dict[str, Any] = {"pred_rules": rule_pred, "judge_model": judge.config.model,
                              "judge_prompt": PROMPT_VERSION}
    if rule_pred is not None:
        fields.update(judge_status="not_needed", pred_judge=None)
        return rule_pred, fields
    outcome = judge.judge(question, options, reply or "")
    fields.update(judge_status=outcome.status, pred_judge=outcome.pred)
    return outcome.pred, fields


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The ``judge`` entry of a run's details, or ``None`` when no record was made with a judge.

    ``{"model", "prompt_version", "active", "judged" (replies sent to the judge), "answered", "none",
    "unreadable", "failed", "unreadable_rate_before" (rules only), "unreadable_rate_after" (the
    ``pred`` scored)}``. ``model`` and ``prompt_version`` say which judge read the run (a list when
    the records disagree); ``active`` is whether the judge gave at least one verdict (``answered``,
    ``none`` or ``unreadable``, from the cache or not): a run whose judge was switched off or
    unreachable for every call, or that needed it for no reply, was scored by the rules alone, as an
    unjudged run is. A question recorded twice (same ``index``) counts once.
    """
    by_index: dict[Any, Mapping[str, Any]] = {}
    for r in records:
        by_index.setdefault(r.get("index"), r)
    judged = [r for r in by_index.values() if "judge_status" in r]
    if not judged:
        return None
    n = len(by_index)
    counts = {s: sum(r.get("judge_status") == s for r in judged) for s in STATUSES[1:]}
    models = sorted({str(r.get("judge_model")) for r in judged})
    prompts = sorted({str(r.get("judge_prompt", PROMPT_VERSION)) for r in judged})
    return {
        "model": models[0] if len(models) == 1 else models,
        "prompt_version": prompts[0] if len(prompts) == 1 else prompts,
        "active": any(counts[s] for s in VERDICT_STATUSES),
        "judged": sum(counts.values()),
        **counts,
        "unreadable_rate_before": sum(r.get("pred_rules", r.get("pred")) is None for r in by_index.values()) / n,
        "unreadable_rate_after": sum(r.get("pred") is None for r in by_index.values()) / n,
    }
