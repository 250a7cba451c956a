"""Build a :class:`MotionSequence` from reader fields, turning every problem into a :class:`MotionSourceError`."""

from __future__ import annotations

import os
import re

import numpy as np

from .errors import MotionSourceError
from .motion import MotionSequence

MIN_FRAMES = 2
"""Shortest usable motion: velocities (and everything downstream) need two frames."""


def make_id(source: str, *parts: object) -> str:
    """A file-system-safe sequence id ``<source>_<part>_<part>...`` (it names the output folder)."""
    text = "_".join(str(part) for part in (source, *parts) if str(part))
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_.")


def checked_sequence(path: str | os.PathLike | None, **fields) -> MotionSequence:
    """A :class:`MotionSequence` of ``fields`` read from ``path``, validated.

    Frames whose pose or translation is not finite are marked invalid in ``frame_valid`` (on top
    of any flags the source gives); :func:`builder.sources.timing.split_valid` cuts them out.
    Raises :class:`MotionSourceError` for a wrong pose shape, an unknown gender, a bad frame
    rate, fewer than :data:`MIN_FRAMES` frames, or no finite frame at all.
    """
    poses = np.asarray(fields["poses"], dtype=np.float64)
    trans = np.asarray(fields["trans"], dtype=np.float64)
    if poses.ndim != 2 or len(poses) < MIN_FRAMES:
        count = len(poses) if poses.ndim >= 1 else 0
        raise MotionSourceError(path, f"sequence has {count} frame(s); a motion needs at least {MIN_FRAMES}")
    try:
        sequence = MotionSequence(source_path=path, **fields)
    except ValueError as error:
        problem = str(error)
        prefix = f"{path}: "
        raise MotionSourceError(path, problem[len(prefix):] if problem.startswith(prefix) else problem) from None
    finite = np.isfinite(poses).all(axis=1) & (np.isfinite(trans).all(axis=1) if trans.ndim == 2 else False)
    if not finite.any():
        raise MotionSourceError(path, f"all {len(poses)} frames have NaN or infinite poses/translation")
    sequence.frame_valid = np.asarray(sequence.frame_valid, dtype=bool) & finite
    return sequence


def nan_frames(sequence: MotionSequence) -> np.ndarray:
    """Indices of frames whose pose or translation is not finite."""
    finite = np.isfinite(sequence.poses).all(axis=1) & np.isfinite(sequence.trans).all(axis=1)
    return np.flatnonzero(~finite)


def reject_nan(sequence: MotionSequence) -> None:
    """Raise :class:`MotionSourceError` naming the frames if ``sequence`` has NaN/inf values."""
    bad = nan_frames(sequence)
    if len(bad):
        shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
        raise MotionSourceError(sequence.source_path or sequence.sequence_id,
                                f"{len(bad)} of {sequence.num_frames} frames have NaN or infinite poses/translation "
                                f"(frames {shown})")
