"""Resampling to a frame rate and cutting sequences at invalid frames."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from biohuman10m.vocabulary import NUM_SMPL_JOINTS

from .motion import MotionSequence
from .validate import MIN_FRAMES

logger = logging.getLogger(__name__)


def nice_rate(rate: float, tolerance: float = 1e-3) -> float:
    """``rate`` rounded to a whole number of frames per second when within ``tolerance`` (relative)."""
    rounded = float(np.round(rate))
    return rounded if rounded > 0 and abs(rate - rounded) < tolerance * rate else float(rate)


def slerp_rotvecs(times: np.ndarray, rotvecs: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Spherical interpolation of (T, K, 3) axis-angle rotations from ``times`` to ``new_times``."""
    out = np.empty((len(new_times), rotvecs.shape[1], 3))
    for k in range(rotvecs.shape[1]):
        out[:, k] = Slerp(times, Rotation.from_rotvec(rotvecs[:, k]))(new_times).as_rotvec()
    return out


def _lerp(times: np.ndarray, values: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Linear interpolation of each column of (T, ...) ``values`` (NaN spreads to its neighbours)."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(new_times, times, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(len(new_times), *values.shape[1:])


def _video_frames(sequence: MotionSequence) -> np.ndarray:
    """Video frame index of each motion frame (identity when the sequence does not say)."""
    if sequence.video_frames is None:
        return np.arange(sequence.num_frames)
    return np.asarray(sequence.video_frames)


def _per_frame(value: np.ndarray, num_frames: int) -> bool:
    return value.ndim >= 1 and len(value) == num_frames and num_frames > 1


def interpolate_motion(sequence: MotionSequence, times: np.ndarray, new_times: np.ndarray,
                       fps: float) -> MotionSequence:
    """``sequence`` (frames at ``times``, seconds, increasing) evaluated at ``new_times``.

    Rotations (joint rotations, camera rotations) are slerped, translations, camera positions and
    person boxes are interpolated linearly. A new frame is valid only if the frames on both sides
    are; it shows the nearest video frame. Frames must be finite (cut NaN frames out first).
    """
    n = sequence.num_frames
    right = np.clip(np.searchsorted(times, new_times, side="left"), 0, n - 1)
    left = np.clip(np.searchsorted(times, new_times, side="right") - 1, 0, n - 1)
    nearest = np.where(np.abs(new_times - times[left]) <= np.abs(times[right] - new_times), left, right)
    poses = slerp_rotvecs(times, sequence.poses.reshape(n, NUM_SMPL_JOINTS, 3).astype(np.float64), new_times)
    camera = None
    if sequence.camera is not None:
        camera = dict(sequence.camera)
        if "R" in camera and _per_frame(np.asarray(camera["R"]), n):
            rotvecs = Rotation.from_matrix(np.asarray(camera["R"], np.float64)).as_rotvec()[:, None]
            camera["R"] = Rotation.from_rotvec(slerp_rotvecs(times, rotvecs, new_times)[:, 0]).as_matrix()
        if "t" in camera and _per_frame(np.asarray(camera["t"]), n):
            camera["t"] = _lerp(times, np.asarray(camera["t"], np.float64), new_times)
    return dataclasses.replace(
        sequence,
        poses=poses.reshape(len(new_times), -1),
        trans=_lerp(times, sequence.trans.astype(np.float64), new_times),
        fps=float(fps),
        boxes=None if sequence.boxes is None else _lerp(times, np.asarray(sequence.boxes, np.float64), new_times),
        camera=camera,
        frame_valid=sequence.frame_valid[left] & sequence.frame_valid[right],
        video_frames=_video_frames(sequence)[nearest] if sequence.video_path is not None else None,
    )


def resample(sequence: MotionSequence, fps: float) -> MotionSequence:
    """``sequence`` at ``fps`` frames per second over the same time span (slerp / linear)."""
    if fps <= 0 or not np.isfinite(fps):
        raise ValueError(f"{sequence.sequence_id}: target frame rate must be positive, got {fps!r}")
    if abs(fps - sequence.fps) < 1e-9:
        return sequence
    duration = (sequence.num_frames - 1) / sequence.fps
    new_times = np.arange(int(np.floor(duration * fps + 1e-6)) + 1) / fps
    return interpolate_motion(sequence, sequence.times, new_times, fps)


def take_frames(sequence: MotionSequence, index: np.ndarray, sequence_id: str | None = None) -> MotionSequence:
    """The frames ``index`` of ``sequence`` (boxes, per-frame camera and video frames follow)."""
    n = sequence.num_frames
    camera = None
    if sequence.camera is not None:
        camera = {key: (np.asarray(value)[index] if key in ("R", "t") and _per_frame(np.asarray(value), n) else value)
                  for key, value in sequence.camera.items()}
    return dataclasses.replace(
        sequence,
        sequence_id=sequence_id or sequence.sequence_id,
        poses=sequence.poses[index], trans=sequence.trans[index],
        boxes=None if sequence.boxes is None else np.asarray(sequence.boxes)[index],
        camera=camera, frame_valid=sequence.frame_valid[index],
        video_frames=_video_frames(sequence)[index] if sequence.video_path is not None else None,
    )


def valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) ranges of consecutive True entries."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def split_valid(sequence: MotionSequence, min_frames: int = MIN_FRAMES) -> list[MotionSequence]:
    """Cut ``sequence`` at invalid frames (flagged in ``frame_valid`` or not finite).

    Returns ``[sequence]`` when every frame is valid, otherwise the runs of at least
    ``min_frames`` valid frames as ``<id>_part0``, ``<id>_part1``, ... (shorter runs are dropped
    and logged). An empty list means nothing usable is left.
    """
    finite = np.isfinite(sequence.poses).all(axis=1) & np.isfinite(sequence.trans).all(axis=1)
    valid = np.asarray(sequence.frame_valid, dtype=bool) & finite
    if valid.all():
        return [sequence]
    runs = valid_runs(valid)
    kept = [(start, stop) for start, stop in runs if stop - start >= min_frames]
    if len(kept) < len(runs):
        logger.info("%s: dropped %d valid run(s) shorter than %d frames", sequence.sequence_id,
                    len(runs) - len(kept), min_frames)
    return [take_frames(sequence, np.arange(start, stop), f"{sequence.sequence_id}_part{k}")
            for k, (start, stop) in enumerate(kept)]
