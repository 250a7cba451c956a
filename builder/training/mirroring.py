"""Left-right mirrored training samples: a horizontally flipped crop shows the mirrored motion.

Flipping a crop about its vertical axis is the image of the body reflected across the vertical
plane that holds the camera's viewing direction (the render cameras are level: their x axis is
horizontal). For a left-right symmetric body that reflected body performs the mirrored motion, so
its labels are the original labels with left and right exchanged:

* SMPL pose (24 x axis-angle): joints swap with their mirror joint and each rotation vector
  ``(x, y, z)`` becomes ``(x, -y, -z)`` (reflection across SMPL's sagittal plane, normal +x). For the
  root this is the reflection across the world's x = 0 plane, which differs from the reflection across
  the camera's plane by a rotation about the vertical: a world yaw that no crop can show anyway.
* muscle activations: ``<name>_r`` and ``<name>_l`` exchange (ULBS-112 is generated from one
  declarative table mirrored to both sides, so every channel has its partner).
* person boxes in crop pixels: ``x -> width - x`` (corners exchange).

How exact the muscle swap is depends on how symmetric the simulation is (the Anny mesh, the
marker vertices, the IK/GRF/SO solvers); ``scripts/bench_mirror_labels.py`` measures it by
simulating a mirrored motion and comparing with the swapped labels.
"""

from __future__ import annotations

import numpy as np

from biohuman10m.vocabulary import MUSCLE_NAMES, SMPL_JOINT_NAMES

_SIDES = (("left_", "right_"), ("l_", "r_"))


def _mirror_name(name: str) -> str:
    for left, right in _SIDES:
        if name.startswith(left):
            return right + name[len(left):]
        if name.startswith(right):
            return left + name[len(right):]
    return name


def smpl_mirror_permutation() -> np.ndarray:
    """(24,) index of each SMPL joint's mirror joint (itself on the midline)."""
    index = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
    return np.array([index[_mirror_name(name)] for name in SMPL_JOINT_NAMES])


def muscle_mirror_permutation() -> np.ndarray:
    """(112,) index of each muscle channel's other-side partner (``_r`` <-> ``_l``)."""
    index = {name: i for i, name in enumerate(MUSCLE_NAMES)}
    partner = {"_r": "_l", "_l": "_r"}
    missing = [name for name in MUSCLE_NAMES
               if name[-2:] not in partner or name[:-2] + partner[name[-2:]] not in index]
    if missing:
        raise ValueError(f"muscles without an other-side partner: {missing}")
    return np.array([index[name[:-2] + partner[name[-2:]]] for name in MUSCLE_NAMES])


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """Mirrored SMPL poses (..., 72) axis-angle: joints swapped with their partners, (x, y, z) -> (x, -y, -z)."""
    joints = np.asarray(pose).reshape(*np.shape(pose)[:-1], -1, 3)[..., smpl_mirror_permutation(), :]
    return (joints * np.array([1.0, -1.0, -1.0], dtype=joints.dtype)).reshape(np.shape(pose))


def mirror_muscles(values: np.ndarray) -> np.ndarray:
    """(..., 112) muscle values (activations or per-muscle masks) with the left and right channels exchanged."""
    return np.asarray(values)[..., muscle_mirror_permutation()]


def mirror_boxes(boxes: np.ndarray, width: float) -> np.ndarray:
    """(..., 4) xyxy boxes in an image ``width`` pixels wide, flipped about its vertical axis."""
    boxes = np.asarray(boxes)
    return np.stack([width - boxes[..., 2], boxes[..., 1], width - boxes[..., 0], boxes[..., 3]], axis=-1)
