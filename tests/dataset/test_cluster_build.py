"""The whole build on a real multi-node Ray cluster with its files on a real S3-compatible server.

A head node and worker nodes, each with its own CPU count (Ray's ``cluster_utils.Cluster``, as Ray's
own tests start them), run kinematics -> dynamics -> render -> shards for a few short embedded clips
whose motions, BioSim folders and dataset all live in a bucket of a moto server started here. The
shards equal, byte for byte, those of a single-process local build of the same motions; a worker node
removed mid-run loses nothing (Ray re-runs its tasks elsewhere) and a rerun redoes only what is missing.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from helpers.paths import PROJECT_ROOT
from helpers.short_clips import CLIPS, write_short_clips

from builder import layout
from builder.dataset.build import BuildConfig
from builder.dataset.pipeline import Pipeline
from builder.dataset.sequence_task import RenderStage, SequenceStages, view_ids
from builder.dataset.store import TEMPORARY_MARK, Store
from builder.dataset.windows import WindowConfig
from builder.engine import LocalEngine, RayEngine

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

CONFIG = BuildConfig(window=WindowConfig(size=8, stride=8), shard_bytes=150_000, parquet_rows=2)


@pytest.fixture(scope="module")
def motions(tmp_path_factory) -> list[Path]:
    return write_short_clips(tmp_path_factory.mktemp("motions"))


@pytest.fixture(scope="module")
def local_build(motions, tmp_path_factory) -> Path:
    """The reference: every stage in one local worker process, files in local folders."""
    root = tmp_path_factory.mktemp("local_build")
    Pipeline(_stages(root / "scratch"), CONFIG, LocalEngine(workers=1)).run(motions, root / "biosim", root / "dataset")
    return root / "dataset"


@pytest.fixture(scope="module")
def bucket(s3_options) -> dict:
    """One bucket on the session's S3 server; the fsspec options to reach it."""
    Store.at("s3://biohuman", **s3_options).fs.makedirs("biohuman", exist_ok=True)
    return s3_options


@pytest.fixture(scope="module")
def cluster():
    """A head node that runs no task and two worker nodes of one CPU each; the driver connected."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    ray.init(address=cluster.address, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}})
    yield cluster, workers
    ray.shutdown()
    cluster.shutdown()


def _upload(paths: list[Path], store: Store) -> str:
    for path in paths:
        store.upload(path, path.name)
    return store.url


def _stages(scratch: Path, options: dict | None = None) -> SequenceStages:
    """Every stage, each sequence rendered from two views."""
    return SequenceStages(render=RenderStage(views=2), scratch=scratch,
                          storage_options=tuple(sorted((options or {}).items())))


def test_cluster_build_on_s3_equals_the_local_build(cluster, bucket, motions, local_build, tmp_path):
    motions_url = _upload(motions, Store.at("s3://biohuman/motions", **bucket))
    work, out = Store.at("s3://biohuman/run1/biosim", **bucket), Store.at("s3://biohuman/run1/dataset", **bucket)
    pipeline = Pipeline(_stages(tmp_path / "scratch", bucket), CONFIG, RayEngine(cluster[0].address))
    manifest = pipeline.run([motions_url], work, out)

    assert manifest["counts"]["splits"], "the cluster build must hold windows"
    names = [entry["path"] for entry in manifest["files"]] + ["manifest.json"]
    assert sum(name.endswith(".tar") for name in names) >= 2 and sum(name.endswith(".parquet") for name in names) >= 2
    for name in names:
        assert out.read_bytes(name) == (local_build / name).read_bytes(), f"{name} differs from the local build"
    assert sorted(out.glob("webdataset/*.tar")) == sorted(p.relative_to(local_build).as_posix()
                                                          for p in local_build.glob("webdataset/*.tar"))
    splits = json.loads(out.read_text("splits.json"))["assignment"]
    for clip, subject in CLIPS:   # a second view of every sequence, in the sequence's split
        (view,) = view_ids(f"{clip}__{subject}", 2)
        assert splits[view] == splits[f"{clip}__{subject}"]
        assert work.read_bytes(f"sequences/{view}/{layout.ACTIVATIONS}") == work.read_bytes(
            f"sequences/{clip}__{subject}/{layout.ACTIVATIONS}")
        assert work.read_bytes(f"sequences/{view}/{layout.CAMERA}") != work.read_bytes(
            f"sequences/{clip}__{subject}/{layout.CAMERA}")
    assert not [key for key in work.glob("**") + out.glob("**") if TEMPORARY_MARK in key]
    assert not list((tmp_path / "scratch").glob("stage.*")), "staged copies must be removed"


def _records(work: Store) -> dict[str, str]:
    return {key: work.info(key)["ETag"] for key in work.glob(f"sequences/*/{layout.RECORD}")}


def test_killed_worker_node_loses_nothing_and_a_rerun_does_only_what_is_missing(cluster, bucket, motions, tmp_path):
    head, _ = cluster
    motions_url = _upload(motions, Store.at("s3://biohuman/motions", **bucket))
    work = Store.at("s3://biohuman/run2/biosim", **bucket)
    victim = head.add_node(num_cpus=1)   # three one-CPU nodes for three motion files: each runs one task
    pipeline = Pipeline(_stages(tmp_path / "scratch", bucket), CONFIG, RayEngine(head.address, max_retries=3))
    outcome: dict = {}

    def build() -> None:
        try:
            outcome["counts"] = pipeline.simulate([motions_url], work)
        except Exception as error:  # noqa: BLE001 - reported by the test below
            outcome["error"] = error

    runner = threading.Thread(target=build, daemon=True)
    runner.start()
    deadline = time.monotonic() + 600
    while not work.glob(f"sequences/*/{layout.IK_REPORT}") and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)   # the first kinematics done: every task is still running, the victim's among them
    assert runner.is_alive(), f"the run ended before any work was under way: {outcome}"
    head.remove_node(victim, allow_graceful=False)   # the node's raylet and workers die by SIGKILL
    runner.join(timeout=900)
    assert "error" not in outcome, outcome.get("error")
    counts = outcome["counts"]

    records = _records(work)
    assert sum(counts.values()) == len(CLIPS), counts
    assert len(records) == len(CLIPS) + counts.get("kept", 0), records   # kept sequences have a second view
    assert set(counts) <= {"kept", "dropped", "failed"} and counts.get("kept", 0) >= 1
    for sequence_id in (f"{clip}__{subject}" for clip, subject in CLIPS):
        present = set(work.listdir(f"sequences/{sequence_id}"))
        assert layout.RECORD in present
        if counts.get("failed", 0) == 0:
            assert layout.VIDEO in present or layout.ACTIVATIONS not in present

    assert pipeline.simulate([motions_url], work) == counts   # nothing missing: nothing redone
    assert _records(work) == records
    redo = f"sequences/{CLIPS[0][0]}__{CLIPS[0][1]}"
    for name in (layout.RECORD, layout.VIDEO):   # a sequence that lost its dynamics verdict and video
        work.remove(f"{redo}/{name}")
    assert pipeline.simulate([motions_url], work) == counts
    after = _records(work)
    assert {key for key in after if after[key] != records.get(key)} == {f"{redo}/{layout.RECORD}"}
    assert work.exists(f"{redo}/{layout.VIDEO}")
