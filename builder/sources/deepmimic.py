"""DeepMimic humanoid clips (the ``pybullet`` wheel's ``humanoid3d_*.txt``) retargeted to SMPL.

A clip is JSON ``{"Loop": "wrap"|"none", "Frames": [[...44 numbers...], ...]}``. Each frame is:
duration of the frame (s), root position (3, metres), root rotation (quaternion w, x, y, z), then
the local rotations of chest, neck, right hip (quaternions), right knee (angle, rad), right
ankle, right shoulder (quaternions), right elbow (angle), left hip, left knee, left ankle, left
shoulder, left elbow. The humanoid's world is Y up; it faces +X and its right is +Z. Knees and
elbows turn about their local Z axis. In the rest pose every limb hangs straight down.

The humanoid (pybullet_data/humanoid/humanoid.urdf loaded at globalScaling 0.25) is 1.62 m tall;
positions are scaled to a person of :data:`DEFAULT_HEIGHT` so speeds and step lengths match.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import MotionSourceError
from .motion import MotionSequence
from .retarget import J, RetargetSpec, retarget, source_basis
from .timing import interpolate_motion, nice_rate
from .validate import checked_sequence, make_id

DEFAULT_HEIGHT = 1.70
"""Standing height (m) of the person the clips are scaled to."""

URDF_SCALE = 0.25
"""``globalScaling`` with which pybullet's DeepMimic environment loads humanoid.urdf."""

# Joint origins of humanoid.urdf relative to their parent (URDF units, scaled by URDF_SCALE).
_URDF_OFFSETS = {
    "chest": (0.0, 0.944604, 0.0), "neck": (0.0, 0.895576, 0.0),
    "right_hip": (0.0, 0.0, 0.339548), "right_knee": (0.0, -1.686184, 0.0), "right_ankle": (0.0, -1.639480, 0.0),
    "right_shoulder": (-0.0962, 0.974, 0.73244), "right_elbow": (0.0, -1.099152, 0.0),
    "right_wrist": (0.0, -1.035788, 0.0),
    "left_hip": (0.0, 0.0, -0.339548), "left_knee": (0.0, -1.686184, 0.0), "left_ankle": (0.0, -1.639480, 0.0),
    "left_shoulder": (-0.0962, 0.974, -0.73244), "left_elbow": (0.0, -1.099152, 0.0),
    "left_wrist": (0.0, -1.035788, 0.0),
}
HUMANOID_OFFSETS = {name: np.array(offset) * URDF_SCALE for name, offset in _URDF_OFFSETS.items()}
"""Rest offset (m) of each humanoid joint from its parent joint."""

FOOT_CENTRE = np.array([0.18, -0.09, 0.0]) * URDF_SCALE
"""Centre of the foot box relative to the ankle (m): the foot's rest direction."""

HUMANOID_HEIGHT = URDF_SCALE * (1.686184 + 1.639480 + 0.09 + 0.11 + 0.944604 + 0.895576 + 0.70 + 0.41)
"""Sole (ankle - foot-box centre - half box height) to head top (neck + head sphere centre + radius), m."""

SEGMENTS = ("root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
            "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow")
"""The 13 humanoid segments, in the order of the frame layout."""

_PARENT = {"root": None, "chest": "root", "neck": "chest", "right_hip": "root", "right_knee": "right_hip",
           "right_ankle": "right_knee", "right_shoulder": "chest", "right_elbow": "right_shoulder",
           "left_hip": "root", "left_knee": "left_hip", "left_ankle": "left_knee", "left_shoulder": "chest",
           "left_elbow": "left_shoulder"}
_REVOLUTE = {"right_knee", "right_elbow", "left_knee", "left_elbow"}
FRAME_SIZE = 1 + 3 + 4 + sum(1 if s in _REVOLUTE else 4 for s in SEGMENTS[1:])

