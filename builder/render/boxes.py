"""Person boxes (x0, y0, x1, y1 in pixels) and the per-frame visibility flag.

A frame's box is *visible* (usable as a label) only when it is finite, has positive area
after clipping to the image, and enough of the body is in the image. Frames that fail
keep ``NaN`` boxes where there is nothing to draw and ``visible = False``: they are masked,
never silently shifted. Pixel centres are at integers, so an image of width W spans
[-0.5, W - 0.5] (the OpenCV convention of :mod:`builder.render.camera`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from builder import layout
from builder.io import atomic_path

DEFAULT_MIN_VISIBLE = 0.5  # fraction of body vertices that must be inside the image


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to the image; ``NaN`` rows where the clipped box has zero area or is invalid."""
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    clipped = boxes.copy()
    clipped[:, [0, 2]] = np.clip(boxes[:, [0, 2]], -0.5, width - 0.5)
    clipped[:, [1, 3]] = np.clip(boxes[:, [1, 3]], -0.5, height - 0.5)
    empty = ~np.all(np.isfinite(clipped), axis=1) | (box_areas(clipped) <= 0)
    clipped[empty] = np.nan
    return clipped


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas of (N, 4) boxes; zero for degenerate or inverted boxes, NaN for NaN boxes."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def boxes_from_projection(uv: np.ndarray, depth: np.ndarray, width: int, height: int,
                          min_visible: float = DEFAULT_MIN_VISIBLE) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (T, 4) and visibility (T,) of projected body points ``uv`` (T, N, 2), ``depth`` (T, N).

    The box spans the points in front of the camera, clipped to the image. A frame is visible
    when at least ``min_visible`` of the points are in front of the camera and inside the image.
    """
    in_front = depth > 1e-6
    inside = (in_front & (uv[..., 0] >= -0.5) & (uv[..., 0] <= width - 0.5)
              & (uv[..., 1] >= -0.5) & (uv[..., 1] <= height - 0.5))
    masked = np.where(in_front[..., None], uv, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames: body behind the camera
        raw = np.concatenate([np.nanmin(masked, axis=1), np.nanmax(masked, axis=1)], axis=1)
    boxes = clip_boxes(raw, width, height)
    visible = np.isfinite(boxes[:, 0]) & (inside.mean(axis=1) >= min_visible)
    return boxes, visible


def box_from_mask(mask: np.ndarray) -> np.ndarray:
    """Box (4,) around the True pixels of a (H, W) mask, in the same pixel convention; NaN if empty."""
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return np.full(4, np.nan)
    y = np.flatnonzero(rows)
    x = np.flatnonzero(cols)
    return np.array([x[0] - 0.5, y[0] - 0.5, x[-1] + 0.5, y[-1] + 0.5])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of matching rows of (N, 4) boxes (NaN where either is NaN)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    inter = box_areas(np.concatenate([np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])], 1))
    union = box_areas(a) + box_areas(b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def save_boxes(out_dir: str | Path, boxes: np.ndarray, visible: np.ndarray) -> None:
    """Write ``layout.BOXES`` (T, 4) float32 and ``layout.BOX_VISIBLE`` (T,) bool, atomically."""
    boxes = np.asarray(boxes, dtype=np.float32)
    visible = np.asarray(visible, dtype=bool)
    if boxes.shape != (len(visible), 4):
        raise ValueError(f"{out_dir}: {boxes.shape} boxes for {len(visible)} visibility flags")
    for name, array in ((layout.BOXES, boxes), (layout.BOX_VISIBLE, visible)):
        with atomic_path(Path(out_dir) / name) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, array)
