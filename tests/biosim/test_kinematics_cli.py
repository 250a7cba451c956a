"""``biohuman kinematics`` on folders: bad inputs recorded and skipped past, resumable, kill-safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("opensim")

from builder import layout
from builder.biosim.kinematics import failed_reason, is_done
from builder.cli import main
from builder.sources import embedded_motion, read_deepmimic, save_motion

pytestmark = pytest.mark.slow

BAD_FILES = {  # file -> what its recorded reason must say
    "truncated.npz": "truncated or corrupt",
    "corrupt.npz": "truncated or corrupt",
    "nan.npz": "NaN",
    "one_frame.npz": "1 frame",
    "wrong_shape.npz": "(T, 72)",
    "robot.npz": "unknown gender 'robot'",
    "fps_1000.npz": "frame rate 1000 Hz is outside the plausible 1-500 Hz",   # before: kept, a 39 ms walk
    "trans_1e6.npz": "faster than a human can",                               # before: "done", RMS 1.4e9 mm
}


@pytest.fixture(scope="module")
def motion_folder(tmp_path_factory) -> Path:
    """One good walk and one file for each kind of bad input, in BioHuman's motion.npz format."""
    folder = tmp_path_factory.mktemp("motions")
    walk = read_deepmimic(embedded_motion("walk"))[0]
    save_motion(walk, folder / "good.npz")
    raw = (folder / "good.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (folder / "corrupt.npz").write_bytes(np.random.default_rng(0).bytes(3000))
    arrays = dict(np.load(folder / "good.npz"))

    def variant(name: str, **changes) -> None:
        np.savez(folder / name, **{**arrays, **changes})

    variant("nan.npz", poses=np.full_like(walk.poses, np.nan))
    variant("one_frame.npz", poses=walk.poses[:1], trans=walk.trans[:1], times=walk.times[:1],
            frame_valid=np.ones(1, bool))
    variant("wrong_shape.npz", poses=walk.poses[:, :69])
    variant("robot.npz", gender=np.str_("robot"))
    variant("fps_1000.npz", fps=np.float64(1000.0), times=np.arange(walk.num_frames) / 1000.0)
    variant("trans_1e6.npz", trans=walk.trans * 1e6, sequence_id=np.str_("trans_1e6"))
    return folder


def test_folder_run_records_failures_and_resumes(motion_folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["kinematics", str(motion_folder), "-o", str(out), "--workers", "2"]) == 1  # some inputs failed
    printed = capsys.readouterr().out
    assert "1 done" in printed and f"{len(BAD_FILES)} failed" in printed
    good = layout.sequence_dir(out, "deepmimic_walk")
    assert is_done(good) and not (good / layout.RECORD).exists()
    for name, problem in BAD_FILES.items():
        reason = failed_reason(out, Path(name).stem)
        assert reason is not None and name in reason and problem in reason, (name, reason)
        record = json.loads((layout.sequence_dir(out, Path(name).stem) / layout.RECORD).read_text())
        assert record["status"] == "failed"

    finished = {p.name: p.stat().st_mtime_ns for p in good.iterdir()}
    assert main(["kinematics", str(motion_folder), "-o", str(out)]) == 1
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in good.iterdir()} == finished  # nothing redone


def test_missing_smpl_model_is_recorded(motion_folder, tmp_path):
    out = tmp_path / "out"
    missing = tmp_path / "no_such_model.pkl"
    assert main(["kinematics", str(motion_folder / "good.npz"), "-o", str(out), "--smpl-model", str(missing)]) == 1
    reason = failed_reason(out, "deepmimic_walk")
    assert "no_such_model.pkl" in reason and "SMPL model file not found" in reason
    assert not is_done(layout.sequence_dir(out, "deepmimic_walk"))


def test_killed_run_leaves_nothing_that_looks_finished(motion_folder, tmp_path):
    out = tmp_path / "out"
    folder = layout.sequence_dir(out, "deepmimic_walk")
    command = [sys.executable, "-m", "builder.cli", "kinematics", str(motion_folder / "good.npz"), "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (folder / layout.STATIC_TRC).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (folder / layout.STATIC_TRC).exists(), "the run never reached the scaling step"
    assert not is_done(folder) and not (folder / layout.IK_MOT).exists()
    assert main(["kinematics", str(motion_folder / "good.npz"), "-o", str(out)]) == 0
    assert is_done(folder)
    report = json.loads((folder / layout.IK_REPORT).read_text())
    assert report["rms_mean_m"] < 0.02


def test_empty_unsupported_and_absurd_arguments_exit_non_zero(tmp_path, capsys):
    """Before: an empty or unsupported folder ran with "0 done" and exit 0, and --workers -3 was accepted."""
    empty, unsupported = tmp_path / "empty", tmp_path / "notes"
    empty.mkdir()
    unsupported.mkdir()
    (unsupported / "readme.md").write_text("no motion here")
    for folder in (empty, unsupported):
        assert main(["kinematics", str(folder), "-o", str(tmp_path / "out")]) == 2
        assert f"{folder}: holds no motion files" in capsys.readouterr().err
    for option, problem in (("--workers=-3", "--workers: must be at least 1, got -3"),
                            ("--workers=two", "--workers: 'two' is not a whole number"),
                            ("--fps=1000", "--fps: frame rate 1000 Hz is outside the plausible 1-500 Hz")):
        with pytest.raises(SystemExit) as stop:
            main(["kinematics", str(empty), "-o", str(tmp_path / "out"), option])
        assert stop.value.code == 2 and problem in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
