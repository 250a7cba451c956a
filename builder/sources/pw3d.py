"""3DPW sequence files (``sequenceFiles/<split>/<sequence>.pkl``, Python 2 pickles).

Per actor k: ``poses[k]`` (N, 72), ``trans[k]`` (N, 3), ``betas[k]`` (10,), ``genders[k]``
('m'/'f'), ``campose_valid[k]`` (N,) and ``poses2d[k]`` (N, 3, 18: x, y, confidence of COCO
keypoints); per sequence ``cam_poses`` (N, 4, 4, world-to-camera), ``cam_intrinsics`` (3, 3) and
``sequence``. Images are ``imageFiles/<sequence>/image_%05d.jpg`` at 30 frames per second.
3DPW does not document its world's up axis: by default it is detected from the poses (the
subjects are mostly upright) and turned to +Y; ``up_axis`` overrides it.
Person boxes are the extent of the confident 2D keypoints (confidence > :data:`KEYPOINT_CONFIDENCE`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import MotionSourceError
from .loaders import array, load_pickle, require
from .motion import MotionSequence
from .smpl_frames import camera_in_rotated_world, parse_gender, rotate_world, to_smpl_pose, up_rotation
from .validate import checked_sequence, make_id

FPS = 30.0
KEYPOINT_CONFIDENCE = 0.3


def keypoint_boxes(keypoints: np.ndarray, min_confidence: float = KEYPOINT_CONFIDENCE) -> np.ndarray:
    """(N, 4) boxes x0, y0, x1, y1 around keypoints (N, 3, K) with confidence above the threshold; NaN if < 2."""
    xy, confidence = keypoints[:, :2], keypoints[:, 2]
    good = confidence > min_confidence
    boxes = np.full((len(keypoints), 4), np.nan)
    for i in np.flatnonzero(good.sum(axis=1) >= 2):
        points = xy[i][:, good[i]]
        boxes[i] = [points[0].min(), points[1].min(), points[0].max(), points[1].max()]
    return boxes


def read_3dpw(path: str | Path, up_axis: str = "auto", allow_pickle: bool = False) -> list[MotionSequence]:
    """One :class:`MotionSequence` per actor of a 3DPW sequence file (a pickle: only with ``allow_pickle``)."""
    path = Path(path)
    data = load_pickle(path, allow_pickle, "3DPW")
    require(data, ("sequence", "poses", "trans", "betas"), path, "3DPW sequence")
    genders = data.get("genders", data.get("gender"))
    if genders is None:
        raise MotionSourceError(path, "no 'genders' field")
    name = str(data["sequence"])
    cam_poses = array(data["cam_poses"], path, "cam_poses", (None, 4, 4)) if "cam_poses" in data else None
    image_dir = path.parents[2] / "imageFiles" / name if len(path.parents) > 2 else None
    sequences = []
    for k, (poses, trans) in enumerate(zip(data["poses"], data["trans"])):
        poses = to_smpl_pose(array(poses, path, f"poses[{k}]"), path)
        trans = array(trans, path, f"trans[{k}]", (len(poses), 3))
        rotation = up_rotation(up_axis, poses, path)
        poses, trans = rotate_world(poses, trans, rotation)
        camera = None
        if cam_poses is not None:
            if len(cam_poses) != len(poses):
                raise MotionSourceError(path, f"{len(cam_poses)} camera poses for {len(poses)} frames of actor {k}")
            camera = camera_in_rotated_world({"K": array(data["cam_intrinsics"], path, "cam_intrinsics", (3, 3)),
                                              "R": cam_poses[:, :3, :3], "t": cam_poses[:, :3, 3]}, rotation)
        valid = np.asarray(data["campose_valid"][k], bool) if "campose_valid" in data else None
        keypoints = data.get("poses2d", data.get("poses2D"))
        boxes = None if keypoints is None else keypoint_boxes(
            array(keypoints[k], path, f"poses2d[{k}]", (len(poses), 3, None)))
        has_video = image_dir is not None and image_dir.is_dir()
        sequences.append(checked_sequence(
            path, sequence_id=make_id("3dpw", name, f"actor{k}"), source="3dpw", subject=f"{name}_actor{k}",
            poses=poses, trans=trans, fps=FPS, betas=array(data["betas"][k], path, f"betas[{k}]").reshape(-1)[:10],
            gender=parse_gender(genders[k], path), frame_valid=valid, boxes=boxes, camera=camera,
            video_path=image_dir if has_video else None))
    return sequences
