"""BEDLAM processed labels: one .npz per scene, one row per (person, image).

Fields (BEDLAM data_processing/ReadMe.md): ``imgname`` (``<seq>/<seq>_<frame>.png``),
``center``, ``scale`` (box centre and side / 200, enlarged by 1.2), ``pose_world`` (SMPL 72 or
SMPL-X 165), ``trans_world``, ``shape``, ``gender``, ``cam_int`` (3, 3), ``cam_ext`` (4, 4,
world-to-camera), ``sub`` (subject). Rows are grouped into one sequence per (image folder,
subject); frames missing between rows (person out of view) are NaN and invalid. Images come at
30 frames per second (labels at 6 fps keep every 5th). BEDLAM's world is the camera-style
Y-down, Z-forward frame; it is turned to Y up by 180 deg about X.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from .errors import MotionSourceError
from .loaders import array, load_npz, require
from .motion import MotionSequence
from .smpl_frames import Y_DOWN_TO_Y_UP, camera_in_rotated_world, parse_gender, rotate_world, to_smpl_pose
from .validate import checked_sequence, make_id

IMAGE_FPS = 30.0
_FRAME = re.compile(r"(\d+)\.\w+$")


def is_bedlam_labels(keys: set[str]) -> bool:
    return {"imgname", "pose_world", "trans_world"} <= keys


def read_bedlam(path: str | Path, image_root: str | Path | None = None) -> list[MotionSequence]:
    """One :class:`MotionSequence` per (image folder, subject) of a BEDLAM scene label file.

    ``image_root``: folder holding ``<scene>/png/<seq>/`` images (the scene is the file's stem);
    sets ``video_path`` when given.
    """
    path = Path(path)
    data = load_npz(path)
    require(data, ("imgname", "pose_world", "trans_world", "shape", "gender", "cam_int", "cam_ext"), path,
            "BEDLAM label")
    names = [str(name) for name in data["imgname"]]
    poses = to_smpl_pose(array(data["pose_world"], path, "pose_world"), path)
    trans = array(data["trans_world"], path, "trans_world", (len(names), 3))
    poses, trans = rotate_world(poses, trans, Y_DOWN_TO_Y_UP)
    subjects = [str(s) for s in data["sub"]] if "sub" in data else ["0"] * len(names)
    groups: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for row, (name, subject) in enumerate(zip(names, subjects)):
        match = _FRAME.search(name)
        if not match:
            raise MotionSourceError(path, f"image name {name!r} does not end in a frame number")
        groups[(str(Path(name).parent), subject)].append((int(match.group(1)), row))
    sequences = []
    for (folder, subject), entries in sorted(groups.items()):
        entries.sort()
        frames = np.array([frame for frame, _ in entries])
        rows = np.array([row for _, row in entries])
        step = int(np.min(np.diff(frames))) if len(frames) > 1 else 1
        if step <= 0:
            raise MotionSourceError(path, f"{folder}, subject {subject}: "
                                          f"image {frames[np.argmin(np.diff(frames))]} listed twice")
        slots = (frames - frames[0]) // step
        count = int(slots[-1]) + 1

        def spread(values: np.ndarray) -> np.ndarray:
            out = np.full((count, *values.shape[1:]), np.nan)
            out[slots] = values
            return out

        cam_ext = spread(array(data["cam_ext"], path, "cam_ext", (len(names), 4, 4))[rows])
        centre, side = array(data["center"], path, "center")[rows], 200.0 * array(data["scale"], path, "scale")[rows]
        boxes = np.concatenate([centre - side[:, None] / 2, centre + side[:, None] / 2], axis=1)
        camera = camera_in_rotated_world({"K": array(data["cam_int"], path, "cam_int")[rows[0]],
                                          "R": cam_ext[:, :3, :3], "t": cam_ext[:, :3, 3]},
                                         Y_DOWN_TO_Y_UP)
        valid = np.zeros(count, bool)
        valid[slots] = True
        video = Path(image_root) / path.stem / "png" / folder if image_root is not None else None
        sequences.append(checked_sequence(
            path, sequence_id=make_id("bedlam", path.stem, folder, f"sub{subject}"), source="bedlam", subject=subject,
            poses=spread(poses[rows]), trans=spread(trans[rows]), fps=IMAGE_FPS / step,
            betas=array(data["shape"], path, "shape")[rows[0]].reshape(-1)[:10],
            gender=parse_gender(data["gender"][rows[0]], path), frame_valid=valid, boxes=spread(boxes), camera=camera,
            video_path=video, video_frames=frames[0] + step * np.arange(count) if video is not None else None))
    return sequences
