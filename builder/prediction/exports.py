"""Files written for a predicted video: OpenSim storage/motion files, CSV, group plot, overlay video.

* ``activations.sto``: OpenSim storage (version 1 header, ``time`` + the 112 muscle columns), which
  ``opensim.TimeSeriesTable`` and OpenSim's GUI open.
* ``smpl_pose.mot``: OpenSim motion file of the SMPL pose, ``time`` + 72 axis-angle components in
  radians (``inDegrees=no``; columns ``<joint>_x/_y/_z``).
* ``predictions.csv``: one row per frame: frame, time, has_box, 112 activations, 72 pose values.
* ``muscle_groups.png``: mean activation of each muscle group over time.
* ``overlay.mp4``: the video with the person box and one activation bar per muscle group drawn beside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from biohuman10m.vocabulary import (
    MUSCLE_GROUPS,
    MUSCLE_NAMES,
    SMPL_JOINT_NAMES,
    muscle_indices,
)
from builder.io import atomic_path, write_text_atomic

POSE_COLUMNS: tuple[str, ...] = tuple(f"{joint}_{axis}" for joint in SMPL_JOINT_NAMES for axis in "xyz")
GROUP_COLOURS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                 (70, 240, 240))


def _storage_text(name: str, times: np.ndarray, labels: tuple[str, ...], values: np.ndarray,
                  in_degrees: bool = False) -> str:
    header = [name, "version=1", f"nRows={len(times)}", f"nColumns={len(labels) + 1}",
              f"inDegrees={'yes' if in_degrees else 'no'}", "endheader", "\t".join(("time",) + tuple(labels))]
    rows = ["\t".join([f"{t:.6f}"] + [f"{v:.6g}" for v in row]) for t, row in zip(times, values)]
    return "\n".join(header + rows) + "\n"


def write_activations_sto(path: Path, times: np.ndarray, activations: np.ndarray) -> None:
    """OpenSim storage file of (T, 112) activations."""
    write_text_atomic(path, _storage_text("activations", times, MUSCLE_NAMES, activations))


def write_pose_mot(path: Path, times: np.ndarray, poses: np.ndarray) -> None:
    """OpenSim motion file of (T, 72) SMPL axis-angle poses (radians)."""
    write_text_atomic(path, _storage_text("smpl_pose", times, POSE_COLUMNS, poses))


def write_csv(path: Path, times: np.ndarray, has_box: np.ndarray, activations: np.ndarray, poses: np.ndarray) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["frame", "time", "has_box", *MUSCLE_NAMES, *POSE_COLUMNS])
    for i, (t, box, a, p) in enumerate(zip(times, has_box, activations, poses)):
        writer.writerow([i, f"{t:.6f}", int(box), *(f"{v:.6g}" for v in a), *(f"{v:.6g}" for v in p)])
    write_text_atomic(path, buffer.getvalue())


def group_means(activations: np.ndarray) -> np.ndarray:
    """(T, 112) -> (T, groups) mean activation of each muscle group (order of ``MUSCLE_GROUPS``)."""
    return np.stack([activations[:, muscle_indices(group=g)].mean(1) for g in MUSCLE_GROUPS], axis=1)


def plot_muscle_groups(path: Path, times: np.ndarray, activations: np.ndarray, has_box: np.ndarray,
                       title: str = "") -> None:
    """PNG of each group's mean activation over time (frames without a person box left blank)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = np.where(has_box[:, None], group_means(activations), np.nan)
    fig, axis = plt.subplots(figsize=(9, 3.5))
    for g, group in enumerate(MUSCLE_GROUPS):
        axis.plot(times, means[:, g], color=np.array(GROUP_COLOURS[g]) / 255, label=group)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("mean activation")
    axis.set_ylim(0, max(0.2, float(np.nanmax(means)) * 1.15) if np.isfinite(means).any() else 1)
    axis.set_title(title or "Predicted muscle activation by group")
    axis.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def overlay_frame(frame: np.ndarray, box: np.ndarray, levels: np.ndarray | None) -> np.ndarray:
    """``frame`` with ``box`` outlined and one bar per muscle group (``levels`` in [0, 1]) beside it."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    height, width = frame.shape[:2]
    if levels is None or not np.isfinite(box).all():
        return np.asarray(image)
    x0, y0, x1, y1 = (float(v) for v in box)
    draw.rectangle([x0, y0, x1, y1], outline=(255, 255, 255), width=max(1, width // 200))
    bar_w = max(3, width // 60)
    panel_w = len(levels) * (bar_w + 2)
    left = x1 + 4 if x1 + 4 + panel_w <= width else max(0.0, x0 - 4 - panel_w)
    top, bottom = max(0.0, y0), min(float(height - 1), y1)
    span = max(bottom - top, 1.0)
    for g, level in enumerate(levels):
        bx = left + g * (bar_w + 2)
        draw.rectangle([bx, top, bx + bar_w, bottom], outline=(40, 40, 40))
        draw.rectangle([bx, bottom - span * float(np.clip(level, 0, 1)), bx + bar_w, bottom], fill=GROUP_COLOURS[g])
    return np.asarray(image)


def write_overlay_video(path: Path, frames: Iterator[np.ndarray], boxes: np.ndarray, activations: np.ndarray,
                        has_box: np.ndarray, fps: float) -> int:
    """H.264 video of the frames with boxes and group activation bars; returns the frame count."""
    from builder.video import write_video

    levels = group_means(activations)

    def drawn() -> Iterator[np.ndarray]:
        for i, frame in enumerate(frames):
            out = overlay_frame(frame, boxes[i], levels[i] if has_box[i] else None)
            yield out[: out.shape[0] // 2 * 2, : out.shape[1] // 2 * 2]

    return write_video(path, drawn(), fps)
