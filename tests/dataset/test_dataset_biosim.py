"""The one-command chain on an embedded motion: BioSim kinematics and dynamics -> render -> dataset,
then load_dataset's windows are compared with the files BioSim and the renderer wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.sequences import check_window, read_frames, sequence_truth

from biohuman10m.frames import decode_mp4
from builder.dataset.build import BuildConfig
from builder.dataset.pipeline import run_pipeline
from builder.dataset.windows import WindowConfig
from builder.sources.deepmimic import embedded_motion


@pytest.mark.slow
def test_embedded_walk_through_biosim_into_the_dataset(anny_body, tmp_path):
    import webdataset as wds
    from datasets import load_dataset

    out, dataset = tmp_path / "biosim", tmp_path / "biohuman10m"
    config = BuildConfig(window=WindowConfig(size=16, stride=16))
    manifest = run_pipeline([embedded_motion("walk")], out, dataset, config)   # biohuman dataset pipeline
    windows = [row for split in ("train", "test") if split in manifest["counts"]["splits"]
               for row in load_dataset(str(dataset), split=split).with_format("numpy")]
    assert windows, "the walk must be kept by BioSim's quality filter and windowed"
    for window in windows:
        check_window(window, sequence_truth(out, str(window["sequence_id"])))   # as BioSim wrote them
        assert window["muscle_mask"].any()   # labelled frames; frames without an SO row are masked (checked above)

    tars = sorted(str(p) for p in (dataset / "webdataset").glob("*.tar"))
    for sample in wds.WebDataset(tars, shardshuffle=False):
        meta = json.loads(sample["json"])
        frames = decode_mp4(sample["frames.mp4"])
        start = meta["start_frame"]
        source = read_frames(out, meta["sequence_id"])[start: start + meta["num_frames"]]
        assert frames.shape == source.shape
        assert np.abs(frames.astype(float) - source).mean() < 3.0   # the rendered frames, re-encoded
