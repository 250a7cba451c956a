"""SMPL pose layouts and world frames shared by the readers.

BioHuman's motion world is SMPL's: Y up, metres; a body with zero root rotation faces +Z and its
left is +X. ``trans`` follows SMPL: the pelvis joint sits at its rest location ``J0`` plus
``trans``, so a change of world frame must rotate about the pelvis, not the origin. Without the
subject's SMPL model ``J0`` is taken from the gender-neutral zero-shape body
(:data:`builder.body.skeleton.SMPL_NEUTRAL_REST_JOINTS`); for other shapes that shifts the whole
sequence by one constant offset of a few centimetres at most, leaving the motion itself exact.
"""

from __future__ import annotations

import os

import numpy as np
from scipy.spatial.transform import Rotation

from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import SMPL_POSE_DIM

from .errors import MotionSourceError

SMPL_PELVIS_REST = SMPL_NEUTRAL_REST_JOINTS[0]
"""Rest location ``J0`` of the pelvis joint used to rotate ``trans`` about the pelvis."""

Z_UP_TO_Y_UP = Rotation.from_euler("x", -90, degrees=True).as_matrix()
"""-90 deg about X: (x, y, z) -> (x, z, -y). Takes Z-up worlds (AMASS, Human3.6M, MotionPRO) to Y up."""

Y_DOWN_TO_Y_UP = np.diag([1.0, -1.0, -1.0])
"""180 deg about X: takes camera-style Y-down, Z-forward worlds (BEDLAM) to Y up."""

BODY_JOINTS = 22
"""Joints shared by SMPL, SMPL+H and SMPL-X bodies (pelvis .. right_wrist)."""

_POSE_LAYOUTS = {72: "SMPL", 66: "22 body joints", 156: "SMPL+H", 165: "SMPL-X"}

_GENDER_ALIASES = {
    "male": "male", "m": "male", "man": "male",
    "female": "female", "f": "female", "woman": "female",
    "neutral": "neutral", "n": "neutral", "": "neutral",
}


def parse_gender(value: object, path: str | os.PathLike | None) -> str:
    """Gender string of a dataset field (str, bytes or 0-d array; ``'m'``/``'f'`` accepted)."""
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value.tolist()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    key = str(value).strip().lower()
    if key not in _GENDER_ALIASES:
        raise MotionSourceError(path, f"unknown gender {value!r}; expected male, female or neutral")
    return _GENDER_ALIASES[key]


def to_smpl_pose(poses: np.ndarray, path: str | os.PathLike | None) -> np.ndarray:
    """(T, 72) SMPL axis-angle from SMPL (72), body-only (66), SMPL+H (156) or SMPL-X (165) poses.

    The first 22 joints are the same in all four layouts; SMPL's two hand joints (22, 23) have
    no counterpart in SMPL+H/SMPL-X (their hands are articulated fingers) and are set to zero.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim == 3 and poses.shape[2] == 3:
        poses = poses.reshape(len(poses), -1)
    if poses.ndim != 2 or poses.shape[1] not in _POSE_LAYOUTS:
        layouts = ", ".join(f"{n} ({name})" for n, name in _POSE_LAYOUTS.items())
        raise MotionSourceError(path, f"poses have shape {poses.shape}; expected (T, D) with D one of {layouts}")
    out = np.zeros((len(poses), SMPL_POSE_DIM))
    width = SMPL_POSE_DIM if poses.shape[1] == SMPL_POSE_DIM else 3 * BODY_JOINTS
    out[:, :width] = poses[:, :width]
    return out


def rotate_world(poses: np.ndarray, trans: np.ndarray, rotation: np.ndarray,
                 pelvis_rest: np.ndarray = SMPL_PELVIS_REST) -> tuple[np.ndarray, np.ndarray]:
    """Express SMPL ``poses``/``trans`` in a world rotated by ``rotation`` (3, 3), about the pelvis.

    Root orientation becomes ``rotation @ R_root``; ``trans`` becomes
    ``rotation @ (trans + J0) - J0`` so every vertex moves by exactly ``rotation``.
    NaN frames stay NaN.
    """
    poses = np.array(poses, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    finite = np.isfinite(poses[:, :3]).all(axis=1)
    root = Rotation.from_rotvec(np.where(finite[:, None], poses[:, :3], 0.0))
    poses[:, :3] = np.where(finite[:, None], (Rotation.from_matrix(rotation) * root).as_rotvec(), np.nan)
    trans = (trans + pelvis_rest) @ np.asarray(rotation).T - pelvis_rest
    return poses, trans


UP_AXES = {"y": np.eye(3), "z": Z_UP_TO_Y_UP, "-y": Y_DOWN_TO_Y_UP}
"""Rotation to SMPL's Y-up world for each supported world up axis."""


def detected_up_rotation(poses: np.ndarray) -> np.ndarray:
    """Rotation taking the world axis (+-X, +-Y, +-Z) nearest the body's mean up direction to +Y.

    The body's up direction is its root orientation applied to SMPL's rest up (+Y); averaged over
    frames it is the world's up for mostly upright motions.
    """
    finite = np.isfinite(poses[:, :3]).all(axis=1)
    up = Rotation.from_rotvec(poses[finite, :3]).apply([0.0, 1.0, 0.0]).mean(axis=0)
    axis = np.zeros(3)
    axis[np.argmax(np.abs(up))] = np.sign(up[np.argmax(np.abs(up))])
    if axis[1] == 1.0:
        return np.eye(3)
    if axis[1] == -1.0:
        return Y_DOWN_TO_Y_UP
    rotation, _ = Rotation.align_vectors([[0.0, 1.0, 0.0]], [axis])
    return rotation.as_matrix()


def up_rotation(up_axis: str, poses: np.ndarray, path: str | os.PathLike | None) -> np.ndarray:
    """Rotation to Y up for a world whose up axis is ``up_axis`` (``"y"``, ``"z"``, ``"-y"``, ``"auto"``)."""
    if up_axis == "auto":
        return detected_up_rotation(poses)
    if up_axis not in UP_AXES:
        raise MotionSourceError(path, f"unknown up axis {up_axis!r}; expected one of {[*UP_AXES, 'auto']}")
    return UP_AXES[up_axis]


def camera_in_rotated_world(camera: dict[str, np.ndarray], rotation: np.ndarray) -> dict[str, np.ndarray]:
    """World-to-camera ``R`` of a camera after the world is rotated by ``rotation`` (``t`` unchanged)."""
    out = dict(camera)
    out["R"] = np.asarray(camera["R"], np.float64) @ np.asarray(rotation).T
    return out
