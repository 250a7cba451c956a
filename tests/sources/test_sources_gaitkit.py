"""A real human walk (gaitkit's Fukuchi et al. 2018 healthy trial): reader, retargeting, and BioSim
part 1 on it, where the knee flexion has the physiological gait shape."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import find_peaks

from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from builder.body.skeleton import posed_joints, world_rotations
from builder.sources import MotionSourceError, detect_format, find_motion_files, read_motion
from builder.sources.gaitkit import gaitkit_example, read_gaitkit
from builder.sources.retarget import J

TRIAL = gaitkit_example("healthy")


def trial_knee_angles(path=TRIAL) -> dict[str, np.ndarray]:
    """The trial's own knee flexion (deg, 150 Hz): 180 - the angle at the knee landmark."""
    frames = json.loads(path.read_text())["angle_frames"]
    return {side: np.array([frame[f"{side}_knee_angle"] for frame in frames]) for side in ("left", "right")}


def bone_angle(joints: np.ndarray, side: str) -> np.ndarray:
    thigh = joints[:, J[f"{side}_knee"]] - joints[:, J[f"{side}_hip"]]
    shank = joints[:, J[f"{side}_ankle"]] - joints[:, J[f"{side}_knee"]]
    cosine = np.sum(thigh * shank, axis=1) / np.linalg.norm(thigh, axis=1) / np.linalg.norm(shank, axis=1)
    return np.degrees(np.arccos(np.clip(cosine, -1, 1)))


def test_retargeted_smpl_body_bends_its_knees_as_the_trial_does():
    assert detect_format(TRIAL) == "gaitkit"
    (sequence,) = read_gaitkit(TRIAL)
    assert sequence.fps == 150 and sequence.num_frames == 374 and sequence.frame_valid.all()
    joints = posed_joints(world_rotations(sequence.poses.astype(np.float64)), SMPL_NEUTRAL_REST_JOINTS,
                          sequence.trans.astype(np.float64))
    for side, knee in trial_knee_angles().items():
        np.testing.assert_allclose(bone_angle(joints, side), knee, atol=0.01)
    pelvis = joints[:, 0]
    forward = np.cross(joints[0, J["left_hip"]] - joints[0, J["right_hip"]], [0.0, 1.0, 0.0])
    assert (pelvis[-1] - pelvis[0]) @ (forward / np.linalg.norm(forward)) > 2.5  # 2.5 s at ~1.25 m/s
    feet = joints[:, [J["left_ankle"], J["right_ankle"]], 1]
    assert 0.0 < feet.min() < 0.15  # scaled to SMPL's legs: ankles near the floor, not under it


def test_folder_runs_find_trials_and_bad_trials_name_file_and_problem(tmp_path):
    data = json.loads(TRIAL.read_text())
    for frame in data["angle_frames"][150:160]:
        frame["is_valid"] = 0  # a tracking gap: the sequence is cut there
    gappy = tmp_path / "gappy.json"
    gappy.write_text(json.dumps(data))
    parts = read_motion(gappy)
    assert [part.num_frames for part in parts] == [150, 214]
    assert find_motion_files(tmp_path) == [gappy]

    del data["angle_frames"][3]["landmark_positions"]["right_heel"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(MotionSourceError, match=r"broken.json: frame 3: no 3-D 'right_heel'"):
        read_motion(broken)
    data["fps"] = "fast"
    (tmp_path / "no_rate.json").write_text(json.dumps(data))
    with pytest.raises(MotionSourceError, match=r"no_rate.json: 'fps' must be a positive number"):
        read_motion(tmp_path / "no_rate.json")
    (tmp_path / "cut.json").write_text(TRIAL.read_text()[:5000])
    with pytest.raises(MotionSourceError, match=r"cut.json: unreadable gaitkit trial"):
        read_motion(tmp_path / "cut.json")


@pytest.mark.slow
def test_ik_on_the_real_walk_gives_the_physiological_knee_curve(anny_body, tmp_path):
    """Markers on the Anny body walking the trial -> scaled ULBS-112 -> OpenSim IK: two flexion peaks
    per stride, swing peaks 50-70 deg, and the trial's knee curve up to the static-pose zero offset."""
    from builder import layout
    from builder.biosim.kinematics import KinematicsSettings, run_kinematics
    from builder.biosim.storage import read_storage

    (sequence,) = read_motion(TRIAL, fps=30.0)
    report = run_kinematics(sequence, tmp_path, KinematicsSettings(), body=anny_body)
    assert report["rms_mean_m"] < 0.02 and report["max_max_m"] < 0.04, report
    mot = read_storage(layout.sequence_dir(tmp_path, sequence.sequence_id) / layout.IK_MOT)
    trial_time = np.arange(374) / 150.0
    for (side, trial_knee), s in zip(trial_knee_angles().items(), "lr"):
        knee = mot.column(f"knee_angle_{s}")
        peaks, _ = find_peaks(knee, prominence=5)
        swing, stance = peaks[knee[peaks] > 40], peaks[knee[peaks] <= 40]
        assert len(swing) == 2 and len(stance) >= 2, (side, knee.round())
        assert np.all((50 < knee[swing]) & (knee[swing] < 70)), knee[swing]
        assert np.all((5 < knee[stance]) & (knee[stance] < 30)), knee[stance]
        order = np.sort(peaks)
        assert np.all(np.diff(knee[order] > 40)), "stance and swing peaks alternate"
        reference = np.interp(mot.time - mot.time[0], trial_time, trial_knee)
        offset = float(np.mean(knee - reference))
        # IK zero is the static pose (SMPL's rest knee, flexed a few degrees between joint centres);
        # the trial's angle is between landmark lines, zero only for collinear landmarks
        assert -8 < offset < 0, offset
        # 2.0 deg with knees moved fully onto the body's centres; they move at most 2 cm now (2.02 measured)
        assert np.sqrt(np.mean((knee - reference - offset) ** 2)) < 2.5
        assert np.corrcoef(knee, reference)[0, 1] > 0.99
