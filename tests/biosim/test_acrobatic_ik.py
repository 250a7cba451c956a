"""Motions that need ULBS-112's neck and free shoulder angles, through markers -> scale -> IK on the Anny body.

Before the neck existed the head landmarks rode on the torso, and before ``arm_flex``/``arm_rot`` were
unclamped a shoulder passing near gimbal lock trapped IK at its range limits: both clips exceeded the
dataset's 0.15 m marker-error limit (spinkick 155-171 mm, spin 338-456 mm on the five default subjects).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("opensim")

from builder import layout
from builder.biosim.kinematics import KinematicsSettings, run_kinematics
from builder.biosim.storage import read_storage
from builder.biosim.validity import ValidityThresholds
from builder.sources import embedded_motion, read_deepmimic
from builder.sources.timing import resample

pytestmark = pytest.mark.slow

FPS = 30.0  # the embedded default build's rate


def _clip(name: str, frames: slice) -> object:
    sequence = resample(read_deepmimic(embedded_motion(name))[0], FPS)
    return dataclasses.replace(sequence, poses=sequence.poses[frames], trans=sequence.trans[frames])


@pytest.mark.parametrize("name,frames,coordinate,swing_deg", [
    # the head flexes ~50 deg on the trunk through the kick
    ("spinkick", slice(None), "neck_extension", 20.0),
    # the left arm sweeps through ~80 deg abduction near frame 24, where flexion and axial rotation swing together
    ("spin", slice(15, 70), "arm_rot_l", 100.0),
])
def test_clip_tracks_within_the_dataset_marker_limit(anny_body, tmp_path, name, frames, coordinate, swing_deg):
    sequence = _clip(name, frames)
    report = run_kinematics(sequence, tmp_path, KinematicsSettings(), body=anny_body)
    assert report["max_max_m"] < ValidityThresholds().max_marker_error, report["max_max_m"]
    assert report["rms_mean_m"] < 0.025, report["rms_mean_m"]
    motion = read_storage(layout.sequence_dir(tmp_path, sequence.sequence_id) / layout.IK_MOT)
    assert np.ptp(motion.column(coordinate)) > swing_deg  # the joint that makes the fit possible moves
