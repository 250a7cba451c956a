"""Sagittal joint-angle curves of an SMPL sequence and a PNG of them, to check a motion by eye.

Angles are geometric, on the gender-neutral SMPL rest skeleton: hip flexion is the thigh's
forward angle from the pelvis' down axis in the pelvis' sagittal plane; knee flexion is the angle
between thigh and shank (0 = straight).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biohuman10m.metrics import smpl_forward_kinematics
from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import SMPL_JOINT_NAMES
from builder.body.skeleton import world_rotations
from builder.io import atomic_path

from .motion import MotionSequence

_J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def sagittal_angles(sequence: MotionSequence) -> dict[str, np.ndarray]:
    """``{hip_flexion_l, hip_flexion_r, knee_flexion_l, knee_flexion_r}`` in degrees, one value per frame."""
    joints = smpl_forward_kinematics(sequence.poses, SMPL_NEUTRAL_REST_JOINTS)
    pelvis = world_rotations(sequence.poses)[:, 0]
    curves = {}
    for side, tag in (("left", "l"), ("right", "r")):
        hip, knee, ankle = (joints[:, _J[f"{side}_{name}"]] for name in ("hip", "knee", "ankle"))
        thigh = np.einsum("tji,tj->ti", pelvis, knee - hip)  # in the pelvis frame: y up, z forward
        curves[f"hip_flexion_{tag}"] = np.degrees(np.arctan2(thigh[:, 2], -thigh[:, 1]))
        curves[f"knee_flexion_{tag}"] = _angle(knee - hip, ankle - knee)
    return curves


def plot_sequence(sequence: MotionSequence, path: str | Path) -> Path:
    """Write a PNG of the hip and knee flexion curves (left and right) and the root path of ``sequence``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = sagittal_angles(sequence)
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    for axis, joint in zip(axes[:2], ("hip", "knee")):
        for tag, colour in (("l", "tab:blue"), ("r", "tab:red")):
            axis.plot(sequence.times, curves[f"{joint}_flexion_{tag}"], color=colour,
                      label="left" if tag == "l" else "right")
        axis.set(title=f"{joint} flexion", xlabel="time (s)", ylabel="degrees")
        axis.grid(alpha=0.3)
        axis.legend()
    axes[2].plot(sequence.trans[:, 0], sequence.trans[:, 2], color="k")
    axes[2].set(title="root path (top view)", xlabel="x, body's left at rest (m)", ylabel="z, forward at rest (m)")
    axes[2].axis("equal")
    figure.suptitle(f"{sequence.sequence_id} ({sequence.source}, {sequence.fps:g} fps)")
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    return path
