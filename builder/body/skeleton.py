"""SMPL kinematics shared by every body surface: world rotations, posed joints, frame changes.

The SMPL rest skeleton itself is ``biohuman10m.skeleton.SMPL_NEUTRAL_REST_JOINTS``.

SMPL's world convention is Y up, Z forward (the body faces +Z in its rest pose), X towards the
body's left, metres. OpenSim's is Y up, X forward, Z towards the body's right.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from biohuman10m.vocabulary import NUM_SMPL_JOINTS, SMPL_JOINT_PARENTS

SMPL_TO_OPENSIM = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
"""Rotation taking SMPL world coordinates (Z forward) to OpenSim's (X forward): 90 deg about Y."""

ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""Rotation taking Anny coordinates (Z up, facing -Y) to SMPL's (Y up, facing +Z)."""


def world_rotations(poses: np.ndarray) -> np.ndarray:
    """World rotation matrices (T, 24, 3, 3) of each joint for axis-angle poses (T, 72)."""
    poses = np.asarray(poses, dtype=np.float64)
    local = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(len(poses), NUM_SMPL_JOINTS, 3, 3)
    world = np.empty_like(local)
    for j, p in enumerate(SMPL_JOINT_PARENTS):
        world[:, j] = local[:, j] if p < 0 else world[:, p] @ local[:, j]
    return world


def posed_joints(world_rot: np.ndarray, rest_joints: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """World joint locations (T, 24, 3) from world rotations, rest joints (24, 3) and ``trans`` (T, 3).

    Follows SMPL: the root joint sits at its rest location plus ``trans``.
    """
    joints = np.empty((len(world_rot), NUM_SMPL_JOINTS, 3))
    joints[:, 0] = rest_joints[0] + trans
    for j, p in enumerate(SMPL_JOINT_PARENTS[1:], start=1):
        joints[:, j] = joints[:, p] + world_rot[:, p] @ (rest_joints[j] - rest_joints[p])
    return joints
