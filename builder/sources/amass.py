"""AMASS-style .npz motions (AMASS SMPL+H and SMPL-X releases, BEDLAM's ground-truth motions).

Fields: ``poses`` (T, 156) SMPL+H, (T, 165) SMPL-X or (T, 72) SMPL axis-angle (or SMPL-X
``root_orient`` + ``pose_body``), ``trans`` (T, 3), ``betas``, ``gender``, and
``mocap_framerate`` (AMASS SMPL+H) or ``mocap_frame_rate`` (SMPL-X). AMASS worlds are Z up; they
are turned to SMPL's Y-up world by -90 deg about X ((x, y, z) -> (x, z, -y)), rotating about the
pelvis so every vertex moves rigidly (:func:`builder.sources.smpl_frames.rotate_world`).
BEDLAM's motion files (they carry ``motion_info``) are already Y up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import MotionSourceError
from .loaders import array, load_npz
from .motion import MotionSequence
from .smpl_frames import parse_gender, rotate_world, to_smpl_pose, up_rotation
from .validate import checked_sequence, make_id

_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate", "frame_rate", "fps")


def is_amass(keys: set[str]) -> bool:
    """Whether an .npz with these keys is an AMASS-style motion."""
    return ("poses" in keys or {"root_orient", "pose_body"} <= keys) and "trans" in keys


def _poses(data: dict[str, np.ndarray], path: Path) -> np.ndarray:
    if "poses" in data:
        return to_smpl_pose(array(data["poses"], path, "poses"), path)
    body = np.concatenate([array(data["root_orient"], path, "root_orient", (None, 3)),
                           array(data["pose_body"], path, "pose_body", (None, 63))], axis=1)
    return to_smpl_pose(body, path)


def read_amass(path: str | Path, up_axis: str | None = None, fps: float | None = None) -> list[MotionSequence]:
    """One :class:`MotionSequence` from an AMASS-style .npz.

    ``up_axis``: the file's world up (``"z"`` for AMASS, ``"y"`` for BEDLAM motions, ``"auto"``);
    None picks ``"y"`` when the file has ``motion_info`` (BEDLAM) and ``"z"`` otherwise.
    ``fps``: frame rate when the file has none of the usual keys.
    """
    path = Path(path)
    data = load_npz(path)
    if not is_amass(set(data)):
        hint = " (an AMASS shape.npz holds only body shape)" if set(data) <= {"betas", "gender"} else ""
        raise MotionSourceError(path, f"no 'poses' and 'trans' arrays{hint}; keys: {sorted(data)}")
    poses = _poses(data, path)
    trans = array(data["trans"], path, "trans", (len(poses), 3))
    rate = next((data[key] for key in _RATE_KEYS if key in data), fps)
    if rate is None:
        raise MotionSourceError(path, f"no frame rate ({' / '.join(_RATE_KEYS)}); pass fps=")
    up_axis = up_axis or ("y" if "motion_info" in data else "z")
    poses, trans = rotate_world(poses, trans, up_rotation(up_axis, poses, path))
    betas = array(data.get("betas", np.zeros(10)), path, "betas").reshape(-1)
    gender = parse_gender(data.get("gender", "neutral"), path)
    source = "bedlam" if "motion_info" in data else "amass"
    return [checked_sequence(path, sequence_id=make_id(source, *path.with_suffix("").parts[-3:]),
                             source=source, subject=path.parent.name, poses=poses, trans=trans,
                             fps=float(np.asarray(rate).item()), betas=betas, gender=gender)]
