"""Stores: a local folder and a real S3 API (moto's server) behave alike for the build's staging and commits."""

from __future__ import annotations

import pytest

from builder.dataset.shard_plan import plan_shards
from builder.dataset.store import TEMPORARY_MARK, Store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return Store.at(tmp_path / "root")
    options = request.getfixturevalue("s3_options")
    Store.at("s3://store-test", **options).fs.makedirs("store-test", exist_ok=True)
    return Store.at(f"s3://store-test/{tmp_path.name}", **options)


def test_staged_work_is_committed_with_the_marker_and_no_leftovers(store, tmp_path):
    store.write_text("sequences/a/motion.npz", "motion")
    with store.staged("sequences/a", ["motion.npz", "absent.trc"], scratch=tmp_path / "scratch") as folder:
        assert folder.parts[-2:] == ("sequences", "a")   # stages find their siblings as in the store
        assert (folder / "motion.npz").read_text() == "motion" and not (folder / "absent.trc").exists()
        (folder / "ik.mot").write_text("angles")
        (folder / "ik_report.json").write_text("{}")
        store.commit(folder, "sequences/a", ["ik.mot", "never_written.sto"], marker="ik_report.json")
    assert store.listdir("sequences/a") == ["ik.mot", "ik_report.json", "motion.npz"]
    assert store.read_text("sequences/a/ik.mot") == "angles"
    assert not list((tmp_path / "scratch").glob("stage.*")), "a remote stage is removed afterwards"
    assert (store.local_root is None) == (store.url.startswith("s3://"))


def test_other_writers_are_seen_and_upload_leftovers_removed(store):
    other = Store.at(store.url, **dict(store.storage_options))
    assert store.glob("sequences/*/record.json") == []
    other.write_text("sequences/b/record.json", "{}")   # another machine finishes a sequence
    other.write_text(f"sequences/b/video.mp4{TEMPORARY_MARK}0123", "half")   # and one dies uploading
    assert store.glob("sequences/*/record.json") == ["sequences/b/record.json"]
    assert store.exists("sequences/b/record.json")
    assert store.remove_temporary() == 1
    assert store.listdir("sequences/b") == ["record.json"]


def test_shard_plan_rolls_like_one_writer():
    summaries = [{"sequence_id": "b", "split": "train", "windows": 3, "window_bytes": [40, 40, 40]},
                 {"sequence_id": "a", "split": "train", "windows": 2, "window_bytes": [70, 10]},
                 {"sequence_id": "c", "split": "test", "windows": 1, "window_bytes": [500]}]
    plans = {plan.path: plan.windows for plan in plan_shards(summaries, shard_bytes=100, parquet_rows=4)}
    assert plans == {   # in id order: a0 a1 | b0 b1 | b2 by bytes; a0 a1 b0 b1 | b2 by rows
        "webdataset/train-00000.tar": (("a", 0, 2),), "webdataset/train-00001.tar": (("b", 0, 2),),
        "webdataset/train-00002.tar": (("b", 2, 1),), "data/train-00000.parquet": (("a", 0, 2), ("b", 0, 2)),
        "data/train-00001.parquet": (("b", 2, 1),), "webdataset/test-00000.tar": (("c", 0, 1),),
        "data/test-00000.parquet": (("c", 0, 1),)}
