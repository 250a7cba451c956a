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

    # a rerun with other dynamics settings redoes the dynamics (not the kinematics or the video): labels made
    # with other settings are stale; a rerun with the same settings redoes nothing
    from builder import layout
    from builder.biosim.dynamics import DynamicsSettings
    from builder.biosim.kinematics import KinematicsSettings
    from builder.biosim.record import read_record
    from builder.dataset.pipeline import Pipeline
    from builder.dataset.sequence_task import DynamicsStage, KinematicsStage, SequenceStages
    from builder.engine import LocalEngine

    folder = next(p for p in (out / "sequences").iterdir() if (p / layout.VIDEO).is_file())
    stamps = {name: (folder / name).stat().st_mtime_ns for name in (layout.RECORD, layout.IK_MOT, layout.VIDEO)}
    stages = SequenceStages(KinematicsStage(KinematicsSettings(fps=30.0)),
                            DynamicsStage(DynamicsSettings(root_reduction=False)))
    Pipeline(stages, config, LocalEngine(1)).simulate([embedded_motion("walk")], out)
    assert read_record(folder / layout.RECORD).settings["root_reduction"] is False
    assert (folder / layout.RECORD).stat().st_mtime_ns > stamps[layout.RECORD]
    assert all((folder / name).stat().st_mtime_ns == stamps[name] for name in (layout.IK_MOT, layout.VIDEO))
    redone = (folder / layout.RECORD).stat().st_mtime_ns
    Pipeline(stages, config, LocalEngine(1)).simulate([embedded_motion("walk")], out)
    assert (folder / layout.RECORD).stat().st_mtime_ns == redone
