"""Is the Hugging Face hub reachable? Asked once, quickly, before a command pays for retries.

Offline, huggingface_hub, datasets and transformers each retry the hub with backoff before they look
in the local cache: 25 to 103 s of warnings (each printed twice) before the real message. A command
that may need the hub calls :func:`check_hub` first:

- ``HF_HUB_OFFLINE`` (or ``HF_DATASETS_OFFLINE`` / ``TRANSFORMERS_OFFLINE``) already set: nothing is
  probed; the process is offline.
- otherwise one probe (:func:`probe_hub`: an HTTP ``HEAD`` of the endpoint, ``HF_ENDPOINT`` or
  ``https://huggingface.co``, through the usual ``*_PROXY`` settings, with a timeout of
  :data:`PROBE_TIMEOUT` seconds, :envvar:`RSMMVP_HUB_PROBE_TIMEOUT` to change it). Any HTTP answer,
  even an error status, means reachable. The answer is remembered for the process.
- unreachable, and the command cannot work without the hub (``required``): a
  :class:`~rsmmvp_tasks.errors.ServiceError` (exit 3) naming the endpoint, the reason and the way
  out. Unreachable and the local cache may do: the process is switched to offline mode
  (:func:`go_offline`), with one line on stderr saying so, so that whatever is not cached fails at
  once with the library's "not in the cache" message.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from typing import Callable

from rsmmvp_tasks.errors import ServiceError
from rsmmvp_tasks.secrets import scrub_url

__all__ = [
    "OFFLINE_VARIABLES",
    "PROBE_TIMEOUT",
    "OFFLINE_ADVICE",
    "hub_offline",
    "hub_endpoint",
    "probe_hub",
    "go_offline",
    "check_hub",
    "forget_probes",
]

#: the variables that put huggingface_hub, datasets and transformers in offline mode
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
#: seconds the probe waits for the hub (``RSMMVP_HUB_PROBE_TIMEOUT`` overrides)
PROBE_TIMEOUT = 3.0
#: the way out printed with an unreachable hub
OFFLINE_ADVICE = ("without a network, set HF_HUB_OFFLINE=1 and use models and datasets already in the local cache "
                  "(or local folders: `hf download ORG/NAME --local-dir DIR` once while online)")

_TRUE = ("1", "true", "yes", "on")
_probed: dict[str, str | None] = {}


def hub_offline() -> bool:
    """Whether Hugging Face offline mode is on (any of :data:`OFFLINE_VARIABLES` set to 1/true/yes/on)."""
    return any(os.environ.get(k, "").strip().lower() in _TRUE for k in OFFLINE_VARIABLES)


def hub_endpoint() -> str:
    """The hub this process talks to: ``HF_ENDPOINT``, else ``https://huggingface.co`` (no trailing ``/``)."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").strip().rstrip("/")


def _timeout() -> float:
    try:
        value = float(os.environ.get("RSMMVP_HUB_PROBE_TIMEOUT", "") or PROBE_TIMEOUT)
    except ValueError:
        return PROBE_TIMEOUT
    return value if value > 0 else PROBE_TIMEOUT


def probe_hub(endpoint: str | None = None, timeout: float | None = None) -> str | None:
    """``None`` when ``endpoint`` (default :func:`hub_endpoint`) answers HTTP, else why not (one line).

    One ``HEAD`` request; the result is remembered per endpoint for the life of the process.
    """
    url = endpoint or hub_endpoint()
    if url in _probed:
        return _probed[url]
    reason: str | None
    try:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "rsmmvp-hub-probe"})
        with urllib.request.urlopen(request, timeout=timeout or _timeout()):
            reason = None
    except urllib.error.HTTPError:
        reason = None  # the server answered: reachable
    except (urllib.error.URLError, OSError, ValueError) as exc:
        inner = getattr(exc, "reason", exc)
        reason = f"{type(inner).__name__}: {inner}".strip()
    _probed[url] = reason
    return reason


def forget_probes() -> None:
    """Forget every remembered :func:`probe_hub` answer (the next call probes again)."""
    _probed.clear()


def go_offline() -> None:
    """Put this process (and its children) in Hugging Face offline mode.

    Sets :data:`OFFLINE_VARIABLES`; libraries already imported read their switch at import time, so
    ``huggingface_hub.constants.HF_HUB_OFFLINE`` and ``datasets.config.HF_HUB_OFFLINE`` are set too
    when those modules are loaded.
    """
    for name in OFFLINE_VARIABLES:
        os.environ[name] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
        constants.HF_HUB_OFFLINE = True
    config = sys.modules.get("datasets.config")
    if config is not None and hasattr(config, "HF_HUB_OFFLINE"):
        config.HF_HUB_OFFLINE = True


def check_hub(what: str, *, required: bool, say: Callable[[str], None] | None = None,
              endpoint: str | None = None) -> bool:
    """Whether ``what`` (a command, as shown in messages) may use the hub; see the module docstring.

    Returns True when the hub answered, False when the process is offline (it was, or now is).
    Raises :class:`~rsmmvp_tasks.errors.ServiceError` when the hub is unreachable or offline mode is
    on and ``required``. ``say`` prints the one-line notice of the switch to offline mode (default:
    stderr). ``endpoint``: the hub to probe (default :func:`hub_endpoint`).
    """
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    if hub_offline():
        if required:
            raise ServiceError(f"{what}: needs the Hugging Face hub, but offline mode is on (HF_HUB_OFFLINE); "
                               "unset it and retry when online")
        return False
    reason = probe_hub(endpoint)
    if reason is None:
        return True
    shown = scrub_url(endpoint)
    if required:
        raise ServiceError(f"{what}: the Hugging Face hub at {shown} cannot be reached ({reason}); check the network "
                           "(or HF_ENDPOINT, HTTPS_PROXY) and retry")
    go_offline()
    (say or (lambda line: print(line, file=sys.stderr, flush=True)))(
        f"{what}: the Hugging Face hub at {shown} cannot be reached ({reason}): running offline (HF_HUB_OFFLINE=1), "
        f"from the local cache only; {OFFLINE_ADVICE}")
    return False
