"""``biohuman kinematics`` resumes only what was done with the same settings and input: another ``--fps`` or
other marker weights redo a sequence, another file claiming a finished id is refused, and two files with one
id in one run are both kept."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("opensim")

from builder import layout
from builder.biosim.kinematics import KinematicsSettings, resume_action, resume_key
from builder.cli import main
from builder.sources import embedded_motion, read_deepmimic, read_motion, save_motion
from builder.sources.ids import path_suffix

pytestmark = pytest.mark.slow


def _report(folder):
    return json.loads((folder / layout.IK_REPORT).read_text())


def test_changed_settings_redo_and_another_input_with_a_finished_id_is_refused(tmp_path, capsys):
    walk = read_deepmimic(embedded_motion("walk"))[0]
    motion = tmp_path / "a" / "walk.npz"
    motion.parent.mkdir()
    save_motion(walk, motion)
    out = tmp_path / "out"
    folder = layout.sequence_dir(out, walk.sequence_id)
    assert main(["kinematics", str(motion), "-o", str(out), "--fps", "15"]) == 0
    assert _report(folder)["settings"]["fps"] == 15.0
    assert main(["kinematics", str(motion), "-o", str(out), "--fps", "15"]) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert main(["kinematics", str(motion), "-o", str(out), "--fps", "10"]) == 0   # was skipped before
    assert "1 done, 0 skipped" in capsys.readouterr().out
    report = _report(folder)
    assert report["settings"]["fps"] == 10.0 and len(report["rms_m"]) == len(read_motion(motion, fps=10)[0].times)

    weights = KinematicsSettings(fps=10.0, marker_weights={"head_top": 5.0})
    key = resume_key(read_motion(motion, fps=10)[0], weights, report["resume"]["input_sha256"])
    action, why = resume_action(folder, key)
    assert action == "run" and "marker_weights: {} -> {'head_top': 5.0}" in why

    other = tmp_path / "b" / "walk.npz"   # another file, another motion, the same sequence id
    other.parent.mkdir()
    save_motion(dataclasses.replace(walk, trans=walk.trans + 1), other)
    finished = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert main(["kinematics", str(other), "-o", str(out), "--fps", "10"]) == 1
    printed = capsys.readouterr().out
    assert "1 conflicts" in printed and f"conflict: {walk.sequence_id}" in printed
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == finished   # the first file's results stay


def test_two_files_with_one_id_in_one_run_both_get_a_folder(tmp_path, capsys):
    walk = read_deepmimic(embedded_motion("walk"))[0]
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, shift in (("walk_30.npz", 0.0), ("walk_60.npz", 1.0)):
        save_motion(dataclasses.replace(walk, trans=walk.trans + shift), inputs / name)
    out = tmp_path / "out"
    # a missing SMPL model stops each sequence right after reading: enough to see which ids the run gives
    assert main(["kinematics", str(inputs), "-o", str(out), "--smpl-model", str(tmp_path / "none.pkl")]) == 1
    assert "0 done, 0 skipped (already done), 2 failed" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "sequences").iterdir()) == sorted(
        f"{walk.sequence_id}{path_suffix(inputs / name)}" for name in ("walk_30.npz", "walk_60.npz"))
    np.testing.assert_array_equal(np.load(inputs / "walk_60.npz")["trans"], walk.trans + 1)
