"""Frames of video-bearing sources (Human3.6M, 3DPW, EMDB, BEDLAM, MotionPRO), aligned with their motion.

The motion readers give each :class:`MotionSequence` a ``video_path`` and, when the rates
differ, ``video_frames`` (the video frame shown at each motion frame). The datasets store
their frames in two ways, both read here:

- a video file: Human3.6M ``S<k>/Videos/<Action>.<camera>.mp4`` (50 fps), BEDLAM
  ``<scene>/mp4/<seq>.mp4`` (30 fps);
- a folder of images, frame ``i`` being the ``i``-th file in natural order (by the last
  number in the name): 3DPW ``imageFiles/<seq>/image_%05d.jpg``, EMDB ``images/%05d.jpg``,
  BEDLAM ``<scene>/png/<seq>/<seq>_%04d.png``, MotionPRO ``color/`` (all 30 fps).

Alignment (:func:`synchronise`): motion frame ``i`` shows video frame ``video_frames[i]``;
without ``video_frames`` it shows the frame nearest its time stamp (``round(i * video_fps /
fps)``; an image folder is taken to run at the motion's rate unless ``video_fps`` is given).
A motion frame whose video frame does not exist (video shorter than its motion) is an error
naming the file (``on_missing="error"``, the default) or, with ``on_missing="mask"``, a black
frame with no box and ``BOX_VISIBLE = False``; frames are never shifted to fill the gap.
Boxes are clipped to the image; zero-area, NaN and fully outside boxes become NaN with
``BOX_VISIBLE = False``. A sequence without boxes gets the box of its body projected through
its camera when ``vertices`` are given, else no boxes (all masked).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from builder import layout
from builder.render.boxes import DEFAULT_MIN_VISIBLE, boxes_from_projection, clip_boxes, save_boxes
from builder.render.camera import Camera
from builder.sources.motion import MotionSequence
from builder.video import iter_frames, probe_video, write_video

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MISSING_POLICIES = ("error", "mask")
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _natural_key(path: Path) -> tuple[int, str]:
    match = _NUMBER.search(path.stem)
    return (int(match.group(1)) if match else -1, path.name)


class ImageFolderFrames:
    """The frames of a folder of images, in natural order of their names."""

    def __init__(self, folder: Path, fps: float | None = None):
        self.path = Path(folder)
        self.files = sorted((p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                            key=_natural_key)
        if not self.files:
            raise ValueError(f"{self.path}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        self.fps = fps
        self.num_frames = len(self.files)
        with Image.open(self.files[0]) as first:
            self.width, self.height = first.size

    def read(self, index: int) -> np.ndarray:
        path = self.files[index]
        try:
            with Image.open(path) as image:
                frame = np.asarray(image.convert("RGB"))
        except OSError as error:
            raise ValueError(f"{path}: cannot read frame image ({error})") from error
        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(f"{path}: {frame.shape[1]}x{frame.shape[0]} image in a folder of "
                             f"{self.width}x{self.height} frames")
        return frame

    def frames(self, indices: np.ndarray) -> Iterator[np.ndarray]:
        for index in indices:
            yield self.read(int(index))


class VideoFileFrames:
    """The frames of a video file, decoded once front to back."""

    def __init__(self, path: Path, fps: float | None = None):
        info = probe_video(path)
        self.path = info.path
        self.fps = fps or info.fps
        self.num_frames, self.width, self.height = info.num_frames, info.width, info.height

    def frames(self, indices: np.ndarray) -> Iterator[np.ndarray]:
        """Frames at ``indices`` (non-decreasing: repeats and skips as frame-rate conversion needs)."""
        if np.any(np.diff(indices) < 0):
            raise ValueError(f"{self.path}: video frames must be requested in order")
        decoded = iter_frames(self.path)
        current, image = -1, None
        for index in indices:
            while current < index:
                step = next(decoded, None)
                if step is None:
                    raise ValueError(f"{self.path}: decoded only {current + 1} of {self.num_frames} frames")
                current, _, frame = step
                if current == index:
                    image = frame.to_ndarray(format="rgb24")
            yield image


def open_frames(path: str | Path, fps: float | None = None) -> ImageFolderFrames | VideoFileFrames:
    """Frames of a video file or of an image folder; ``fps`` overrides the stored rate."""
    path = Path(path)
    if path.is_dir():
        return ImageFolderFrames(path, fps)
    if path.is_file():
        return VideoFileFrames(path, fps)
    raise FileNotFoundError(f"{path}: video file or image folder not found")


@dataclass
class SyncedVideo:
    """Per motion frame: the video frame shown (-1: none), box (T, 4) and whether the box is usable."""

    frames: ImageFolderFrames | VideoFileFrames
    video_index: np.ndarray
    boxes: np.ndarray
    visible: np.ndarray


def frame_indices(sequence: MotionSequence, frames: ImageFolderFrames | VideoFileFrames) -> np.ndarray:
    """The video frame of each motion frame: ``video_frames`` or nearest in time (rate conversion)."""
    if sequence.video_frames is not None:
        return np.asarray(sequence.video_frames, dtype=np.int64)
    video_fps = frames.fps or sequence.fps
    return np.round(np.arange(sequence.num_frames) * video_fps / sequence.fps).astype(np.int64)


def _camera(sequence: MotionSequence, width: int, height: int) -> Camera | None:
    if not sequence.camera or "K" not in sequence.camera:
        return None
    T = sequence.num_frames
    R = np.asarray(sequence.camera.get("R", np.eye(3)), np.float64).reshape(-1, 3, 3)
    t = np.asarray(sequence.camera.get("t", np.zeros(3)), np.float64).reshape(-1, 3)
    if len(R) not in (1, T) or len(t) not in (1, T):
        raise ValueError(f"{sequence.source_path or sequence.sequence_id}: camera has {len(R)} rotations and "
                         f"{len(t)} translations for {T} frames (expected 1 or {T})")
    return Camera(sequence.camera["K"], np.broadcast_to(R, (T, 3, 3)), np.broadcast_to(t, (T, 3)), width, height)


def synchronise(sequence: MotionSequence, on_missing: str = "error", video_fps: float | None = None,
                vertices: np.ndarray | None = None, min_visible: float = DEFAULT_MIN_VISIBLE) -> SyncedVideo:
    """Align ``sequence``'s video with its motion frames; see the module docstring for the rules."""
    if on_missing not in MISSING_POLICIES:
        raise ValueError(f"on_missing must be one of {MISSING_POLICIES}, got {on_missing!r}")
    if sequence.video_path is None:
        raise ValueError(f"{sequence.sequence_id}: has no video_path (render it instead)")
    frames = open_frames(sequence.video_path, video_fps)
    index = frame_indices(sequence, frames)
    if len(index) != sequence.num_frames:
        raise ValueError(f"{frames.path}: {len(index)} video frame indices for {sequence.num_frames} motion frames")
    if np.any(index < 0):
        raise ValueError(f"{frames.path}: negative video frame index for motion frame {np.argmax(index < 0)}")
    missing = index >= frames.num_frames
    if missing.any():
        first = int(np.argmax(missing))
        message = (f"{frames.path}: has {frames.num_frames} frames but motion frame {first} of "
                   f"{sequence.num_frames} needs video frame {index[first]} (video shorter than its motion)")
        if on_missing == "error":
            raise ValueError(message)
        log.warning("%s; %d frames masked", message, int(missing.sum()))
        index = np.where(missing, -1, index)

    if sequence.boxes is not None:
        boxes = clip_boxes(sequence.boxes, frames.width, frames.height)
        visible = np.isfinite(boxes[:, 0])
    else:
        camera = _camera(sequence, frames.width, frames.height)
        if vertices is not None and camera is not None:
            boxes, visible = boxes_from_projection(*camera.project(vertices), frames.width, frames.height,
                                                   min_visible)
        else:
            log.warning("%s: no person boxes and no body to project; every frame masked", sequence.sequence_id)
            boxes, visible = np.full((sequence.num_frames, 4), np.nan), np.zeros(sequence.num_frames, bool)
    boxes[index < 0] = np.nan
    visible &= index >= 0
    return SyncedVideo(frames, index, boxes, visible)


