"""Read one sequence's BioSim output folder (``builder.layout``) into the arrays the dataset stores.

Only numpy, PyAV and the standard library are needed: the dataset build does not import OpenSim.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biohuman10m.vocabulary import MUSCLE_NAMES, SMPL_POSE_DIM
from builder import layout
from builder.biosim.record import describe_error
from builder.biosim.storage import read_storage
from builder.video import probe_video


def _motion_text(folder: Path, key: str) -> str | None:
    """A string stored in motion.npz (``builder.sources.motion_file`` keeps source and subject there)."""
    try:
        with np.load(folder / layout.MOTION, allow_pickle=False) as motion:
            return str(motion[key]) if key in motion else None
    except (OSError, ValueError):
        return None


def read_record(folder: Path) -> dict:
    """``record.json`` of a sequence folder as ``{sequence_id, source, subject, kept, drop_reason, settings,
    validity}`` (``validity``: BioSim's audit summary, empty if none).

    Reads both the dataset contract (``kept`` bool, ``drop_reason``) and BioSim's record
    (``builder.biosim.record``: ``status`` kept/dropped/failed with ``reasons``/``error``); source and
    subject come from the record or else from ``motion.npz``.
    """
    folder = Path(folder)
    path = folder / layout.RECORD
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing; every sequence folder needs a record.json") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if raw.get("sequence_id") != folder.name:
        raise ValueError(f"{path}: sequence_id {raw.get('sequence_id')!r} differs from folder name {folder.name!r}")
    if "kept" in raw:
        kept, reason = bool(raw["kept"]), raw.get("drop_reason")
    elif "status" in raw:
        kept = raw["status"] == "kept"
        reason = "; ".join(raw.get("reasons") or []) or (f"failed: {describe_error(raw['error'])}" if raw.get("error") else None)
    else:
        raise ValueError(f"{path}: says neither 'kept' nor 'status'; cannot tell whether its labels are usable")
    record = {"sequence_id": folder.name, "kept": kept, "drop_reason": None if kept else (reason or "unknown"),
              "settings": raw.get("settings") or {}, "validity": raw.get("validity") or {}}
    for key in ("source", "subject"):
        value = raw.get(key) or _motion_text(folder, key)
        if not value and kept:
            raise ValueError(f"{path}: no {key!r} in record.json or {layout.MOTION}")
        record[key] = str(value or "unknown")   # a failed sequence may have stopped before writing its motion
    return record


def drop_categories(reason: str) -> list[str]:
    """Drop reasons without their measured values, for counting ("IK max marker error > 0.15 m")."""
    categories = []
    for part in reason.split("; "):
        if part.startswith("failed: "):
            categories.append("failed: " + part.removeprefix("failed: ").split(":")[0])
        else:
            categories.append(re.sub(r"\s+[-+]?\d[\d.]*(?:e[-+]?\d+)?(?:\s*m)?\s*>", " >", part))
    return categories


@dataclass
class SequenceLabels:
    """Per-frame labels of one sequence, aligned with the video frames."""

    poses: np.ndarray        # (T, 72) float32
    trans: np.ndarray        # (T, 3) float32
    betas: np.ndarray        # (B,) float32
    gender: str
    fps: float
    times: np.ndarray        # (T,) float64, seconds
    frame_valid: np.ndarray  # (T,) bool: pose label trusted
    activations: np.ndarray  # (T, 112) float32, 0 where not valid
    muscle_valid: np.ndarray  # (T,) bool
    boxes: np.ndarray        # (T, 4) float32, NaN where no box
    box_visible: np.ndarray  # (T,) bool
    image_size: tuple[int, int]  # (width, height)

    @property
    def num_frames(self) -> int:
        return len(self.poses)


def _muscle_name(label: str) -> str:
    """Muscle of a storage column: ``addbrev_r`` or an OpenSim path such as ``/forceset/addbrev_r/activation``."""
    parts = [part for part in label.split("/") if part]
    return parts[-2] if len(parts) > 1 and parts[-1] == "activation" else parts[-1]


def _activations_at(path: Path, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Activations of ``path`` at the motion's frame times and their validity.

    A frame is valid when it lies within the file's time range and its nearest row is finite.
    """
    table = read_storage(path)
    sto_times, data = table.time, table.data
    column = {_muscle_name(label): i for i, label in enumerate(table.labels)}
    missing = [name for name in MUSCLE_NAMES if name not in column]
    if missing:
        raise ValueError(f"{path}: missing {len(missing)} of the 112 muscle columns, e.g. {missing[:3]}")
    data = data[:, [column[name] for name in MUSCLE_NAMES]]
    finite = np.isfinite(data).all(axis=1)
    if not finite.any():
        return np.zeros((len(times), data.shape[1]), np.float32), np.zeros(len(times), bool)
    step = float(np.median(np.diff(sto_times))) if len(sto_times) > 1 else 0.0
    tolerance = 1e-6 + 0.5 * step   # a row stands for its frame: allow rounded or slightly drifting times
    inside = (times >= sto_times[0] - tolerance) & (times <= sto_times[-1] + tolerance)
    right = np.clip(np.searchsorted(sto_times, times), 0, len(sto_times) - 1)
    left = np.clip(right - 1, 0, len(sto_times) - 1)
    nearest = np.where(np.abs(times - sto_times[left]) <= np.abs(sto_times[right] - times), left, right)
    valid = inside & finite[nearest]
    # A row within a tenth of a frame of the frame's time is the frame's label as written (storage
    # files round their times); other frames (another frame rate) are interpolated.
    exact = np.abs(sto_times[nearest] - times) <= 0.1 * step if step else np.ones(len(times), bool)
    values = data[nearest]
    if not exact.all():
        between = np.stack([np.interp(times, sto_times[finite], data[finite, j]) for j in range(data.shape[1])], 1)
        values = np.where(exact[:, None], values, between)
    return np.where(valid[:, None], values, 0.0).astype(np.float32), valid


def _valid_frames(path: Path, times: np.ndarray) -> np.ndarray:
    """BioSim's per-frame validity mask (``validity.sto`` column ``valid``) at the motion's frame times;
    all True when the folder has none (built before the audit existed)."""
    if not path.is_file():
        return np.ones(len(times), bool)
    table = read_storage(path)
    nearest = np.abs(table.time[None, :] - times[:, None]).argmin(axis=1)
    return table.column("valid")[nearest] > 0.5


def window_inputs(with_activations: bool = True) -> tuple[str, ...]:
    """The files of a sequence folder that its windows are made from."""
    names = (layout.MOTION, layout.VIDEO, layout.BOXES, layout.BOX_VISIBLE)
    return names + ((layout.ACTIVATIONS,) if with_activations else ())


def load_labels(folder: Path, with_activations: bool = True) -> SequenceLabels:
    """Read motion, activations, boxes and video size of a sequence folder; check their lengths."""
    folder = Path(folder)
    missing = [name for name in window_inputs(with_activations) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)} (BioSim writes motion.npz and "
                                "activations.sto, `biohuman render` the video and boxes)")
    motion_path = folder / layout.MOTION
    motion = np.load(motion_path, allow_pickle=False)
    for key in ("poses", "trans", "betas", "fps"):
        if key not in motion:
            raise ValueError(f"{motion_path}: missing array {key!r}")
    poses = np.asarray(motion["poses"], np.float32)
    if poses.ndim != 2 or poses.shape[1] != SMPL_POSE_DIM:
        raise ValueError(f"{motion_path}: poses must be (T, {SMPL_POSE_DIM}), got {poses.shape}")
    num_frames = len(poses)
    fps = float(motion["fps"])
    times = np.asarray(motion["times"], np.float64) if "times" in motion else np.arange(num_frames) / fps
    frame_valid = np.asarray(motion["frame_valid"], bool) if "frame_valid" in motion else np.ones(num_frames, bool)
    trans = np.asarray(motion["trans"], np.float32)
    for name, array in (("trans", trans), ("times", times), ("frame_valid", frame_valid)):
        if len(array) != num_frames:
            raise ValueError(f"{motion_path}: {name} has {len(array)} rows for {num_frames} frames")

    if with_activations:
        activations, muscle_valid = _activations_at(folder / layout.ACTIVATIONS, times)
        muscle_valid &= _valid_frames(folder / layout.VALIDITY, times)
    else:
        activations = np.zeros((num_frames, len(MUSCLE_NAMES)), np.float32)
        muscle_valid = np.zeros(num_frames, bool)

    boxes = np.load(folder / layout.BOXES).astype(np.float32)
    box_visible = np.load(folder / layout.BOX_VISIBLE).astype(bool)
    if boxes.shape != (num_frames, 4):
        raise ValueError(f"{folder / layout.BOXES}: expected shape ({num_frames}, 4), got {boxes.shape}")
    if box_visible.shape != (num_frames,):
        raise ValueError(f"{folder / layout.BOX_VISIBLE}: expected shape ({num_frames},), got {box_visible.shape}")
    video = probe_video(folder / layout.VIDEO)
    return SequenceLabels(
        poses=poses, trans=trans, betas=np.asarray(motion["betas"], np.float32).reshape(-1),
        gender=str(motion["gender"]) if "gender" in motion else "neutral", fps=fps, times=times,
        frame_valid=frame_valid, activations=activations, muscle_valid=muscle_valid & frame_valid,
        boxes=boxes, box_visible=box_visible & np.isfinite(boxes).all(axis=1),
        image_size=(video.width, video.height),
    )
