"""Upload a built dataset with the real huggingface_hub client to a local HTTP server speaking the
Hub endpoints an upload uses (tests/local_hub.py, fixture ``local_hub``), and to a local path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.local_hub import TOKEN
from helpers.sequences import make_sequence

from builder.dataset.build import BuildConfig, build_dataset
from builder.dataset.hub import publish, push_to_hub
from builder.dataset.manifest import verify
from builder.dataset.windows import WindowConfig


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub_sequences")
    for i in range(3):
        make_sequence(root, f"walk{i}", source="default", subject="anny", num_frames=20, seed=i)
    out = tmp_path_factory.mktemp("hub_dataset") / "biohuman10m"
    build_dataset(root, out, BuildConfig(window=WindowConfig(size=8, stride=8), shard_bytes=40_000))
    return out


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
