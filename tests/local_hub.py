"""A small Hugging Face hub on 127.0.0.1 for the submit/collect tests: a real HTTP server, recording requests.

It implements just the routes ``huggingface_hub`` uses for ``HfApi.create_commit(..., create_pr=True)``
(``preupload``, ``commit``) and for ``snapshot_download`` of a dataset repo (``revision``, ``tree``,
``resolve``). Every request is recorded (method, path, query, headers, body) for the test to inspect.

Simplification: a pull request is merged at once (its files become the repo's ``main``), so a test
can read back what it submitted; the request still says ``create_pr=1``, which is what is checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Repo:
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        digest = hashlib.sha1(json.dumps(sorted((p, hashlib.sha1(b).hexdigest()) for p, b in self.files.items())).encode())
        return digest.hexdigest()


def _blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class _HubHandler(BaseHTTPRequestHandler):
    """The routes of :class:`LocalHub` (``hub``: the hub it serves, set per server)."""

    hub: "LocalHub"

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def _record(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        req = Request(self.command, unquote(url.path), parse_qs(url.query),
                      {k.lower(): v for k, v in self.headers.items()}, body)
        self.hub.requests.append(req)
        return req

    def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_POST(self) -> None:
        req = self._record()
        parts = req.path.strip("/").split("/")
        if parts == ["api", "repos", "create"]:  # HfApi.create_repo (exist_ok: 409 for an existing repo)
            body = json.loads(req.body or b"{}")
            repo_id = f"{body.get('organization') or 'user'}/{body['name']}"
            if repo_id in self.hub.repos:
                return self._send(409, {"error": "You already created this dataset repo", "url": repo_id})
            self.hub.repos[repo_id] = Repo()
            return self._send(200, {"url": f"{self.hub.endpoint}/datasets/{repo_id}"})
        if parts == ["api", "validate-yaml"]:  # a README.md's header is checked before its commit
            return self._send(200, {"errors": [], "warnings": []})
        # /api/datasets/ORG/NAME/(preupload|commit)/REV
        if len(parts) == 6 and parts[:2] == ["api", "datasets"] and parts[4] in ("preupload", "commit"):
            repo_id = f"{parts[2]}/{parts[3]}"
            if repo_id not in self.hub.repos:
                return self._send(404, {"error": f"Repository {repo_id} not found"},
                                  {"X-Error-Code": "RepoNotFound"})
            if parts[4] == "preupload":
                files = json.loads(req.body)["files"]
                return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                   "shouldIgnore": False} for f in files]})
            return self._commit(repo_id, req)
        self._send(404, {"error": "no such route"})

    def _commit(self, repo_id: str, req: Request) -> None:
        repo = self.hub.repos[repo_id]
        header, added = {}, {}
        for line in req.body.decode().splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                header = item["value"]
            elif item["key"] == "file":
                value = item["value"]
                assert value.get("encoding") == "base64", value.get("encoding")
                added[value["path"]] = base64.b64decode(value["content"])
        repo.files.update(added)  # the pull request, merged at once (see the module docstring)
        number = len(repo.commits) + 1
        repo.commits.append({"header": header, "files": sorted(added), "create_pr": req.query.get("create_pr")})
        base = self.hub.endpoint
        self._send(200, {"commitUrl": f"{base}/datasets/{repo_id}/commit/{repo.sha}", "commitOid": repo.sha,
                         "pullRequestUrl": f"{base}/datasets/{repo_id}/discussions/{number}"})

    def do_GET(self) -> None:
        self._get()

    def do_HEAD(self) -> None:
        self._get()

    def _get(self) -> None:
        req = self._record()
        parts = req.path.strip("/").split("/")
        if len(parts) >= 4 and parts[:2] == ["api", "datasets"]:
            repo = self.hub.repos.get(f"{parts[2]}/{parts[3]}")
            if repo is None:
                return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            if len(parts) >= 6 and parts[4] == "revision":  # repo_info
                return self._send(200, {"id": f"{parts[2]}/{parts[3]}", "sha": repo.sha, "private": False,
                                        "siblings": [{"rfilename": p} for p in sorted(repo.files)]})
            if len(parts) >= 6 and parts[4] == "tree":  # list_repo_tree (recursive)
                return self._send(200, [{"type": "file", "path": p, "size": len(b), "oid": _blob_id(b)}
                                        for p, b in sorted(repo.files.items())])
        # /datasets/ORG/NAME/resolve/REV/PATH...
        if len(parts) >= 6 and parts[0] == "datasets" and parts[3] == "resolve":
            repo = self.hub.repos.get(f"{parts[1]}/{parts[2]}")
            path = "/".join(parts[5:])
            if repo is None or path not in repo.files:
                return self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            content = repo.files[path]
            return self._send(200, raw=content, headers={"X-Repo-Commit": repo.sha,
                                                         "ETag": f'"{_blob_id(content)}"'})
        self._send(404, {"error": "no such route"})


class LocalHub:
    """``with LocalHub() as hub: ... hub.endpoint ... hub.requests``; dataset repos in ``hub.repos``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.repos: dict[str, Repo] = {}
        handler = type("Handler", (_HubHandler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "LocalHub":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
