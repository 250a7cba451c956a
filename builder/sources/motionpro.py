"""MotionPRO sequences: a folder ``<date>/<subject>/<motion>/`` holding ``smpl.npy``.

``smpl.npy`` is a pickled dict (``np.save`` of a dict) with ``global_orient`` (T, 3),
``body_pose`` (T, 69), ``transl`` (T, 3) and ``betas`` (>= 10), the Mosh++ fit of the optical
markers; next to it ``pressure.npz`` (pressure mat frames), ``color/`` (RGB frames) and, once
generated, ``bbox.npy`` (T, 8: frame, x0, y0, x1, y1, score, ...). The world is the pressure
mat's: the floor is z = 0, Z up. The release does not state a frame rate: :data:`DEFAULT_FPS` is
assumed unless ``smpl.npy`` has ``fps`` or the caller passes one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .loaders import array, load_npy_object, require
from .motion import MotionSequence
from .smpl_frames import Z_UP_TO_Y_UP, parse_gender, rotate_world
from .validate import checked_sequence, make_id

DEFAULT_FPS = 30.0
SMPL_FILE = "smpl.npy"


def read_motionpro(path: str | Path, fps: float | None = None, allow_pickle: bool = False) -> list[MotionSequence]:
    """One :class:`MotionSequence` from a MotionPRO ``smpl.npy`` (or its sequence folder); the file is a
    pickled dictionary, read only with ``allow_pickle``."""
    path = Path(path)
    if path.is_dir():
        path = path / SMPL_FILE
    data = load_npy_object(path, allow_pickle, "MotionPRO smpl.npy")
    require(data, ("global_orient", "body_pose", "transl", "betas"), path, "MotionPRO smpl.npy")
    root = array(data["global_orient"], path, "global_orient", (None, 3))
    poses = np.concatenate([root, array(data["body_pose"], path, "body_pose").reshape(len(root), -1)], axis=1)
    trans = array(data["transl"], path, "transl", (len(root), 3))
    poses, trans = rotate_world(poses, trans, Z_UP_TO_Y_UP)
    folder = path.parent
    boxes = None
    if (folder / "bbox.npy").is_file():
        detections = array(np.load(folder / "bbox.npy"), folder / "bbox.npy", "bbox", (len(root), None))
        boxes = detections[:, 1:5]
    color = folder / "color"
    subject = folder.parent.name
    return [checked_sequence(
        path, sequence_id=make_id("motionpro", folder.parent.parent.name, subject, folder.name), source="motionpro",
        subject=subject, poses=poses, trans=trans, fps=float(fps or data.get("fps", DEFAULT_FPS)),
        betas=array(data["betas"], path, "betas").reshape(-1)[:10],
        gender=parse_gender(data.get("gender", "neutral"), path),
        boxes=boxes, video_path=color if color.is_dir() else None)]
