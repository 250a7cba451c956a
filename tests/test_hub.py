"""Upload a built dataset with the real huggingface_hub client to a local HTTP server speaking the
Hub endpoints an upload uses (create repo, preupload, commit, revision info), and to a local path."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml
from dataset_sequences import make_sequence

from builder.build_dataset import BuildConfig, build_dataset
from builder.hub import publish, push_to_hub
from builder.manifest import verify
from builder.windows import WindowConfig

TOKEN = "hf_local_test_token"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class LocalHub(ThreadingHTTPServer):
    """Stores committed files under ``root/<type>s/<namespace>/<name>/``; requires the bearer token."""

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.root, self.commits, self.created, self.requests, self.validated = root, [], [], [], []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class HubHandler(BaseHTTPRequestHandler):
    server: LocalHub

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"error": "Invalid credentials in Authorization header"})
            return False
        return True

    def _repo(self, parts: list[str]) -> Path:
        return self.server.root / parts[1] / parts[2] / parts[3]   # api/<type>s/<ns>/<name>/...

    def do_GET(self) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if not self._authorised():
            return
        if len(parts) >= 4 and parts[0] == "api" and self._repo(parts).is_dir():
            sha = self.server.commits[-1]["oid"] if self.server.commits else "0" * 40
            return self._reply(200, {"id": f"{parts[2]}/{parts[3]}", "sha": sha, "private": False})
        self._reply(404, {"error": "Repository not found"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = self.path.split("?")[0].strip("/").split("/")
        self.server.requests.append(("POST", self.path))
        if not self._authorised():
            return
        if parts[:2] == ["api", "validate-yaml"]:   # the card's front matter, checked before upload
            content = json.loads(body)["content"]
            try:
                header = yaml.safe_load(content.split("---\n", 2)[1])
                assert isinstance(header["configs"], list) and header["dataset_info"]["features"]
            except Exception as error:  # noqa: BLE001 - report any malformed card as the Hub does
                return self._reply(400, {"errors": [{"message": f"invalid card metadata: {error!r}"}]})
            self.server.validated.append(header)
            return self._reply(200, {"errors": [], "warnings": []})
        if parts[:3] == ["api", "repos", "create"]:
            request = json.loads(body)
            repo = self.server.root / f"{request['type']}s" / request["organization"] / request["name"]
            repo.mkdir(parents=True, exist_ok=True)
            self.server.created.append(request)
            return self._reply(200, {"url": f"{self.server.url}/{request['type']}s/{request['organization']}/"
                                            f"{request['name']}"})
        if len(parts) < 5:
            return self._reply(404, {"error": f"unknown endpoint {self.path}"})
        repo = self._repo(parts)
        if not repo.is_dir():
            return self._reply(404, {"error": "Repository not found"})
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
            self.server.commits.append({"oid": oid, "files": written})
            return self._reply(200, {"commitUrl": f"{self.server.url}/{parts[1]}/{parts[2]}/{parts[3]}/commit/{oid}",
                                     "commitOid": oid, "pullRequestUrl": None})
        self._reply(404, {"error": f"unknown endpoint {self.path}"})


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub_sequences")
    for i in range(3):
        make_sequence(root, f"walk{i}", source="default", subject="anny", num_frames=20, seed=i)
    out = tmp_path_factory.mktemp("hub_dataset") / "biohuman10m"
    build_dataset(root, out, BuildConfig(window=WindowConfig(size=8, stride=8), shard_bytes=40_000))
    return out


@pytest.fixture
def local_hub(tmp_path):
    hub = LocalHub(tmp_path / "hub")
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    yield hub
    hub.shutdown()
    hub.server_close()


def test_push_to_local_hub_server_with_env_token(small_dataset, local_hub, monkeypatch):
    from datasets import load_dataset

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    url = push_to_hub(small_dataset, "lab/biohuman10m-mini", endpoint=local_hub.url, private=True)
    assert url.startswith(local_hub.url) and local_hub.commits
    assert local_hub.created[0]["type"] == "dataset" and local_hub.created[0]["visibility"] == "private"
    remote = local_hub.root / "datasets" / "lab" / "biohuman10m-mini"
    uploaded = {p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()}
    assert "README.md" in uploaded and "webdataset/README.md" in uploaded and "manifest.json" in uploaded
    assert not [name for name in uploaded if name.startswith(".build")], "the window cache must not be uploaded"
    verify(remote)
    assert len(local_hub.validated) == 1   # the root card's YAML went through the Hub's check
    ours = load_dataset(str(small_dataset), split="train").with_format("numpy")
    theirs = load_dataset(str(remote), split="train").with_format("numpy")
    assert len(theirs) == len(ours) > 0
    np.testing.assert_array_equal(theirs["activations"], ours["activations"])

    # Re-running the upload (e.g. after an interruption) sends nothing that is already there.
    commits = len(local_hub.commits)
    push_to_hub(small_dataset, "lab/biohuman10m-mini", endpoint=local_hub.url)
    assert len(local_hub.commits) == commits


def test_push_without_token_is_refused(small_dataset, local_hub, monkeypatch, tmp_path):
    from huggingface_hub.errors import HfHubHTTPError

    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(HfHubHTTPError, match="401"):
        push_to_hub(small_dataset, "lab/other", endpoint=local_hub.url)


def test_publish_to_local_path_copies_and_verifies(small_dataset, tmp_path):
    target = tmp_path / "mirror"
    assert publish(small_dataset, f"file://{target}") == str(target)
    verify(target)
    assert not (target / ".build").exists() and (target / "webdataset" / "README.md").is_file()
