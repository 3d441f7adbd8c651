"""The one place that knows what a secret looks like, and how to hide it.

Every module that shows, logs or stores text that may carry a credential goes through this module
(one pattern set for the whole package):

- :func:`redact` -- free text (log lines, error messages, ``--model_args``) with every secret
  replaced by :data:`REDACTED`;
- :func:`scrub_url` -- a URL without its userinfo (``http://user:pass@host`` -> ``http://***@host``)
  and without secret query values;
- :func:`is_secret_key` -- whether a parameter / variable / header name names a secret;
- :func:`drop_secret_args` -- a mapping without the entries that are secrets;
- :func:`install_log_redaction` -- every loguru and stdlib log message of the process redacted;
- :class:`RedactingStream` -- a text stream (``sys.stdout``) that redacts what is written to it.

What counts as a secret (the contract of :func:`redact`):

1. **Token-shaped values**, wherever they appear: Hugging Face tokens (``hf_`` + 20 or more
   letters/digits), OpenAI-style keys (``sk-`` + 16 or more), GitHub tokens (``ghp_``, ``gho_``,
   ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``), the credential after ``Bearer``, and the one
   after ``Authorization: Basic``.
2. **Values of secret-named keys**, written ``key=value``, ``key: value``, ``'key': 'value'`` or
   ``"key": "value"``, where the key names a secret by :func:`is_secret_key` (``token``,
   ``hf_token``, ``api_key``, ``X-Api-Key``, ``password``, ``client_secret``, ...) -- unless the value is
   empty, ``None``/``null`` or ``True``/``False`` (a flag, not a secret). ``max_new_tokens`` is not a
   secret name.
3. **URL userinfo**: ``scheme://anything@host`` -> ``scheme://***@host`` (a URL with credentials
   in it never authenticates an OpenAI-compatible client anyway).
4. **Known literal secrets** passed by the caller (``redact(text, [api_key])``) -- for a key that
   has none of the shapes above.

:func:`redact` is idempotent: ``redact(redact(t)) == redact(t)``.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from typing import Any, Iterable, Mapping, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "redact",
    "redact_secrets",
    "scrub_url",
    "is_secret_key",
    "drop_secret_args",
    "install_log_redaction",
    "RedactingStream",
]

#: what a secret is replaced by
REDACTED = "***"

#: a name part that alone makes a name secret (``hf_token``, ``db_password``, ``client_secret``)
_SECRET_WORDS = frozenset({"token", "secret", "password", "passwd", "pwd", "apikey", "passphrase", "credential",
                           "credentials", "cookie"})
#: two consecutive name parts that make a name secret (``api_key``, ``X-Api-Key``, ``access_key``)
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
                           ("auth", "key"), ("session", "key")})
#: values of a secret-named key that are not secrets (left as they are)
_NOT_SECRET = frozenset({"", "none", "null", "true", "false", REDACTED})

#: ``name <sep> value``: a name (letters, digits, ``_``, ``-``; optionally quoted) then ``=`` or ``:``
_KEY_VALUE = re.compile(
    r"(?P<key>(?<![\w.])(?P<name>[A-Za-z_][\w-]*)(?P<kq>['\"]?)\s*[:=]\s*)"
    r"(?:(?P<q>['\"])(?P<quoted>(?:(?!(?P=q)).)*)(?P=q)|(?P<bare>[^\s,;&'\"}\])]+))"
)
#: token-shaped values, replaced wherever they appear
_TOKEN_SHAPED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{20,}"), "hf_" + REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}"), "sk-" + REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])(gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"), r"\g<1>" + REDACTED),
    (re.compile(r"(?i)\b(bearer\s+)(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}"), r"\g<1>" + REDACTED),
    (re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?basic\s+)(?!\*\*\*)[A-Za-z0-9+/]{4,}={0,2}"),
     r"\g<1>" + REDACTED),
)
#: ``scheme://userinfo@`` (userinfo holds no ``/``, ``@`` or whitespace)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"<>]+@")


def is_secret_key(name: str) -> bool:
    """Whether ``name`` (a parameter, variable, header or JSON key) names a secret.

    The name is split into parts at every non-alphanumeric character and at lower-to-upper case
    changes (``hfToken`` -> ``hf``, ``token``); it names a secret when one part is a secret word
    (``token``, ``secret``, ``password``, ``passwd``, ``pwd``, ``apikey``, ``passphrase``,
    ``credential(s)``, ``cookie``) or two consecutive parts are ``api key``, ``access key``,
    ``private key``, ``secret key``, ``auth key`` or ``session key``. Parts are whole:
    ``max_new_tokens``, ``tokenizer`` and ``hf_hub_log_args`` are not secret names.
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if p]
    if any(p in _SECRET_WORDS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


def _redact_key_value(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("name")):
        return match.group(0)
    value = match.group("quoted") if match.group("q") else match.group("bare")
    if value is None or value.strip().lower() in _NOT_SECRET:
        return match.group(0)
    quote = match.group("q") or ""
    return f"{match.group('key')}{quote}{REDACTED}{quote}"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret replaced by ``***`` (see the module docstring for what counts).

    ``secrets``: literal values to hide as well wherever they appear (e.g. an API key read from the
    environment); ``None``, empty and very short (< 4 characters) values are ignored, so that a
    one-letter "key" does not blank out the text. Idempotent; ``None`` or ``""`` is returned as is.
    """
    if not text:
        return text
    text = str(text)
    for literal in sorted({s for s in secrets if s and len(s) >= 4 and s != REDACTED}, key=len, reverse=True):
        text = text.replace(literal, REDACTED)
    text = _URL_USERINFO.sub(r"\g<scheme>" + REDACTED + "@", text)
    text = _KEY_VALUE.sub(_redact_key_value, text)
    for pattern, replacement in _TOKEN_SHAPED:
        text = pattern.sub(replacement, text)
    return text


#: the former name of :func:`redact` (``rsmmvp_tasks.redact_secrets``), kept for callers of the API
redact_secrets = redact


def scrub_url(url: str) -> str:
    """``url`` without credentials: userinfo -> ``***`` and secret query values -> ``***``.

    ``http://user:pass@host:8000/v1?api_key=x&a=1`` -> ``http://***@host:8000/v1?api_key=***&a=1``.
    Text that does not parse as a URL is passed through :func:`redact`.
    """
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return redact(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_secret_key(k) and v else v) for k, v in pairs], safe="*")
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def drop_secret_args(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """``mapping`` without the entries that are secrets, order kept.

    An entry is dropped when its key names a secret (:func:`is_secret_key`) and its value is not a
    flag (``True``/``False``/``None``/empty), or when its value, as text, holds a token-shaped secret
    (``hf_...``, ``sk-...``, a URL with userinfo).
    """
    kept: dict[str, Any] = {}
    for key, value in mapping.items():
        text = "" if value is None else str(value)
        if is_secret_key(str(key)) and text.strip().lower() not in _NOT_SECRET:
            continue
        if text and redact(text) != text:
            continue
        kept[key] = value
    return kept


# --------------------------------------------------------------------------- logs and streams

_REDACTOR_FLAG = "_rsmmvp_redactor"


def install_log_redaction() -> bool:
    """Pass every log message of this process through :func:`redact`; idempotent.

    - loguru (lmms-eval's logger): a core patcher, chained after any patcher already configured.
      A patcher survives ``logger.remove()`` / ``logger.add()`` and runs before every handler.
    - stdlib ``logging``: a record factory that stores the redacted, formatted message.

    Returns True when loguru is covered, False when loguru is not importable (stdlib logging is
    still covered).
    """
    _install_stdlib_redaction()
    try:
        from loguru import logger as loguru_logger
    except ImportError:  # pragma: no cover - loguru comes with lmms-eval
        return False
    previous = getattr(getattr(loguru_logger, "_core", None), "patcher", None)
    if getattr(previous, _REDACTOR_FLAG, False):
        return True

    def patcher(record: Any) -> None:
        if previous is not None:
            previous(record)
        record["message"] = redact(record["message"])

    setattr(patcher, _REDACTOR_FLAG, True)
    loguru_logger.configure(patcher=patcher)
    return True


def _install_stdlib_redaction() -> None:
    factory = logging.getLogRecordFactory()
    if getattr(factory, _REDACTOR_FLAG, False):
        return

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    setattr(redacting_factory, _REDACTOR_FLAG, True)
    logging.setLogRecordFactory(redacting_factory)


class RedactingStream(io.TextIOBase):
    """A text stream that writes to ``inner`` what it is given, with secrets redacted.

    Text is held until a line ends (``\\n`` or ``\\r``, so progress bars still move), then redacted
    and written: a secret split across two ``write`` calls is still caught. :meth:`flush` writes
    what is held (redacted) and flushes ``inner``. Attributes it does not define (``encoding``,
    ``fileno``, ``isatty``, ...) are those of ``inner``.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self._inner = inner
        self._held = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:  # type: ignore[override]
        self._held += text
        cut = max(self._held.rfind("\n"), self._held.rfind("\r"))
        if cut >= 0:
            ready, self._held = self._held[: cut + 1], self._held[cut + 1:]
            self._inner.write(redact(ready))
        return len(text)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, ""
            self._inner.write(redact(held))
        self._inner.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._inner, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")

    @property
    def inner(self) -> TextIO:
        """The stream written to."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
