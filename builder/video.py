"""H.264 MP4 video files (PyAV): atomic writing with exact per-frame time stamps, reading back.

Every BioHuman sequence video holds exactly one frame per motion frame, frame ``i`` at time
``i / fps`` (presentation time stamps in units of ``1 / fps``), so frame index and motion index
are the same number. :func:`check_frame_count` turns any mismatch into an error instead of a
silent misalignment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from biohuman10m.errors import InputError, MissingInputError
from builder.io import atomic_path

DEFAULT_CRF = 18  # x264 constant-rate factor: visually near-lossless, ~JPEG quality 90


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's first video stream."""

    path: Path
    num_frames: int
    fps: float
    width: int
    height: int


def fps_fraction(fps: float) -> Fraction:
    """Exact rational frame rate (29.97 -> 30000/1001) used as the stream rate and time base."""
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"frame rate must be a positive number, got {fps!r}")
    return Fraction(fps).limit_denominator(1001)


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float,
                crf: int = DEFAULT_CRF, preset: str = "veryfast") -> int:
    """Encode RGB uint8 frames (H, W, 3) as H.264 (yuv420p) MP4 at ``path``, atomically.

    Frame ``i`` gets presentation time ``i / fps``. Width and height must be even (yuv420p).
    Returns the number of frames written; an empty sequence is an error.
    """
    path = Path(path)
    rate = fps_fraction(fps)
    count = 0
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for frame in frames:
                frame = np.asarray(frame)
                if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                    raise ValueError(f"{path}: frame {count} must be uint8 (H, W, 3), "
                                     f"got {frame.dtype} {frame.shape}")
                if stream is None:
                    height, width = frame.shape[:2]
                    if width % 2 or height % 2:
                        raise ValueError(f"{path}: H.264 (yuv420p) needs even width and height, "
                                         f"got {width}x{height}")
                    stream = container.add_stream("libx264", rate=rate)
                    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                    stream.options = {"crf": str(crf), "preset": preset}
                elif frame.shape[:2] != (stream.height, stream.width):
                    raise ValueError(f"{path}: frame {count} is {frame.shape[1]}x{frame.shape[0]}, "
                                     f"earlier frames were {stream.width}x{stream.height}")
                video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                video_frame.pts = count  # in the codec time base, 1 / rate
                container.mux(stream.encode(video_frame))
                count += 1
            if stream is None:
                raise ValueError(f"{path}: no frames to write")
            container.mux(stream.encode(None))
    return count


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise MissingInputError(path, "video file not found")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise InputError(path, f"not a readable video ({error})") from error
    if not container.streams.video:
        container.close()
        raise InputError(path, "contains no video stream")
    return container


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate and size of a video, counting packets when the header has no count."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise InputError(path, "the video stream declares no frame rate")
        num_frames = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        return VideoInfo(path, int(num_frames), float(rate), stream.width, stream.height)


def iter_frames(path: str | os.PathLike) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """Decoded frames in presentation order as ``(index, time_in_seconds, frame)``."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                time = float(frame.time) if frame.time is not None else float("nan")
                yield index, time, frame
        except av.error.FFmpegError as error:
            raise InputError(path, f"decoding failed ({error})") from error


def iter_rgb_frames(path: str | os.PathLike) -> Iterator[tuple[float, np.ndarray]]:
    """Decoded frames in presentation order as ``(time_in_seconds, (H, W, 3) uint8 RGB)``."""
    for _, time, frame in iter_frames(path):
        yield time, frame.to_ndarray(format="rgb24")


def read_video(path: str | os.PathLike, indices: Sequence[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """RGB frames (N, H, W, 3) uint8 and their time stamps (N,) in seconds.

    With ``indices`` only those frames are converted (repeats allowed, any order); an index
    past the end of the video raises ``IndexError`` naming the file.
    """
    path = Path(path)
    wanted = None if indices is None else np.asarray(indices, dtype=np.int64)
    needed = None if wanted is None else set(wanted.tolist())
    images: dict[int, np.ndarray] = {}
    times: dict[int, float] = {}
    last = -1
    for index, time, frame in iter_frames(path):
        last = index
        if needed is None or index in needed:
            images[index] = frame.to_ndarray(format="rgb24")
            times[index] = time
        if needed is not None and len(images) == len(needed):
            break
    order = list(range(last + 1)) if wanted is None else wanted.tolist()
    missing = [i for i in order if i not in images]
    if missing:
        raise IndexError(f"{path}: has {last + 1} frames, frame {missing[0]} requested")
    if not order:
        raise ValueError(f"{path}: no frames decoded")
    return np.stack([images[i] for i in order]), np.array([times[i] for i in order])


def check_frame_count(path: str | os.PathLike, expected: int) -> VideoInfo:
    """The video's info, or ``ValueError`` when it does not hold exactly ``expected`` frames."""
    info = probe_video(path)
    if info.num_frames != expected:
        raise InputError(path, f"video has {info.num_frames} frames but its motion has {expected}; "
                         "frames and motion would be misaligned")
    return info
