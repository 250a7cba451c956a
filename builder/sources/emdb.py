"""EMDB sequence pickles (``P<k>/<sequence>/P<k>_<sequence>_data.pkl``).

Fields (EMDB's dataset.md): ``gender``, ``name``, ``n_frames``, ``good_frames_mask`` (N,),
``smpl`` {``poses_root`` (N, 3), ``poses_body`` (N, 69), ``trans`` (N, 3), ``betas`` (10,)},
``camera`` {``intrinsics`` (3, 3), ``extrinsics`` (N, 4, 4) world-to-camera, ``width``,
``height``}, ``bboxes`` {``bboxes`` (N, 4) x_min, y_min, x_max, y_max; ``invalid_idxs``}.
Images are ``images/%05d.jpg`` next to the pickle, 30 frames per second. EMDB's world is Y up
(its viewer shows it without a change of frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .loaders import array, load_pickle, require
from .motion import MotionSequence
from .smpl_frames import camera_in_rotated_world, parse_gender, rotate_world, up_rotation
from .validate import checked_sequence, make_id

FPS = 30.0


def read_emdb(path: str | Path, up_axis: str = "y", allow_pickle: bool = False) -> list[MotionSequence]:
    """One :class:`MotionSequence` from an EMDB ``*_data.pkl`` (a pickle: only with ``allow_pickle``); bad
    frames are marked invalid."""
    path = Path(path)
    data = load_pickle(path, allow_pickle, "EMDB")
    require(data, ("gender", "name", "good_frames_mask", "smpl"), path, "EMDB sequence")
    smpl = data["smpl"]
    require(smpl, ("poses_root", "poses_body", "trans", "betas"), path, "EMDB 'smpl'")
    root = array(smpl["poses_root"], path, "smpl.poses_root", (None, 3))
    poses = np.concatenate([root, array(smpl["poses_body"], path, "smpl.poses_body", (len(root), 69))], axis=1)
    trans = array(smpl["trans"], path, "smpl.trans", (len(root), 3))
    rotation = up_rotation(up_axis, poses, path)
    poses, trans = rotate_world(poses, trans, rotation)
    camera = None
    if "camera" in data:
        extrinsics = array(data["camera"]["extrinsics"], path, "camera.extrinsics", (len(root), 4, 4))
        camera = camera_in_rotated_world({"K": array(data["camera"]["intrinsics"], path, "camera.intrinsics", (3, 3)),
                                          "R": extrinsics[:, :3, :3], "t": extrinsics[:, :3, 3]}, rotation)
    boxes = None
    if "bboxes" in data:
        boxes = array(data["bboxes"]["bboxes"], path, "bboxes.bboxes", (len(root), 4)).copy()
        invalid = np.asarray(data["bboxes"].get("invalid_idxs", []), dtype=int)
        boxes[invalid] = np.nan
    name = str(data["name"])
    image_dir = path.parent / "images"
    return [checked_sequence(
        path, sequence_id=make_id("emdb", name), source="emdb", subject=name.split("_")[0], poses=poses, trans=trans,
        fps=FPS, betas=array(smpl["betas"], path, "smpl.betas").reshape(-1), gender=parse_gender(data["gender"], path),
        frame_valid=np.asarray(data["good_frames_mask"], bool), boxes=boxes, camera=camera,
        video_path=image_dir if image_dir.is_dir() else None)]
