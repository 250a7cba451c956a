"""A local HTTP server speaking the Hugging Face Hub endpoints that the real ``huggingface_hub`` client
uses to upload (create repo, preupload, commit, validate-yaml, repo/revision info) and to download
(HEAD/GET ``resolve``) files, so uploads and ``from_pretrained(repo_id)`` are tested without network.

Files of a repo live under ``root/<type>s/<namespace>/<name>/``; every request needs ``TOKEN``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import yaml

TOKEN = "hf_local_test_token"
REPO_TYPES = ("datasets", "spaces")  # URL prefixes of non-model repos; models have none


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of ``data``: the Hub's ETag/oid of a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check_card_metadata(header: dict, repo_type: str) -> None:
    """Raise if a card's front matter lacks what the tests rely on: a dataset card's ``configs`` and
    ``dataset_info.features``; for a model card, ``model-index`` results (when present) with task and metrics."""
    assert isinstance(header, dict), "the front matter is not a mapping"
    if repo_type == "dataset":
        assert isinstance(header["configs"], list) and header["dataset_info"]["features"]
    for entry in header.get("model-index", []):
        assert entry["name"] and all(r["task"]["type"] and all("type" in m and "value" in m for m in r["metrics"])
                                     for r in entry["results"])


class LocalHub(ThreadingHTTPServer):
    """The server; records created repos, commits (``{"oid", "repo", "files"}``), POSTs and validated cards."""

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.root, self.commits, self.created, self.requests, self.validated = root, [], [], [], []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def head(self, repo: Path) -> str:
        """The id of the last commit to ``repo`` (zeros before the first one)."""
        return next((c["oid"] for c in reversed(self.commits) if c["repo"] == repo), "0" * 40)


class HubHandler(BaseHTTPRequestHandler):
    server: LocalHub

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, payload: dict | list, **headers: str) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"error": "Invalid credentials in Authorization header"})
            return False
        return True

    def _parts(self) -> list[str]:
        return [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]

    def _repo(self, parts: list[str]) -> Path:
        return self.server.root / parts[1] / parts[2] / parts[3]   # api/<type>s/<ns>/<name>/...

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        parts = self._parts()
        self.server.requests.append((self.command, self.path))
        if not self._authorised():
            return
        if len(parts) >= 4 and parts[0] == "api":   # repo info (also at /revision/<rev>) and /tree/<rev>[/<path>]
            return self._repo_api(self._repo(parts), parts[4:])
        repo_type, parts = (parts[0], parts[1:]) if parts[0] in REPO_TYPES else ("models", parts)
        if len(parts) >= 5 and parts[2] == "resolve":   # <ns>/<name>/resolve/<revision>/<path>
            return self._resolve(self.server.root / repo_type / parts[0] / parts[1], parts[3], "/".join(parts[4:]))
        self._reply(404, {"error": f"unknown endpoint {self.path}"})

    def _repo_api(self, repo: Path, rest: list[str]) -> None:
        """Repo info with ``sha`` and ``siblings``, or the recursive file listing ``snapshot_download`` reads."""
        if not repo.is_dir():
            return self._reply(404, {"error": "Repository not found"}, X_Error_Code="RepoNotFound")
        head = self.server.head(repo)
        if len(rest) >= 2 and rest[1] not in ("main", head):
            return self._reply(404, {"error": f"Invalid rev id: {rest[1]}"}, X_Error_Code="RevisionNotFound")
        files = [(p.relative_to(repo).as_posix(), p) for p in sorted(repo.rglob("*")) if p.is_file()]
        if rest[:1] == ["tree"]:
            under = "/".join(rest[2:])
            return self._reply(200, [{"type": "file", "path": name, "size": p.stat().st_size,
                                      "oid": git_blob_sha1(p.read_bytes())}
                                     for name, p in files if name.startswith(under)])
        return self._reply(200, {"id": f"{repo.parent.name}/{repo.name}", "sha": head, "private": False,
                                 "siblings": [{"rfilename": name} for name, _ in files]})

    def _resolve(self, repo: Path, revision: str, path: str) -> None:
        """A committed file with the headers ``hf_hub_download`` requires (X-Repo-Commit, ETag, size)."""
        if not repo.is_dir():
            return self._reply(404, {"error": "Repository not found"}, X_Error_Code="RepoNotFound")
        head = self.server.head(repo)
        if revision not in ("main", head):
            return self._reply(404, {"error": f"Invalid rev id: {revision}"}, X_Error_Code="RevisionNotFound")
        target = repo / path
        if not target.is_file():   # transformers probes optional files (templates, ...) and expects this
            return self._reply(404, {"error": "Entry not found"}, X_Error_Code="EntryNotFound", X_Repo_Commit=head)
        data = target.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{git_blob_sha1(data)}"')
        self.send_header("X-Repo-Commit", head)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = self._parts()
        self.server.requests.append(("POST", self.path))
        if not self._authorised():
            return
        if parts[:2] == ["api", "validate-yaml"]:   # a card's front matter, checked before upload
            request = json.loads(body)
            try:
                header = yaml.safe_load(request["content"].split("---\n", 2)[1])
                check_card_metadata(header, request.get("repoType") or "model")
            except Exception as error:  # noqa: BLE001 - report any malformed card as the Hub does
                return self._reply(400, {"errors": [{"message": f"invalid card metadata: {error!r}"}]})
            self.server.validated.append(header)
            return self._reply(200, {"errors": [], "warnings": []})
        if parts[:3] == ["api", "repos", "create"]:
            request = json.loads(body)
            repo_type = request.get("type") or "model"
            repo = self.server.root / f"{repo_type}s" / request["organization"] / request["name"]
            repo.mkdir(parents=True, exist_ok=True)
            self.server.created.append(request)
            prefix = "" if repo_type == "model" else f"{repo_type}s/"
            return self._reply(200, {"url": f"{self.server.url}/{prefix}{request['organization']}/{request['name']}"})
        if len(parts) < 5:
            return self._reply(404, {"error": f"unknown endpoint {self.path}"})
        repo = self._repo(parts)
        if not repo.is_dir():
            return self._reply(404, {"error": "Repository not found"}, X_Error_Code="RepoNotFound")
        if parts[4] == "preupload":
            files = json.loads(body)["files"]
            answer = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                       "oid": git_blob_sha1((repo / f["path"]).read_bytes()) if (repo / f["path"]).is_file() else None}
                      for f in files]
            return self._reply(200, {"files": answer})
        if parts[4] == "commit":
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            assert lines[0]["key"] == "header"
            written = []
            for line in lines[1:]:
                assert line["key"] == "file" and line["value"]["encoding"] == "base64", line["key"]
                target = repo / line["value"]["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(base64.b64decode(line["value"]["content"]))
                written.append(line["value"]["path"])
            oid = hashlib.sha1(body).hexdigest()
            self.server.commits.append({"oid": oid, "repo": repo, "files": written})
            return self._reply(200, {"commitUrl": f"{self.server.url}/{parts[1]}/{parts[2]}/{parts[3]}/commit/{oid}",
                                     "commitOid": oid, "pullRequestUrl": None})
        self._reply(404, {"error": f"unknown endpoint {self.path}"})
