"""``biohuman dataset plan``: every stage measured on a sample of the user's motions, projected to the full set."""

from __future__ import annotations

import re
import shutil

import pytest
from helpers.short_clips import CLIPS, write_short_clips

from builder.cli import main
from builder.dataset.cost import CostEstimate

pytestmark = pytest.mark.slow


def test_plan_measures_a_sample_and_projects_every_stage(tmp_path, capsys):
    (clip,) = write_short_clips(tmp_path / "motions", CLIPS[:1], frames=16)
    for copy in range(3):   # the full set: four files of the same size, one of them measured
        shutil.copy(clip, tmp_path / "motions" / f"copy{copy}.npz")
    assert main(["dataset", "plan", str(tmp_path / "motions"), "--sample", "1", "--scratch", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "sample: 1 of 4 motion files, 16 frames; full set: ~64 frames" in text
    rows = {m[1]: (float(m[2]), float(m[3])) for m in re.finditer(r"^(\w+(?: to end)?)\s+([\d.]+)\s+([\d.]+)$",
                                                                     text, re.MULTILINE)}
    assert set(rows) == {"kinematics", "dynamics", "render", "shards", "end to end"}, text
    for stage, (rate, hours) in rows.items():
        assert rate > 0 and hours == pytest.approx(64 / rate / 3600, abs=0.05)
    slowest = min((s for s in rows if s != "end to end"), key=lambda s: rows[s][0])
    assert f"slowest stage: {slowest}" in text
    assert rows["end to end"][0] <= rows[slowest][0]   # printed to 0.1: equal when one stage dominates
    assert re.search(r"storage: BioSim folders ~[\d.]+ GB \([\d.]+ kB/frame\), dataset ~[\d.]+ GB", text)
    assert not list(tmp_path.glob("biohuman-plan.*")), "the sample build is removed"


def test_projection_arithmetic():
    estimate = CostEstimate(sample_files=2, sample_frames=100, total_files=20, total_frames=3_600_000,
                            cpu_s={"kinematics": 5.0, "dynamics": 10.0, "render": 4.0},
                            stage_frames={"kinematics": 100, "dynamics": 100, "render": 80},
                            biosim_bytes_per_frame=2e3, dataset_bytes_per_frame=1e3)
    assert estimate.frames_per_core_s("dynamics") == 10.0 and estimate.slowest == "dynamics"
    assert estimate.end_to_end == pytest.approx(80 / 19)   # dataset frames per core-second of every stage
    assert re.search(r"^end to end\s+4\.2\s+237\.5$", estimate.table(), re.MULTILINE)
    assert "BioSim folders ~7.20 GB" in estimate.table() and "dataset ~3.60 GB" in estimate.table()
    estimate.stage_frames["render"] = 0   # every sampled sequence dropped: no projection from nothing
    assert "end to end: no sampled frame reached the dataset" in estimate.table()