_S = {name: i for i, name in enumerate(SEGMENTS)}
_DOWN = np.array([0.0, -1.0, 0.0])

SPEC = RetargetSpec(
    to_smpl=source_basis(left=HUMANOID_OFFSETS["left_hip"] - HUMANOID_OFFSETS["right_hip"],
                         up=HUMANOID_OFFSETS["chest"]),
    drivers={
        J["pelvis"]: _S["root"], J["spine3"]: _S["chest"], J["head"]: _S["neck"],
        J["left_hip"]: _S["left_hip"], J["right_hip"]: _S["right_hip"],
        J["left_knee"]: _S["left_knee"], J["right_knee"]: _S["right_knee"],
        J["left_ankle"]: _S["left_ankle"], J["right_ankle"]: _S["right_ankle"],
        J["left_shoulder"]: _S["left_shoulder"], J["right_shoulder"]: _S["right_shoulder"],
        J["left_elbow"]: _S["left_elbow"], J["right_elbow"]: _S["right_elbow"],
    },
    bone_directions={
        J["left_hip"]: _DOWN, J["right_hip"]: _DOWN, J["left_knee"]: _DOWN, J["right_knee"]: _DOWN,
        J["left_ankle"]: FOOT_CENTRE, J["right_ankle"]: FOOT_CENTRE,
        J["left_shoulder"]: _DOWN, J["right_shoulder"]: _DOWN, J["left_elbow"]: _DOWN, J["right_elbow"]: _DOWN,
    },
    # One chest joint drives SMPL's three spine joints, one neck joint SMPL's neck and head.
    spreads=((J["spine1"], J["spine2"], J["spine3"]), (J["neck"], J["head"])),
)
"""DeepMimic humanoid -> SMPL. Unlisted SMPL joints (collars, toes, wrists, hands) stay at rest."""


def motions_dir() -> Path:
    """Folder of the DeepMimic clips inside the installed ``pybullet`` wheel."""
    try:
        import pybullet_data
    except ImportError:
        raise MotionSourceError(None, "the embedded motions need the 'pybullet' package "
                                      "(pip install 'biohuman[simulation]')") from None
    return Path(pybullet_data.getDataPath()) / "data" / "motions"


def embedded_motions() -> dict[str, Path]:
    """The embedded default motions: clip name (``walk``, ``run``, ``jump``, ...) -> file."""
    return {path.stem.removeprefix("humanoid3d_"): path for path in sorted(motions_dir().glob("humanoid3d_*.txt"))}


def embedded_motion(name: str) -> Path:
    """File of the embedded clip ``name`` (e.g. ``"walk"``)."""
    clips = embedded_motions()
    if name not in clips:
        raise MotionSourceError(None, f"no embedded motion {name!r}; available: {', '.join(clips)}")
    return clips[name]


def _frames(path: Path) -> tuple[np.ndarray, bool]:
    try:
        clip = json.loads(Path(path).read_text())
        frames = np.asarray(clip["Frames"], dtype=np.float64)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MotionSourceError(path, f"not a readable DeepMimic clip ({error})") from None
    except (KeyError, TypeError, ValueError):
        raise MotionSourceError(path, "not a DeepMimic clip: "
                                      "needs a 'Frames' list of equal-length number rows") from None
    if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE:
        raise MotionSourceError(path, f"DeepMimic frames have shape {frames.shape}; "
                                      f"the humanoid needs (T, {FRAME_SIZE})")
    return frames, str(clip.get("Loop", "none")).lower() == "wrap"


def _quat(values: np.ndarray) -> Rotation:
    """Rotation of (T, 4) w, x, y, z quaternions."""
    return Rotation.from_quat(values, scalar_first=True)


