"""The uniform motion record every source reader yields and every BioSim stage consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biohuman10m.vocabulary import SMPL_POSE_DIM

from .plausibility import frame_rate_problem

GENDERS = ("neutral", "male", "female")
SEQUENCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
"""A sequence id (it names the sequence's output folder): ASCII letters, digits, ``.``, ``_`` and ``-``, starting
with a letter or digit, at most 200 characters, and no ``..``; so never a path, absolute or relative."""


def check_sequence_id(sequence_id: str) -> str:
    """``sequence_id`` if it matches :data:`SEQUENCE_ID`; a ``ValueError`` saying why otherwise."""
    if not isinstance(sequence_id, str) or not SEQUENCE_ID.fullmatch(sequence_id) or ".." in sequence_id:
        raise ValueError(f"sequence id {sequence_id!r} is not a plain name (letters, digits, '.', '_', '-'; "
                         "starting with a letter or digit; no '..', no '/'; at most 200 characters)")
    return sequence_id


@dataclass
class MotionSequence:
    """One SMPL motion sequence, in SMPL's world convention (Y up, metres).

    ``poses`` are 72-D axis-angle SMPL poses (root orientation first), ``trans`` the root
    translation. ``frame_valid`` marks frames whose labels can be trusted (all True by default).
    Video-bearing sources also give ``video_path``, per-frame person ``boxes`` (x0, y0, x1, y1
    in pixels, NaN where the person is not annotated) and ``camera`` (``K`` (3, 3), ``R`` (T|1, 3, 3),
    ``t`` (T|1, 3): world-to-camera). ``video_path`` is a video file or a folder of frame images
    in frame order; ``video_frames`` gives, for each motion frame, the index of its video frame
    (``None``: motion frame ``i`` is video frame ``i``), so cut or resampled sequences stay aligned.
    ``body_phenotype`` shapes the Anny body (Anny phenotype name -> value in [0, 1]) for
    sequences without an SMPL model; it is ignored when the user's SMPL model is used.
    """

    sequence_id: str
    source: str
    subject: str
    poses: np.ndarray
    trans: np.ndarray
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10, dtype=np.float32))
    gender: str = "neutral"
    source_path: Path | None = None
    video_path: Path | None = None
    boxes: np.ndarray | None = None
    camera: dict[str, np.ndarray] | None = None
    frame_valid: np.ndarray | None = None
    video_frames: np.ndarray | None = None
    body_phenotype: dict[str, float] | None = None

    def __post_init__(self) -> None:
        where = f"{self.source_path or self.sequence_id}"
        try:
            check_sequence_id(self.sequence_id)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        self.poses = np.asarray(self.poses, dtype=np.float32)
        self.trans = np.asarray(self.trans, dtype=np.float32)
        self.betas = np.asarray(self.betas, dtype=np.float32).reshape(-1)
        if self.poses.ndim != 2 or self.poses.shape[1] != SMPL_POSE_DIM:
            raise ValueError(f"{where}: poses must have shape (T, {SMPL_POSE_DIM}), got {self.poses.shape}")
        if self.trans.shape != (len(self.poses), 3):
            raise ValueError(f"{where}: trans must have shape ({len(self.poses)}, 3), got {self.trans.shape}")
        if self.gender not in GENDERS:
            raise ValueError(f"{where}: unknown gender {self.gender!r}; expected one of {GENDERS}")
        if problem := frame_rate_problem(self.fps):
            raise ValueError(f"{where}: {problem}")
        if self.frame_valid is None:
            self.frame_valid = np.ones(len(self.poses), dtype=bool)
        if self.boxes is not None and len(self.boxes) != len(self.poses):
            raise ValueError(f"{where}: {len(self.boxes)} person boxes for {len(self.poses)} frames")
        if self.video_frames is not None and len(self.video_frames) != len(self.poses):
            raise ValueError(f"{where}: {len(self.video_frames)} video frame indices for {len(self.poses)} frames")

    @property
    def num_frames(self) -> int:
        return len(self.poses)

    @property
    def times(self) -> np.ndarray:
        """Time stamp of each frame in seconds from the first frame."""
        return np.arange(self.num_frames, dtype=np.float64) / self.fps
