"""Cut a sequence into fixed-size temporal windows with padding and label-validity masks.

Windows hold up to ``size`` frames starting every ``stride`` frames; the last window of a
sequence may be shorter (padded, ``frame_mask`` False) and no window repeats only frames an
earlier one already holds. Frames are either the full video frames or square person crops
around the box (centre, side = longest box side x ``crop_scale``), with the 2x3 affine that
maps crop pixels back to image pixels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from biohuman10m.features import FRAME_ARRAYS, IMAGE_FORMATS, WINDOW_SIZE
from builder import layout
from builder.video import iter_rgb_frames

from .sequence_files import SequenceLabels

FRAME_MODES = ("full", "crop")


@dataclass(frozen=True)
class WindowConfig:
    """How windows are cut and how their frames are stored."""

    size: int = WINDOW_SIZE
    stride: int = WINDOW_SIZE
    frames: str = "full"          # "full" video frames or person "crop"s
    crop_size: int = 256
    crop_scale: float = 1.2
    image_format: str = "mp4"     # "mp4" (H.264) or "jpg" (one JPEG per frame)
    crf: int = 20
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if self.size < 1 or self.stride < 1:
            raise ValueError(f"window size and stride must be positive, got {self.size}, {self.stride}")
        if self.frames not in FRAME_MODES:
            raise ValueError(f"frames must be one of {FRAME_MODES}, got {self.frames!r}")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}")
        if self.crop_size % 2:
            raise ValueError(f"crop_size must be even (H.264), got {self.crop_size}")

    @property
    def crops(self) -> bool:
        return self.frames == "crop"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Window:
    """One window: scalar metadata, padded per-frame arrays and its real frames (N, H, W, 3)."""

    metadata: dict
    arrays: dict[str, np.ndarray]
    frames: np.ndarray

    @property
    def key(self) -> str:
        return self.metadata["key"]


def window_starts(num_frames: int, size: int, stride: int) -> list[int]:
    """First frame of each window: with stride <= size every frame is covered, and each window adds new frames."""
    return [s for s in range(0, num_frames, stride) if s == 0 or s + size - stride < num_frames]


def sample_key(sequence_id: str, start: int) -> str:
    """WebDataset key of a window: no dots (they separate key and member name in tar files)."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', sequence_id)}_w{start:06d}"


def crop_affine(box: np.ndarray | None, image_size: tuple[int, int], crop_size: int, scale: float) -> np.ndarray:
    """2x3 affine mapping crop pixels to image pixels: a square of side ``scale`` x the box's longest
    side around its centre; without a box, the square that covers the whole image."""
    width, height = image_size
    if box is None:
        center, side = np.array([width / 2, height / 2]), float(max(width, height))
    else:
        center = (box[:2] + box[2:]) / 2
        side = float(max(box[2] - box[0], box[3] - box[1], 1.0)) * scale
    pixel = side / crop_size
    return np.array([[pixel, 0, center[0] - side / 2], [0, pixel, center[1] - side / 2]], np.float32)


def crop_frame(frame: np.ndarray, affine: np.ndarray, crop_size: int) -> np.ndarray:
    """Warp ``frame`` by ``affine`` (crop -> image) into a crop_size x crop_size RGB crop."""
    from PIL import Image

    coefficients = tuple(float(v) for v in affine.reshape(-1))
    image = Image.fromarray(frame).transform((crop_size, crop_size), Image.Transform.AFFINE, coefficients,
                                             resample=Image.Resampling.BILINEAR)
    return np.asarray(image)


def _nearest_boxes(boxes: np.ndarray, visible: np.ndarray) -> list[np.ndarray | None]:
    """Each frame's own box if visible, else the nearest visible one in the window (None if none)."""
    visible_at = np.flatnonzero(visible)
    if not len(visible_at):
        return [None] * len(boxes)
    return [boxes[visible_at[np.abs(visible_at - i).argmin()]] for i in range(len(boxes))]


def _padded(values: np.ndarray, size: int, fill=0) -> np.ndarray:
    out = np.full((size, *values.shape[1:]), fill, dtype=values.dtype)
    out[: len(values)] = values
    return out


def window_arrays(labels: SequenceLabels, start: int, size: int) -> dict[str, np.ndarray]:
    """Padded per-frame arrays of the window that starts at ``start``."""
    stop = min(start + size, labels.num_frames)
    frames = slice(start, stop)
    present = np.ones(stop - start, bool)
    arrays = {
        "poses": labels.poses[frames], "trans": labels.trans[frames],
        "activations": labels.activations[frames], "boxes": np.nan_to_num(labels.boxes[frames], nan=0.0),
        "times": labels.times[frames], "frame_index": np.arange(start, stop, dtype=np.int32),
        "frame_mask": present, "pose_mask": labels.frame_valid[frames],
        "muscle_mask": labels.muscle_valid[frames], "box_visible": labels.box_visible[frames],
    }
    out = {}
    for name, _, dtype in FRAME_ARRAYS:
        fill = -1 if name == "frame_index" else 0
        out[name] = _padded(np.asarray(arrays[name], dtype=dtype), size, fill)
    out["betas"] = labels.betas.astype(np.float32)
    return out


def sequence_windows(folder: Path, record: dict, split: str, labels: SequenceLabels,
                     config: WindowConfig) -> Iterator[Window]:
    """Windows of one sequence, decoding its video once, front to back."""
    folder = Path(folder)
    starts = window_starts(labels.num_frames, config.size, config.stride)
    video = (image for _, image in iter_rgb_frames(folder / layout.VIDEO))
    decoded: dict[int, np.ndarray] = {}
    next_index = 0
    for index, start in enumerate(starts):
        stop = min(start + config.size, labels.num_frames)
        for old in [i for i in decoded if i < start]:
            del decoded[old]
        while next_index < stop:
            frame = next(video, None)
            if frame is None:
                raise ValueError(f"{folder / layout.VIDEO}: has {next_index} frames, "
                                 f"{layout.MOTION} has {labels.num_frames}")
            if next_index >= start:
                decoded[next_index] = frame
            next_index += 1
        frames = np.stack([decoded[i] for i in range(start, stop)])
        arrays = window_arrays(labels, start, config.size)
        if config.crops:
            boxes = _nearest_boxes(labels.boxes[start:stop], labels.box_visible[start:stop])
            affines = np.stack([crop_affine(b, labels.image_size, config.crop_size, config.crop_scale) for b in boxes])
            frames = np.stack([crop_frame(f, a, config.crop_size) for f, a in zip(frames, affines)])
            arrays["crop_affine"] = _padded(affines, config.size)
        metadata = {
            "key": sample_key(record["sequence_id"], start), "sequence_id": record["sequence_id"],
            "source": record["source"], "subject": str(record["subject"]), "split": split,
            "gender": labels.gender, "window_index": index, "start_frame": start, "num_frames": stop - start,
            "fps": labels.fps, "image_width": labels.image_size[0], "image_height": labels.image_size[1],
        }
        yield Window(metadata=metadata, arrays=arrays, frames=frames)
    if next_index == labels.num_frames and next(video, None) is not None:
        raise ValueError(f"{folder / layout.VIDEO}: has more frames than the {labels.num_frames} of {layout.MOTION}")
