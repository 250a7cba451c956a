"""The real chain on an embedded motion: sources -> BioSim kinematics and dynamics -> render -> dataset,
then load_dataset's windows are compared with the files BioSim and the renderer wrote."""

from __future__ import annotations

import pytest

from builder import layout
from builder.build_dataset import BuildConfig, build_dataset
from builder.cli import main as biohuman
from builder.windows import WindowConfig
from test_dataset_build import check_window, read_frames, sequence_truth


@pytest.mark.slow
def test_embedded_walk_through_biosim_into_the_dataset(anny_body, tmp_path):
    import numpy as np
    from datasets import load_dataset

    from biohuman10m.frames import decode_mp4

    motions, out = tmp_path / "motions", tmp_path / "biosim"
    assert biohuman(["sources", "convert", "walk", "--out", str(motions) + "/", "--fps", "30"]) == 0
    assert biohuman(["kinematics", str(motions), "-o", str(out)]) == 0
    assert biohuman(["dynamics", str(out), "--workers", "1"]) == 0
    sequences = sorted((out / "sequences").iterdir())
    assert biohuman(["render", *map(str, sequences), "--size", "128", "96"]) == 0

    dataset = tmp_path / "biohuman10m"
    manifest = build_dataset(out, dataset, BuildConfig(window=WindowConfig(size=16, stride=16)))
    windows = [row for split in ("train", "test") if split in manifest["counts"]["splits"]
               for row in load_dataset(str(dataset), split=split).with_format("numpy")]
    assert windows, "the walk must be kept by BioSim's quality filter and windowed"
    for window in windows:
        truth = sequence_truth(out, str(window["sequence_id"]))
        check_window(window, truth)   # poses, activations (as BioSim wrote them), masks, boxes
        assert window["muscle_mask"][: window["num_frames"]].all()

    import webdataset as wds

    tars = sorted(str(p) for p in (dataset / "webdataset").glob("*.tar"))
    for sample in wds.WebDataset(tars, shardshuffle=False):
        meta = __import__("json").loads(sample["json"])
        frames = decode_mp4(sample["frames.mp4"])
        source = read_frames(out, meta["sequence_id"])[meta["start_frame"]: meta["start_frame"] + meta["num_frames"]]
        assert frames.shape == source.shape
        assert np.abs(frames.astype(float) - source).mean() < 3.0   # re-encoded rendered frames
    assert (layout.sequence_dir(out, windows[0]["sequence_id"]) / layout.ACTIVATIONS).is_file()
