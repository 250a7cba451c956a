"""BioHuman's own motion file (``layout.MOTION``, ``motion.npz``): one sequence, already in SMPL's Y-up world.

Arrays: ``poses`` (T, 72), ``trans`` (T, 3), ``betas``, ``gender``, ``fps``, ``times`` (T,),
``frame_valid`` (T,), ``sequence_id``, ``source``, ``subject``, ``up_axis`` (``"y"``), and when
present ``boxes`` (T, 4), ``video_path``, ``video_frames`` (T,), ``camera_K`` (3, 3),
``camera_R`` (T|1, 3, 3), ``camera_t`` (T|1, 3), ``phenotype_<name>`` (Anny body shape). Strings are
stored as unicode arrays so the file loads with ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from builder.io import atomic_path

from .loaders import load_npz, require
from .motion import MotionSequence
from .validate import checked_sequence

FORMAT_KEYS = ("sequence_id", "up_axis", "poses", "trans", "fps")


def is_motion_file(keys: set[str]) -> bool:
    return set(FORMAT_KEYS) <= keys


def save_motion(sequence: MotionSequence, path: str | Path) -> None:
    """Write ``sequence`` to ``path`` (.npz) atomically."""
    arrays = {
        "sequence_id": np.str_(sequence.sequence_id), "source": np.str_(sequence.source),
        "subject": np.str_(sequence.subject), "up_axis": np.str_("y"),
        "poses": sequence.poses.astype(np.float32), "trans": sequence.trans.astype(np.float32),
        "betas": sequence.betas.astype(np.float32), "gender": np.str_(sequence.gender),
        "fps": np.float64(sequence.fps), "times": sequence.times,
        "frame_valid": np.asarray(sequence.frame_valid, bool),
    }
    if sequence.boxes is not None:
        arrays["boxes"] = np.asarray(sequence.boxes, np.float32)
    if sequence.video_path is not None:
        arrays["video_path"] = np.str_(str(sequence.video_path))
    if sequence.video_frames is not None:
        arrays["video_frames"] = np.asarray(sequence.video_frames, np.int64)
    for key, value in (sequence.camera or {}).items():
        arrays[f"camera_{key}"] = np.asarray(value)
    for key, value in (sequence.body_phenotype or {}).items():
        arrays[f"phenotype_{key}"] = np.float64(value)
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(handle, **arrays)


def load_motion(path: str | Path) -> list[MotionSequence]:
    """The sequence stored by :func:`save_motion` (a one-element list, like every reader)."""
    path = Path(path)
    data = load_npz(path)
    require(data, FORMAT_KEYS, path, "BioHuman motion")
    camera = {key.removeprefix("camera_"): value for key, value in data.items() if key.startswith("camera_")}
    phenotype = {key.removeprefix("phenotype_"): float(value) for key, value in data.items()
                 if key.startswith("phenotype_")}
    return [checked_sequence(
        path, sequence_id=str(data["sequence_id"]), source=str(data.get("source", "")),
        subject=str(data.get("subject", "")), poses=data["poses"], trans=data["trans"], fps=float(data["fps"]),
        betas=data.get("betas", np.zeros(10)), gender=str(data.get("gender", "neutral")),
        frame_valid=data.get("frame_valid"), boxes=data.get("boxes"), camera=camera or None,
        video_path=Path(str(data["video_path"])) if "video_path" in data else None,
        video_frames=data.get("video_frames"), body_phenotype=phenotype or None)]
