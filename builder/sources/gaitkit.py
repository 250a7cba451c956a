"""Gait-lab walking trials of leg landmarks (gaitkit's trial JSON), retargeted to SMPL.

A trial gives, per frame, the 3-D positions (millimetres, Y up) of each leg's hip, knee, ankle, heel
and toe landmarks, with a validity flag. The ``gaitkit`` wheel ships a real healthy adult's
overground walk in this format (Fukuchi et al. 2018, PeerJ 6:e4640, CC-BY 4.0; 150 Hz), the one
physiological human walk that can be installed here: :func:`gaitkit_example` finds it.

Only the legs are measured, so the pelvis takes its heading from the two hip landmarks and stays
upright, the trunk and head follow it and the arms hang beside the body. Each leg segment turns
SMPL's rest bone onto the measured bone (hip-knee, knee-ankle) with its twist set by the left-right
axis of the segment above (pelvis, thigh), so the trial's hip, knee and ankle flexion carry over. The
foot turns its sole (level in the rest pose) onto the heel-toe line, with its left-right axis kept
level: no landmark measures foot roll. Lengths are scaled so the trial's leg (hip-knee + knee-ankle)
is as long as SMPL's.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import NUM_SMPL_JOINTS, SMPL_JOINT_PARENTS, SMPL_POSE_DIM

from .errors import MotionSourceError
from .motion import MotionSequence
from .retarget import J, local_poses, smpl_rest_direction, smpl_trans
from .timing import nice_rate
from .validate import checked_sequence, make_id

LANDMARKS = ("hip", "knee", "ankle", "heel", "toe")
LANDMARK_INDEX = {name: k for k, name in enumerate(LANDMARKS)}
SIDES = ("left", "right")
SEGMENTS = (("hip", "hip", "knee"), ("knee", "knee", "ankle"), ("ankle", "heel", "toe"))
"""Each leg segment as (SMPL joint it drives, start landmark, end landmark). The foot's long axis
runs from heel to toe: the ankle landmark is the lateral malleolus, some 5 cm lateral of that axis, so
ankle -> toe would turn the foot 15-20 degrees inwards."""

ARMS = [3 * J[f"{side}_shoulder"] + axis for side in SIDES for axis in range(3)]
"""Pose entries of the shoulders, set to the standing pose's arms-down rotations."""


def is_gaitkit_trial(head: bytes) -> bool:
    """Whether the start of a JSON file looks like a gaitkit trial (an ``angle_frames`` list)."""
    return head.lstrip().startswith(b"{") and b'"angle_frames"' in head


def gaitkit_example(name: str = "healthy") -> Path:
    """Path of an example trial shipped in the ``gaitkit`` wheel (``healthy``: Fukuchi et al. 2018)."""
    spec = importlib.util.find_spec("gaitkit")  # locate the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the gaitkit package is not installed (pip install gaitkit==1.5.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"example_{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no gaitkit example trial named {name!r}")
    return path


