"""Shards are deterministic: a build killed at a random point and re-run equals an uninterrupted one;
a corrupted shard fails the manifest check with a clear error."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.paths import PROJECT_ROOT
from helpers.sequences import make_sequence

from builder.dataset.build import BuildConfig, build_dataset
from builder.dataset.manifest import ShardChecksumError, verify
from builder.dataset.shards import iter_tar, write_tar
from builder.dataset.windows import WindowConfig

ROOT = PROJECT_ROOT
SCRIPT = ROOT / "scripts" / "build_dataset.py"
BUILD_ARGS = ["--window", "16", "--stride", "8", "--shard-size", "60KB", "--parquet-rows", "4"]
CONFIG = BuildConfig(window=WindowConfig(size=16, stride=8), shard_bytes=60_000, parquet_rows=4)


@pytest.fixture(scope="module")
def sequences(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume_sequences")
    for i in range(6):
        make_sequence(root, f"clip{i}", source=("EMDB", "3DPW", "default")[i % 3], subject=f"P{i % 4}",
                      num_frames=30 + 5 * i, seed=i, invalid_frames=(3,))
    return root


@pytest.fixture(scope="module")
def reference(sequences, tmp_path_factory) -> Path:
    """An uninterrupted build, in this process."""
    out = tmp_path_factory.mktemp("reference") / "dataset"
    build_dataset(sequences, out, CONFIG)
    return out


def data_files(out: Path) -> dict[str, bytes]:
    """Every shard, the split file and the manifest, by relative path."""
    names = ("manifest.json", "splits.json")
    paths = [p for p in out.rglob("*") if p.suffix in (".tar", ".parquet") or p.name in names]
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in paths if ".build" not in p.parts}


def test_killed_build_resumes_to_identical_bytes(sequences, reference, tmp_path):
    out = tmp_path / "interrupted"
    command = [sys.executable, str(SCRIPT), "build", str(sequences), "--out", str(out), *BUILD_ARGS]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    encoded_before_kill = random.randint(1, 5)   # a random point: after 1 to 5 of the 6 sequences ...
    deadline = time.monotonic() + 120
    while len(list(out.glob(".build/*/*.json"))) < encoded_before_kill and time.monotonic() < deadline:
        assert process.poll() is None, "the build finished before the kill; the test interrupted nothing"
        time.sleep(0.005)
    time.sleep(random.uniform(0.0, 0.05))   # ... and somewhere inside the next one
    assert process.poll() is None, "the build finished before the kill; the test interrupted nothing"
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = data_files(out)
    assert "manifest.json" not in partial, "killed build must not have finished"

    process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300,
                             check=False)
    assert process.returncode == 0, process.stderr[-3000:]
    expected, got = data_files(reference), data_files(out)
    assert sorted(got) == sorted(expected)
    assert len([name for name in expected if name.endswith(".tar")]) >= 3
    for name in sorted(expected, key=lambda name: name == "manifest.json"):   # the manifest last
        assert got[name] == expected[name], f"{name} differs after kill and resume"
    assert not list(out.rglob(".*.tmp*")), "temporary files left behind"
    verify(out)
    subprocess.run([*command, "--clean-cache"], capture_output=True, check=True, timeout=300)
    assert not (out / ".build").exists() and data_files(out) == expected   # cache removed, data untouched


def test_parallel_encoding_gives_the_same_bytes(sequences, reference, tmp_path):
    out = tmp_path / "parallel"
    build_dataset(sequences, out, dataclasses.replace(CONFIG, workers=2))
    assert data_files(out) == data_files(reference)


def test_rebuild_with_fewer_sequences_removes_stale_shards(sequences, reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = {p.name for p in (out / "webdataset").glob("*.tar")}
    subset = tmp_path / "subset"
    shutil.copytree(sequences / "sequences" / "clip0", subset / "sequences" / "clip0")
    manifest = build_dataset(subset, out, CONFIG)
    after = {p.name for p in (out / "webdataset").glob("*.tar")}
    assert after < before
    assert {Path(e["path"]).name for e in manifest["files"] if e["path"].endswith(".tar")} == after


def test_corrupted_shard_fails_verification(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    verify(out)
    shard = sorted((out / "webdataset").glob("train-*.tar"))[1]
    data = bytearray(shard.read_bytes())
    data[2000] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardChecksumError, match=rf"{shard.name}: sha256 .* does not match the manifest"):
        verify(out)
    result = subprocess.run([sys.executable, str(SCRIPT), "verify", str(out)], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 2 and "corrupted" in result.stderr and shard.name in result.stderr
    assert result.stderr.startswith(f"{out}: 1 of ") and "Traceback" not in result.stderr
    parquet = min((out / "data").glob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes()[:-10])
    with pytest.raises(ShardChecksumError, match=rf"2 of \d+ (.|\n)*{parquet.name}: size"):
        verify(out)


def test_tar_round_trip_is_deterministic(tmp_path):
    samples = [("a_w000000", {"json": b'{"x":1}', "poses.npy": b"\x93NUMPY" + b"0" * 100}),
               ("a_w000016", {"json": b'{"x":2}', "frames.mp4": b"\x00" * 3000})]
    write_tar(tmp_path / "one.tar", samples)
    time.sleep(1.1)
    write_tar(tmp_path / "two.tar", samples)
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    assert [(k, m) for k, m in iter_tar(tmp_path / "one.tar")] == samples
    assert json.loads(dict(iter_tar(tmp_path / "one.tar"))["a_w000016"]["json"]) == {"x": 2}
