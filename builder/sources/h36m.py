"""Human3.6M SMPL fits: the MoSh release ``neutrSMPL_H3.6/S<k>/<Action> <n>.pkl``.

Human3.6M itself ships 3D joint positions, not SMPL; its SMPL ground truth is the MoSh fit of the
gender-neutral SMPL body, one Python 2 pickle per subject and action with ``poses`` (T, 72),
``betas`` (10,) and ``trans`` (T, 3) in the Human3.6M (Vicon) world: Z up, metres, at the 200 Hz
of the motion capture. The camera-aligned variants (``*_cam<c>_aligned.pkl``, ``new_poses``)
are expressed in one camera's frame and are not read.

Video and camera are optional: with ``cameras`` (a JSON of Human3.6M calibrations in the layout
``{"intrinsics": {cam: {"calibration_matrix": 3x3}}, "extrinsics": {subject: {cam: {"R": 3x3,
"t": 3x1 (mm)}}}}``), ``camera_id`` and ``video_root`` (holding ``S<k>/Videos/<Action> <n>.<cam>.mp4``,
50 fps), the sequence gets ``camera``, ``video_path`` and ``video_frames``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import MotionSourceError
from .loaders import array, load_pickle, require
from .motion import MotionSequence
from .smpl_frames import Z_UP_TO_Y_UP, camera_in_rotated_world, rotate_world, to_smpl_pose
from .validate import checked_sequence, make_id

MOSH_FPS = 200.0
VIDEO_FPS = 50.0


def _camera(cameras: Path, subject: str, camera_id: str) -> dict[str, np.ndarray]:
    try:
        calibration = json.loads(Path(cameras).read_text())
        K = np.asarray(calibration["intrinsics"][camera_id]["calibration_matrix"], np.float64)
        extrinsic = calibration["extrinsics"][subject][camera_id]
        R = np.asarray(extrinsic["R"], np.float64)
        t = np.asarray(extrinsic["t"], np.float64).reshape(3) / 1000.0
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise MotionSourceError(cameras, f"no calibration for subject {subject}, camera {camera_id} "
                                         f"({error!r})") from None
    return {"K": K, "R": R[None], "t": t[None]}


def read_h36m(path: str | Path, fps: float = MOSH_FPS, cameras: str | Path | None = None,
              camera_id: str | None = None, video_root: str | Path | None = None,
              allow_pickle: bool = False) -> list[MotionSequence]:
    """One :class:`MotionSequence` from a Human3.6M MoSh pickle (world frame, Z up -> Y up; only with
    ``allow_pickle``)."""
    path = Path(path)
    data = load_pickle(path, allow_pickle, "Human3.6M MoSh")
    if isinstance(data, dict) and "new_poses" in data:
        raise MotionSourceError(path, "camera-aligned MoSh file (new_poses); read the world-frame file without '_cam'")
    require(data, ("poses", "trans", "betas"), path, "Human3.6M MoSh")
    poses = to_smpl_pose(array(data["poses"], path, "poses"), path)
    trans = array(data["trans"], path, "trans", (len(poses), 3))
    poses, trans = rotate_world(poses, trans, Z_UP_TO_Y_UP)
    subject, action = path.parent.name, path.stem
    camera = video = video_frames = None
    if cameras is not None and camera_id is not None:
        camera = camera_in_rotated_world(_camera(Path(cameras), subject, camera_id), Z_UP_TO_Y_UP)
        if video_root is not None:
            video = Path(video_root) / subject / "Videos" / f"{action}.{camera_id}.mp4"
            video_frames = np.floor(np.arange(len(poses)) * VIDEO_FPS / fps + 1e-9).astype(int)
    return [checked_sequence(
        path, sequence_id=make_id("h36m", subject, action, camera_id or ""), source="h36m", subject=subject,
        poses=poses, trans=trans, fps=fps, betas=array(data["betas"], path, "betas").reshape(-1)[:10],
        gender="neutral", camera=camera, video_path=video, video_frames=video_frames)]
