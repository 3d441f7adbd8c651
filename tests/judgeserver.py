"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for the judge tests (no mock object).

:class:`JudgeServer` runs ``http.server`` in a thread, serves ``POST <prefix>/chat/completions``,
records every request (path, headers -- looked up case-insensitively --, JSON body) and answers according to its ``mode``:

- ``"rules"``: the verdict from :attr:`JudgeServer.verdicts` -- the first ``(substring, answer)``
  whose substring occurs in the reply being judged -- else :attr:`JudgeServer.default`;
- ``"error"``: HTTP :attr:`JudgeServer.status` with :attr:`JudgeServer.error_body`;
- ``"not_json"``: HTTP 200 with an HTML body; ``"no_content"``: 200 JSON without ``choices``;
- ``"slow"``: waits :attr:`JudgeServer.delay` seconds before answering as ``"rules"``;
- ``"reasoning"``: as a reasoning model's API: HTTP 400 (OpenAI's wording) for a request with
  ``max_tokens`` or a ``temperature``, else as ``"rules"``.

``JudgeServer.fail_first`` makes the first N requests answer HTTP 500 whatever the mode.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JudgeServer:
    def __init__(self, prefix: str = "/v1") -> None:
        self.prefix = prefix
        self.requests: list[dict[str, Any]] = []
        self.mode = "rules"
        self.verdicts: list[tuple[str, str]] = []
        self.default = "none"
        self.status = 500
        self.error_body = "internal error"
        self.delay = 0.0
        self.fail_first = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with server._lock:
                    server.requests.append({"path": self.path, "headers": self.headers, "body": body})  # case-insensitive
                    n = len(server.requests)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server._answer(self, body, n)
                finally:
                    with server._lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.prefix}"

    def __enter__(self) -> "JudgeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- answers -------------------------------------------------------------------------------

    @staticmethod
    def judged_reply(body: Any) -> str:
        """The reply the judge was asked about (between the prompt's markers)."""
        text = body["messages"][-1]["content"]
        found = re.search(r"<<<REPLY\n(.*)\nREPLY>>>", text, re.DOTALL)
        return found.group(1) if found else ""

    def _send(self, handler: BaseHTTPRequestHandler, status: int, payload: bytes, ctype: str) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test): nothing to say
            pass

    def _answer(self, handler: BaseHTTPRequestHandler, body: Any, n: int) -> None:
        if handler.path != f"{self.prefix}/chat/completions" or body is None:
            self._send(handler, 404, b'{"error": "not found"}', "application/json")
            return
        if n <= self.fail_first:
            self._send(handler, 500, b'{"error": "warming up"}', "application/json")
            return
        if self.mode == "error":
            self._send(handler, self.status, self.error_body.encode(), "application/json")
            return
        if self.mode == "not_json":
            self._send(handler, 200, b"<html>hello</html>", "text/html")
            return
        if self.mode == "no_content":
            self._send(handler, 200, b'{"object": "chat.completion"}', "application/json")
            return
        if self.mode == "reasoning" and ("max_tokens" in body or "temperature" in body):
            if "max_tokens" in body:
                message = ("Unsupported parameter: 'max_tokens' is not supported with this model. "
                           "Use 'max_completion_tokens' instead.")
            else:
                message = "Unsupported value: 'temperature' does not support 0 with this model."
            error = {"error": {"message": message, "type": "invalid_request_error", "code": "unsupported_parameter"}}
            self._send(handler, 400, json.dumps(error).encode(), "application/json")
            return
        if self.mode == "slow":
            time.sleep(self.delay)
        reply = self.judged_reply(body)
        verdict = next((answer for sub, answer in self.verdicts if sub in reply), self.default)
        payload = {
            "id": f"cmpl-{n}",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": verdict}, "finish_reason": "stop"}],
        }
        self._send(handler, 200, json.dumps(payload).encode(), "application/json")