def _even_frames(synced: SyncedVideo, order: np.ndarray) -> Iterator[np.ndarray]:
    """Frames in motion order (black where missing), cropped to even size for H.264."""
    width, height = synced.frames.width // 2 * 2, synced.frames.height // 2 * 2
    black = np.zeros((height, width, 3), np.uint8)
    images = synced.frames.frames(order)
    for index in synced.video_index:
        yield black if index < 0 else next(images)[:height, :width]


def export_source_video(sequence: MotionSequence, out_dir: str | Path, on_missing: str = "error",
                        video_fps: float | None = None, vertices: np.ndarray | None = None) -> SyncedVideo:
    """Write ``sequence``'s aligned frames, boxes, visibility and camera into ``out_dir``.

    ``VIDEO`` gets one frame per motion frame at the motion's rate (odd sizes lose their last
    row/column for H.264); ``BOXES``/``BOX_VISIBLE`` as :func:`synchronise` gives them;
    ``CAMERA`` when the sequence has one. The video is written last.
    """
    out_dir = Path(out_dir)
    synced = synchronise(sequence, on_missing, video_fps, vertices)
    width, height = synced.frames.width // 2 * 2, synced.frames.height // 2 * 2
    boxes = clip_boxes(synced.boxes, width, height)
    visible = synced.visible & np.isfinite(boxes[:, 0])
    save_boxes(out_dir, boxes, visible)
    camera = _camera(sequence, width, height)
    if camera is not None:
        camera.save(out_dir / layout.CAMERA, fps=np.float64(sequence.fps), times=sequence.times,
                    video_frames=synced.video_index)
    present = synced.video_index[synced.video_index >= 0]
    write_video(out_dir / layout.VIDEO, _even_frames(synced, present), sequence.fps)
    log.info("%s: %d frames from %s, %d with a visible box", sequence.sequence_id, sequence.num_frames,
             synced.frames.path, int(visible.sum()))
    return SyncedVideo(synced.frames, synced.video_index, boxes, visible)
