"""End to end: per-sequence BioSim files -> windows -> shards + card -> load_dataset / webdataset / pyarrow."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers.paths import PROJECT_ROOT
from helpers.sequences import check_window, make_corpus, make_sequence, read_frames, sequence_truth

from biohuman10m.features import WINDOW_SIZE, label_features, webdataset_features
from biohuman10m.frames import decode_mp4
from biohuman10m.vocabulary import MUSCLE_NAMES
from builder import layout
from builder.dataset.build import BuildConfig, build_dataset
from builder.dataset.windows import WindowConfig

ROOT = PROJECT_ROOT


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("biosim_out")
    make_corpus(root)
    return root


@pytest.fixture(scope="session")
def built(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dataset") / "biohuman10m"
    build_dataset(corpus, out, BuildConfig(shard_bytes=150_000, parquet_rows=3))
    return out


def test_load_dataset_parquet_equals_sequence_files(built, corpus):
    from datasets import load_dataset

    manifest = json.loads((built / "manifest.json").read_text())
    dataset = load_dataset(str(built))
    assert set(dataset) == {"train", "test"}
    total = 0
    for split, rows in dataset.items():
        rows = rows.with_format("numpy")
        assert rows.features == label_features()
        for window in rows:
            truth = sequence_truth(corpus, str(window["sequence_id"]))
            assert window["split"] == split and window["source"] == truth["source"]
            check_window(window, truth)
        total += len(rows)
    assert total == sum(row["windows"] for row in manifest["counts"]["splits"]["all"].values())
    # every frame of every kept sequence is in exactly one window (stride = window size)
    sequences = {str(s) for split in dataset.values() for s in split["sequence_id"]}
    assert "default_dropped" not in sequences and len(sequences) == 6
    assert manifest["counts"]["filtering"]["default"] == {"dropped": 1, "dropped: IK max marker error > 0.15 m": 1,
                                                          "kept": 2}


def test_webdataset_library_streams_frames_and_labels(built, corpus):
    import webdataset as wds

    urls = sorted(glob.glob(str(built / "webdataset" / "*.tar")))
    assert len(urls) >= 3, "small shard size must roll several shards"
    seen, source_frames = 0, {}
    for sample in wds.WebDataset(urls, shardshuffle=False).decode():
        window = {**sample["json"], **{k[:-4]: v for k, v in sample.items() if k.endswith(".npy")}}
        truth = sequence_truth(corpus, window["sequence_id"])
        check_window(window, truth)
        frames = decode_mp4(sample["frames.mp4"])
        assert frames.shape == (window["num_frames"], 64, 96, 3)
        source = source_frames.setdefault(window["sequence_id"], read_frames(corpus, window["sequence_id"]))
        # each stored frame is closest to the source video frame of the same number, and close to it
        error = np.abs(frames[:, None, ::2, ::2].astype(np.float32) - source[None, :, ::2, ::2]).mean(axis=(2, 3, 4))
        start = window["start_frame"]
        np.testing.assert_array_equal(error.argmin(axis=1), np.arange(start, start + window["num_frames"]))
        assert error.min(axis=1).max() < 2.0
        seen += 1
    manifest = json.loads((built / "manifest.json").read_text())
    assert seen == sum(e["windows"] for e in manifest["files"] if e.get("format") == "webdataset")


def test_datasets_streams_the_webdataset_folder(built, corpus):
    from datasets import load_dataset

    streamed = load_dataset(str(built / "webdataset"), split="train", streaming=True)
    parquet = load_dataset(str(built), split="train").with_format("numpy")
    by_key = {row["key"]: row for row in parquet}
    count = 0
    for sample in streamed:
        row = by_key[sample["__key__"]]
        assert sample["json"]["sequence_id"] == row["sequence_id"]
        for name in ("poses", "activations", "muscle_mask", "boxes", "frame_index"):
            np.testing.assert_array_equal(np.asarray(sample[f"{name}.npy"]), row[name])
        assert isinstance(sample["frames.mp4"], bytes)
        count += 1
    assert count == len(parquet)
    loaded = load_dataset(str(built / "webdataset"), split="test").with_format("numpy")
    assert loaded.features == webdataset_features()
    assert loaded[0]["poses.npy"].shape == (WINDOW_SIZE, 72)
    # the way to read the tars of a Hub repo (data_files="hf://datasets/<repo>/webdataset/...") with the schema
    tars = sorted(glob.glob(str(built / "webdataset" / "test-*.tar")))
    direct = load_dataset("webdataset", data_files={"test": tars}, features=webdataset_features(), split="test",
                          streaming=True)
    first = next(iter(direct))
    np.testing.assert_array_equal(np.asarray(first["activations.npy"]), loaded[0]["activations.npy"])
    # and the Parquet config streams too
    rows = load_dataset(str(built), split="test", streaming=True)
    assert sum(1 for _ in rows) == len(loaded)


def test_parquet_reads_with_pyarrow_alone(built):
    code = (
        "import sys, glob, pyarrow.parquet as pq, numpy as np\n"
        f"table = pq.read_table(sorted(glob.glob({str(built / 'data' / 'train-*.parquet')!r})))\n"
        "poses = np.array(table.column('poses').to_pylist(), dtype=np.float32)\n"
        "assert 'datasets' not in sys.modules\n"
        "print(table.num_rows, poses.shape, table.column('sequence_id')[0])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows, *_ = result.stdout.split()
    assert int(rows) == sum(e["windows"] for e in json.loads((built / "manifest.json").read_text())["files"]
                            if e.get("format") == "parquet" and e["split"] == "train")
    assert "(32, 72)" in result.stdout.replace(f"({rows}, ", "(")


def test_card_front_matter_and_body(built):
    text = (built / "README.md").read_text()
    front, body = text.split("---\n", 2)[1:]
    header = yaml.safe_load(front)
    import datasets

    assert datasets.Features._from_yaml_list(header["dataset_info"]["features"]) == label_features()
    files = {split["split"]: split["path"] for split in header["configs"][0]["data_files"]}
    assert files == {"train": "data/train-*.parquet", "test": "data/test-*.parquet"}
    assert header["license"] and "biomechanics" in header["tags"] and header["task_categories"]
    for source in ("Human3.6M", "BEDLAM", "default"):
        assert f"| {source} | train |" in body
    assert "IK max marker error > 0.15 m (1)" in body and "max_marker_error" in body and "@article{biohuman" in body
    assert all(f"`{name}`" in body for name in MUSCLE_NAMES)
    for figure in ("figures/example_window.png", "figures/windows_per_source.png"):
        assert f"]({figure})" in body and (built / figure).stat().st_size > 1000
    wds_header = yaml.safe_load((built / "webdataset" / "README.md").read_text().split("---\n", 2)[1])
    assert datasets.Features._from_yaml_list(wds_header["dataset_info"]["features"]) == webdataset_features()


def test_splits_keep_subjects_apart_and_bedlam_in_train(built, corpus):
    assignment = json.loads((built / "splits.json").read_text())["assignment"]
    assert assignment["bedlam_0001"] == "train"
    h36m = {sid: split for sid, split in assignment.items() if sid.startswith("h36m")}
    assert sorted(h36m.values()) == ["test", "train", "train"]   # 3 subjects, ~20 % -> 1 test subject
    from builder.dataset.splits import assign_splits

    again = assign_splits([(r, s, sub) for r, s, sub in [("x_a", "Human3.6M", "S1"), ("x_b", "Human3.6M", "S1")]])
    assert len(set(again.values())) == 1, "one subject never straddles splits"


def test_person_crops_and_jpeg_frames(corpus, tmp_path):
    """Crop mode stores crop_size x crop_size frames as JPEGs with the crop->image affine."""
    from datasets import load_dataset

    from biohuman10m.collate import collate_windows

    config = BuildConfig(window=WindowConfig(size=16, stride=8, frames="crop", crop_size=32, image_format="jpg"))
    root = tmp_path / "one"
    make_sequence(root, "single", num_frames=20, seed=3, invisible_frames=(0, 1, 2))
    out = tmp_path / "crops"
    build_dataset(root, out, config)
    rows = load_dataset(str(out / "webdataset"), split="train").with_format("numpy")
    assert [int(r["json"]["start_frame"]) for r in rows] == [0, 8]   # 8 + 16 > 20: the second ends the sequence
    first = rows[0]
    affine = first["crop_affine.npy"]
    assert affine.shape == (16, 2, 3)
    box = first["boxes.npy"][3]  # frame 3 is the first visible one; frames 0-2 borrow its box
    centre = affine[3] @ np.array([16, 16, 1.0])
    np.testing.assert_allclose(centre, (box[:2] + box[2:]) / 2, atol=1e-4)
    np.testing.assert_allclose(affine[0], affine[3])
    batch = collate_windows([rows[0], rows[1]])
    assert tuple(batch["frames"].shape) == (2, 16, 32, 32, 3)
    assert batch["frame_mask"][1].sum() == 12 and not batch["frames"][1, 12:].any()


def test_load_dataset_biohuman10m_from_project_root(corpus, tmp_path):
    """Building into the package folder makes load_dataset("biohuman10m") work, and the package still imports."""
    project = tmp_path / "project"
    package = project / "biohuman10m"
    package.mkdir(parents=True)
    for path in (ROOT / "biohuman10m").glob("*"):
        if path.suffix in (".py", ".md") and path.name != "README.md":
            (package / path.name).write_bytes(path.read_bytes())
    build_dataset(corpus, package, BuildConfig())
    code = ("import biohuman10m, datasets\n"
            "ds = datasets.load_dataset('biohuman10m')\n"
            "print(biohuman10m.NUM_MUSCLES, ds['train'].num_rows + ds['test'].num_rows, biohuman10m.__file__)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(project)}
    result = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    muscles, windows, where = result.stdout.split()
    manifest = json.loads((package / "manifest.json").read_text())
    assert int(muscles) == 112 and int(windows) == sum(
        r["windows"] for r in manifest["counts"]["splits"]["all"].values())
    assert Path(where).parent == package


def test_bad_sequence_files_name_the_file(tmp_path):
    root = tmp_path / "bad"
    folder = make_sequence(root, "short_video", num_frames=12)
    motion = dict(np.load(folder / layout.MOTION))
    motion["poses"] = np.zeros((14, 72), np.float32)
    for key in ("trans",):
        motion[key] = np.zeros((14, 3), np.float32)
    motion["times"], motion["frame_valid"] = np.arange(14) / 30.0, np.ones(14, bool)
    np.savez(folder / layout.MOTION, **motion)
    np.save(folder / layout.BOXES, np.zeros((14, 4), np.float32))
    np.save(folder / layout.BOX_VISIBLE, np.ones(14, bool))
    with pytest.raises(ValueError, match="video.mp4: has 12 frames"):
        build_dataset(root, tmp_path / "out", BuildConfig())
    (folder / layout.ACTIVATIONS).write_text("not a storage file\n")
    with pytest.raises(ValueError, match=r"activations.sto: not an OpenSim storage file \(no 'endheader'"):
        build_dataset(root, tmp_path / "out", BuildConfig())


def test_keep_dropped_stores_poses_without_muscle_labels(tmp_path):
    from datasets import load_dataset

    root = tmp_path / "seqs"
    make_sequence(root, "good", num_frames=20, seed=1)
    make_sequence(root, "bad", num_frames=20, seed=2, kept=False, drop_reason="SO constraint violation 1e-05 > 1e-11")
    failed = layout.sequence_dir(root, "crashed")
    failed.mkdir(parents=True)
    error = {"stage": "dynamics", "type": "RuntimeError", "message": "solver crashed"}
    (failed / layout.RECORD).write_text(json.dumps({"sequence_id": "crashed", "status": "failed", "source": "default",
                                                    "subject": "anny", "error": error}))
    out = tmp_path / "out"
    manifest = build_dataset(root, out, BuildConfig(keep_dropped=True))
    rows = {row["sequence_id"]: row for row in load_dataset(str(out), split="train").with_format("numpy")} | {
        row["sequence_id"]: row for row in load_dataset(str(out), split="test").with_format("numpy")}
    assert set(rows) == {"good", "bad"}
    assert not rows["bad"]["muscle_mask"].any() and rows["bad"]["pose_mask"][:20].all()
    assert rows["good"]["muscle_mask"][:20].all()
    assert manifest["counts"]["filtering"]["default"] == {
        "dropped": 2, "dropped: SO constraint violation > 1e-11": 1, "dropped: failed: dynamics": 1, "kept": 1}
    (layout.sequence_dir(root, "good") / layout.VIDEO).unlink()
    with pytest.raises(FileNotFoundError, match=r"good: missing video.mp4"):
        build_dataset(root, tmp_path / "again", BuildConfig())


def test_rebuilt_folder_is_not_served_from_the_datasets_cache(tmp_path):
    from datasets import load_dataset

    for seed in (1, 2):
        make_sequence(tmp_path / f"run{seed}", "clip", num_frames=10, seed=seed)
    out = tmp_path / "out"
    build_dataset(tmp_path / "run1", out, BuildConfig())
    first = load_dataset(str(out), split="train").with_format("numpy")[0]["poses"]
    shutil.rmtree(out)
    build_dataset(tmp_path / "run2", out, BuildConfig())
    second = load_dataset(str(out), split="train").with_format("numpy")[0]["poses"]
    expected = np.load(layout.sequence_dir(tmp_path / "run2", "clip") / layout.MOTION)["poses"]
    np.testing.assert_array_equal(second[:10], expected)
    assert not np.array_equal(first, second)
