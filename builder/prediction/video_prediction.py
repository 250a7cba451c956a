"""Run a trained BioHuman model on a user's video: frames + person boxes -> SMPL pose and 112
activations per frame, exported as OpenSim .sto/.mot, CSV, a muscle-group plot and an overlay video.

Person boxes come from the user (a file with one ``x0, y0, x1, y1`` pixel row per frame, NaN where
nobody is visible): BioHuman bundles no offline person detector, so without boxes it stops with a
message saying how to provide them. A box is usable when it is finite, has a positive width and
height and overlaps the image (the processor's rule). Fewer usable boxes than ``min_box_fraction``
(default :data:`MIN_BOX_FRACTION`) of the frames stop the prediction; fewer than all give a warning
counting each problem, and those frames get NaN (no prediction) in every export. A model whose
outputs are not finite on frames with a usable box is refused, naming its weights file.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biohuman10m.errors import InputError, MissingInputError
from modeling_biohuman.inference import predict_window_batches, stack_windows

from .checkpoint_loading import load_model_and_processor, model_folder, weights_file
from .exports import (
    plot_muscle_groups,
    write_activations_sto,
    write_csv,
    write_overlay_video,
    write_pose_mot,
)

logger = logging.getLogger(__name__)

BOX_FILE_FORMATS = (".npy", ".csv", ".txt", ".json")
MIN_BOX_FRACTION = 0.5
"""Share of a video's frames that must have a usable person box for a prediction (``--min-box-fraction``)."""
NO_BOXES_MESSAGE = ("no person boxes given: pass a box file with one 'x0, y0, x1, y1' row per video frame in "
                    "pixels (NaN where no person is visible), as .npy, .csv/.txt or .json (e.g. "
                    "`biohuman predict VIDEO --boxes boxes.csv --model MODEL`). BioHuman ships no offline "
                    "person detector; any detector or tracker that writes one box per frame will do.")


@dataclass
class VideoPrediction:
    """Per-frame predictions of one video and the files written for them."""

    times: np.ndarray            # (T,) seconds
    poses: np.ndarray            # (T, 72) SMPL axis-angle; NaN rows where no usable box
    activations: np.ndarray      # (T, 112) in [0, 1]; NaN rows where no usable box
    has_box: np.ndarray          # (T,) frames with a usable person box (the others have no prediction)
    files: dict[str, Path] = field(default_factory=dict)