def read_gaitkit(path: str | Path) -> list[MotionSequence]:
    """One SMPL :class:`MotionSequence` from a gaitkit trial JSON (invalid frames flagged)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MotionSourceError(path, f"unreadable gaitkit trial: {error}") from error
    frames = data.get("angle_frames") if isinstance(data, dict) else None
    if not isinstance(frames, list) or len(frames) < 2:
        raise MotionSourceError(path, "a gaitkit trial needs an 'angle_frames' list of at least 2 frames")
    fps = data.get("fps")
    if not isinstance(fps, (int, float)) or not fps > 0:
        raise MotionSourceError(path, f"'fps' must be a positive number, got {fps!r}")
    positions = np.empty((len(frames), len(SIDES), len(LANDMARKS), 3))
    valid = np.empty(len(frames), dtype=bool)
    for index, frame in enumerate(frames):
        landmarks = frame.get("landmark_positions", {}) if isinstance(frame, dict) else {}
        for s, side in enumerate(SIDES):
            for k, landmark in enumerate(LANDMARKS):
                value = landmarks.get(f"{side}_{landmark}")
                if value is None or np.shape(value) != (3,):
                    raise MotionSourceError(path, f"frame {index}: no 3-D '{side}_{landmark}' landmark position")
                positions[index, s, k] = value
        valid[index] = bool(frame.get("is_valid", 1))
    positions /= 1000.0
    valid &= np.isfinite(positions).all(axis=(1, 2, 3)) & (np.abs(positions).sum(axis=-1) > 0).all(axis=(1, 2))
    if not valid.any():
        raise MotionSourceError(path, "no frame has all ten leg landmarks")
    poses, trans = np.zeros((len(frames), SMPL_POSE_DIM)), np.zeros((len(frames), 3))
    poses[valid], trans[valid] = landmarks_to_smpl(positions[valid])
    return [checked_sequence(path, sequence_id=make_id("gaitkit", data.get("name") or path.stem), source="gaitkit",
                             subject=str(data.get("name") or path.stem), poses=poses, trans=trans,
                             fps=nice_rate(float(fps)), frame_valid=valid)]


def landmarks_to_smpl(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SMPL ``poses`` (T, 72) and ``trans`` (T, 3) from leg landmarks (T, 2 sides, 5, 3) in metres, Y up."""
    from builder.body import NEUTRAL_POSE  # builder.body imports this package

    scale = smpl_leg_length() / trial_leg_length(positions)
    positions = positions * scale
    hips = positions[:, :, LANDMARK_INDEX["hip"]]
    left = hips[:, 0] - hips[:, 1]
    left[:, 1] = 0.0  # upright pelvis: its left-right axis is horizontal
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    up = np.broadcast_to([0.0, 1.0, 0.0], left.shape)
    world = np.empty((len(positions), NUM_SMPL_JOINTS, 3, 3))
    world[:, 0] = np.stack([left, up, np.cross(left, up)], axis=-1)
    rest_lateral = np.array([[1.0, 0.0, 0.0]])
    driven = {0}
    for s, side in enumerate(SIDES):
        lateral = left
        for joint, start, end in SEGMENTS:
            j = J[f"{side}_{joint}"]
            bone = positions[:, s, LANDMARK_INDEX[end]] - positions[:, s, LANDMARK_INDEX[start]]
            rest = smpl_rest_direction(j)
            if joint == "ankle":  # the sole: level in the rest pose, and level across when measured
                rest = rest * [1.0, 0.0, 1.0]
                lateral = np.cross(up, bone)
            measured = _frame(bone, lateral)
            world[:, j] = measured @ _frame(rest[None], rest_lateral)[0].T
            lateral = measured[..., 0]  # knee and ankle hinge about the segment above's left-right axis
            driven.add(j)
    for j, parent in enumerate(SMPL_JOINT_PARENTS):
        if j not in driven:
            world[:, j] = world[:, parent]
    poses = local_poses(world)
    poses[:, ARMS] = NEUTRAL_POSE[ARMS]  # the arms hang beside the body
    return poses, smpl_trans(hips.mean(axis=1), world)


def smpl_leg_length() -> float:
    """SMPL's neutral rest leg (hip-knee + knee-ankle), metres, mean of both sides."""
    rest = SMPL_NEUTRAL_REST_JOINTS
    return float(np.mean([np.linalg.norm(rest[J[f"{s}_knee"]] - rest[J[f"{s}_hip"]])
                          + np.linalg.norm(rest[J[f"{s}_ankle"]] - rest[J[f"{s}_knee"]]) for s in SIDES]))


def trial_leg_length(positions: np.ndarray) -> float:
    """The trial's median leg (hip-knee + knee-ankle landmark distances), mean of both sides."""
    hip, knee, ankle = (positions[:, :, LANDMARK_INDEX[name]] for name in ("hip", "knee", "ankle"))
    thigh = np.linalg.norm(knee - hip, axis=-1)
    shank = np.linalg.norm(ankle - knee, axis=-1)
    return float(np.median(thigh + shank, axis=0).mean())


def _frame(bone: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Orthonormal frames (T, 3, 3) with columns (lateral, bone, lateral x bone), ``lateral``
    made orthogonal to ``bone``; rotating a rest frame onto a measured one turns bone onto bone."""
    b = bone / np.linalg.norm(bone, axis=-1, keepdims=True)
    x = lateral - np.sum(lateral * b, axis=-1, keepdims=True) * b
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return np.stack([x, b, np.cross(x, b)], axis=-1)