def humanoid_world_rotations(frames: np.ndarray) -> np.ndarray:
    """World rotation matrices (T, 13, 3, 3) of the humanoid segments of each frame."""
    world: dict[str, np.ndarray] = {"root": _quat(frames[:, 4:8]).as_matrix()}
    column = 8
    for name in SEGMENTS[1:]:
        if name in _REVOLUTE:
            local = Rotation.from_rotvec(frames[:, column, None] * np.array([0.0, 0.0, 1.0])).as_matrix()
            column += 1
        else:
            local = _quat(frames[:, column:column + 4]).as_matrix()
            column += 4
        world[name] = world[_PARENT[name]] @ local
    return np.stack([world[name] for name in SEGMENTS], axis=1)


def _repeat_cycles(frames: np.ndarray, cycles: int) -> np.ndarray:
    """A wrapping clip repeated ``cycles`` times: each cycle continues from where the last ended.

    The last frame of a wrapping clip is the pose of its first frame after one cycle; cycle ``k``
    is turned ``k`` times by the clip's heading change (about the vertical, around the clip's
    start) and shifted by the horizontal distance covered so far.
    """
    start, end = frames[0], frames[-1]
    heading = Rotation.from_euler("y", _yaw(end[4:8]) - _yaw(start[4:8]))
    pivot = np.array([start[1], 0.0, start[3]])
    step = np.array([end[1] - start[1], 0.0, end[3] - start[3]])
    offset, turn = np.zeros(3), Rotation.identity()
    out = []
    for k in range(cycles):
        cycle = (frames if k == cycles - 1 else frames[:-1]).copy()
        cycle[:, 1:4] = turn.apply(cycle[:, 1:4] - pivot) + pivot + offset
        cycle[:, 4:8] = (turn * _quat(cycle[:, 4:8])).as_quat(scalar_first=True)
        out.append(cycle)
        offset, turn = offset + turn.apply(step), heading * turn
    return np.concatenate(out)


def _yaw(quat_wxyz: np.ndarray) -> float:
    """Heading (rad about +Y) of the humanoid's forward axis +X under a root quaternion."""
    forward = _quat(quat_wxyz[None]).apply(np.array([1.0, 0.0, 0.0]))[0]
    return float(np.arctan2(-forward[2], forward[0]))


def read_deepmimic(path: str | Path, height: float = DEFAULT_HEIGHT, cycles: int = 1) -> list[MotionSequence]:
    """One SMPL :class:`MotionSequence` retargeted from a DeepMimic humanoid clip.

    ``height``: standing height (m) the positions are scaled to. ``cycles``: repeat a wrapping
    clip (walk, run, ...) this many times. Frames with unequal durations are resampled to the
    clip's most common frame rate.
    """
    path = Path(path)
    frames, wraps = _frames(path)
    if cycles > 1:
        if not wraps:
            raise MotionSourceError(path, "clip does not loop ('Loop' is not 'wrap'); "
                                          f"cannot repeat it {cycles} times")
        frames = _repeat_cycles(frames, cycles)
    if len(frames) < 2:
        raise MotionSourceError(path, f"sequence has {len(frames)} frame(s); a motion needs at least 2")
    durations = frames[:-1, 0]
    if (durations <= 0).any() or not np.isfinite(frames).all():
        raise MotionSourceError(path, "frame durations must be positive and all values finite")
    scale = height / HUMANOID_HEIGHT
    poses, trans = retarget(humanoid_world_rotations(frames), frames[:, 1:4] * scale, SPEC)
    times = np.concatenate([[0.0], np.cumsum(durations)])
    fps = nice_rate(1.0 / np.median(durations))
    name = path.stem.removeprefix("humanoid3d_")
    sequence = checked_sequence(path, sequence_id=make_id("deepmimic", name), source="deepmimic", subject="humanoid",
                                poses=poses, trans=trans, fps=fps)
    if not np.allclose(durations, 1.0 / fps, rtol=1e-3):
        new_times = np.arange(int(np.floor(times[-1] * fps + 1e-6)) + 1) / fps
        sequence = interpolate_motion(sequence, times, new_times, fps)
    return [sequence]