def read_boxes(path: str | os.PathLike) -> np.ndarray:
    """(T, 4) float boxes from a .npy, .csv/.txt (optional header row) or .json file."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(path, "box file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            boxes = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".txt"):
            rows = [line.replace(",", " ").split() for line in path.read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
            try:
                np.asarray(rows[0] if rows else [], dtype=np.float64)
            except ValueError:
                rows = rows[1:]  # a header row such as "x0,y0,x1,y1"
            boxes = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
        elif suffix == ".json":
            data = json.loads(path.read_text())
            boxes = np.array([[np.nan] * 4 if b is None else b for b in (data["boxes"] if isinstance(data, dict) else data)],
                             dtype=np.float64)
        else:
            raise InputError(path, f"unknown box file type {suffix!r}; use one of {BOX_FILE_FORMATS}")
    except InputError:
        raise
    except (ValueError, KeyError, json.JSONDecodeError) as error:
        raise InputError(path, f"cannot read person boxes ({error})") from None
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InputError(path, f"boxes must be one row of 4 numbers (x0, y0, x1, y1) per frame, got shape "
                         f"{boxes.shape}")
    return boxes


def box_problems(boxes: np.ndarray, width: int, height: int) -> dict[str, np.ndarray]:
    """Per problem, the (T,) frames whose pixel box has it: ``NaN or inf``, ``x1 <= x0 or y1 <= y0`` (inverted
    or zero size) and ``outside the image``; a frame with none of them has a usable box."""
    finite = np.isfinite(boxes).all(axis=1)
    safe = np.nan_to_num(boxes)
    empty = finite & ((safe[:, 2] <= safe[:, 0]) | (safe[:, 3] <= safe[:, 1]))
    outside = finite & ~empty & ((safe[:, 0] >= width) | (safe[:, 2] <= 0) | (safe[:, 1] >= height) | (safe[:, 3] <= 0))
    return {"NaN or inf": ~finite, "x1 <= x0 or y1 <= y0": empty, "outside the image": outside}


def check_boxes(boxes: np.ndarray, width: int, height: int, source: str | os.PathLike,
                min_fraction: float = MIN_BOX_FRACTION) -> np.ndarray:
    """The (T,) usable-box mask; raises :class:`InputError` naming ``source`` when fewer than ``min_fraction``
    of the frames are usable, and warns (counting each problem) when some are not."""
    problems = box_problems(boxes, width, height)
    usable = ~np.any(list(problems.values()), axis=0)
    if usable.all():
        return usable
    counts = ", ".join(f"{name}: {int(mask.sum())}" for name, mask in problems.items() if mask.any())
    if usable.mean() < min_fraction:
        raise InputError(source, f"only {int(usable.sum())} of {len(boxes)} frames have a usable person box ({counts}; "
                         f"image {width}x{height}); at least {min_fraction:.0%} are needed (--min-box-fraction)")
    logger.warning("%s: %d of %d frames have no usable person box (%s); they get no prediction (NaN rows in the "
                   "outputs)", source, int((~usable).sum()), len(boxes), counts)
    return usable


class StreamedWindows:
    """Model inputs of windows cut from a video that is decoded and cropped on demand.

    Called with the start frames of a batch of windows (in increasing order, as
    :func:`.inference.predict_window_batches` does), it decodes up to the batch's last frame, crops
    the new frames with ``processor`` and its ``boxes`` rows, and drops frames before the batch's
    first start: only the frames of pending windows are held. ``times`` and ``has_box`` collect
    the decoded frames' time stamps and box masks; :meth:`check_exhausted` checks the video had no
    more frames, :meth:`close` closes it.
    """

    def __init__(self, video_path: Path, boxes: np.ndarray, processor: Any, window_length: int) -> None:
        from builder.video import iter_rgb_frames

        self.video_path, self.boxes, self.processor, self.window_length = video_path, boxes, processor, window_length
        self._frames = iter_rgb_frames(video_path)
        self._held: dict[str, torch.Tensor] = {}
        self._first_held = 0
        self._times: list[float] = []
        self._has_box: list[np.ndarray] = []

    @property
    def decoded(self) -> int:
        return len(self._times)

    @property
    def times(self) -> np.ndarray:
        return np.asarray(self._times, dtype=np.float64)

    @property
    def has_box(self) -> np.ndarray:
        return np.concatenate(self._has_box) if self._has_box else np.zeros(0, dtype=bool)

    def __call__(self, starts: list[int]) -> dict[str, torch.Tensor]:
        self._decode_until(min(starts[-1] + self.window_length, len(self.boxes)))
        drop = starts[0] - self._first_held
        self._held = {k: v[drop:] for k, v in self._held.items()}
        self._first_held = starts[0]
        return stack_windows(self._held, starts, self.window_length, offset=self._first_held)

    def check_exhausted(self) -> None:
        """Raise if the video holds more frames than there are boxes."""
        if next(self._frames, None) is not None:
            raise InputError(self.video_path, f"decodes to more than the {len(self.boxes)} frames its header "
                             "declares (and the box file has); re-encode the video or give one box per decoded frame")

    def close(self) -> None:
        """Close the video file."""
        self._frames.close()

    def _decode_until(self, end: int) -> None:
        while self.decoded < end:  # one window's worth of full-size frames at a time
            self._decode_piece(min(end, self.decoded + self.window_length))

    def _decode_piece(self, end: int) -> None:
        begin = self.decoded
        images = []
        for _ in range(end - begin):
            item = next(self._frames, None)
            if item is None:
                raise InputError(self.video_path, f"decodes to {self.decoded} frames, fewer than the "
                                 f"{len(self.boxes)} its header declares (and the box file has)")
            time, image = item
            images.append(image)
            self._times.append(time)
        encoded = self.processor(np.stack(images), self.boxes[begin:end])
        new = {k: encoded[k][0] for k in ("pixel_values", "boxes", "attention_mask")}
        self._held = {k: torch.cat([self._held[k], v]) if self._held else v for k, v in new.items()}
        self._has_box.append(new["attention_mask"].bool().numpy())


def predict_video(model_path: str | os.PathLike, video_path: str | os.PathLike,
                  boxes: str | os.PathLike | np.ndarray | None, output_dir: str | os.PathLike,
                  overlap: int = 0, batch_size: int = 8, overlay: bool = True,
                  min_box_fraction: float = MIN_BOX_FRACTION) -> VideoPrediction:
    """Predict pose and activations for every frame of ``video_path`` and write the export files.

    ``boxes``: (T, 4) pixel boxes or a box file (:func:`read_boxes`); their count must equal the
    video's frame count. Windows of the model's ``window_length`` run in order (``overlap`` frames
    shared between neighbours) and are merged in sequence order. The video is decoded and cropped
    as the windows advance (:class:`StreamedWindows`), so memory does not grow with its length.
    Boxes are checked first (:func:`check_boxes` with ``min_box_fraction``); frames without a usable
    box get NaN rows.
    """
    from builder.video import iter_rgb_frames, probe_video

    if boxes is None:
        raise InputError(video_path, NO_BOXES_MESSAGE)
    video_path = Path(video_path)
    info = probe_video(video_path)  # clear errors for missing or unreadable files
    box_source = f"{boxes}" if not isinstance(boxes, np.ndarray) else "the given boxes"
    boxes = read_boxes(boxes) if not isinstance(boxes, np.ndarray) else np.asarray(boxes, dtype=np.float64)
    if info.num_frames == 0:
        raise InputError(video_path, "the video has no frames")
    if len(boxes) != info.num_frames:
        raise InputError(box_source, f"{len(boxes)} boxes for the {info.num_frames} frames of {video_path}; "
                         "give exactly one box row per frame (NaN rows where no person is visible)")
    usable = check_boxes(boxes, info.width, info.height, box_source, min_box_fraction)
    model, processor = load_model_and_processor(model_path)
    windows = StreamedWindows(video_path, boxes, processor, model.config.window_length)
    try:
        output = predict_window_batches(model, len(boxes), model.config.window_length, overlap, batch_size, windows,
                                        progress=True)
        windows.check_exhausted()
    finally:
        windows.close()
    times = windows.times
    has_box = windows.has_box & usable
    poses = output.pose[0].float().numpy()
    activations = output.muscle_activations[0].float().numpy()
    broken = has_box & ~(np.isfinite(poses).all(axis=1) & np.isfinite(activations).all(axis=1))
    if broken.any():
        raise InputError(weights_file(model_folder(model_path)), f"the model gives NaN or inf for {int(broken.sum())} "
                         f"of {int(has_box.sum())} frames with a usable box: its weights are corrupt?")
    poses[~has_box], activations[~has_box] = np.nan, np.nan
    times = np.where(np.isfinite(times), times, np.arange(len(times)) / info.fps)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = VideoPrediction(times=times, poses=poses, activations=activations, has_box=has_box)
    result.files = {"sto": out / "activations.sto", "mot": out / "smpl_pose.mot", "csv": out / "predictions.csv",
                    "plot": out / "muscle_groups.png"}
    write_activations_sto(result.files["sto"], times, activations)
    write_pose_mot(result.files["mot"], times, poses)
    write_csv(result.files["csv"], times, has_box, activations, poses)
    plot_muscle_groups(result.files["plot"], times, activations, has_box, title=f"{video_path.name}: muscle groups")
    if overlay:
        result.files["overlay"] = out / "overlay.mp4"
        write_overlay_video(result.files["overlay"], (image for _, image in iter_rgb_frames(video_path)),
                            boxes, activations, has_box, info.fps)
    logger.info("predicted %d frames of %s -> %s", len(times), video_path, out)
    return result
