"""SMPL kinematics shared by every body surface: rest skeleton, world rotations, frame changes.

SMPL's world convention is Y up, Z forward (the body faces +Z in its rest pose), X towards the
body's left, metres. OpenSim's is Y up, X forward, Z towards the body's right.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from biohuman10m.vocabulary import NUM_SMPL_JOINTS, SMPL_JOINT_PARENTS

SMPL_NEUTRAL_REST_JOINTS = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0695, -0.3141, 0.0239], [-0.0677, -0.3143, 0.0216],
    [-0.0025, -0.1039, 0.0017], [0.1040, -0.6930, 0.0145], [-0.1060, -0.6947, 0.0168],
    [0.0057, 0.0328, 0.0267], [0.0892, -1.0981, -0.0253], [-0.0914, -1.1000, -0.0230],
    [0.0030, 0.0853, 0.0255], [0.1182, -1.1603, 0.0942], [-0.1185, -1.1608, 0.1007],
    [-0.0012, 0.2869, -0.0166], [0.0794, 0.2007, -0.0067], [-0.0721, 0.1997, -0.0108],
    [0.0097, 0.3700, 0.0335], [0.1711, 0.2267, -0.0125], [-0.1703, 0.2234, -0.0166],
    [0.4136, 0.2092, -0.0426], [-0.4169, 0.2089, -0.0413], [0.6580, 0.2161, -0.0432],
    [-0.6594, 0.2166, -0.0426], [0.7416, 0.2161, -0.0561], [-0.7431, 0.2166, -0.0557],
], dtype=np.float64)
"""Rest (T-pose) joint locations of the gender-neutral SMPL body with zero shape, metres.

Used where no SMPL model is given: for the rest directions of the bones (retargeting onto
Anny) and the root offset of ``trans``.
"""

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
