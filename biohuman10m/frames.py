"""Encode and decode the RGB frames of one window: H.264 MP4 bytes (PyAV) or JPEG bytes (Pillow).

Encoding is deterministic (single-threaded x264 without macroblock-tree rate control, fixed
settings, frame time stamps i / fps), so re-encoding the same frames gives the same bytes.
"""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np


def encode_mp4(frames: np.ndarray, fps: float, crf: int = 20, preset: str = "medium") -> bytes:
    """H.264 (yuv420p) MP4 of ``frames`` (N, H, W, 3) uint8; H and W must be even."""
    import av

    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"frames must have shape (N>0, H, W, 3), got {frames.shape}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {width}x{height}")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.thread_count = 1
        # x264 with one thread and macroblock-tree rate control gave different bytes for the same
        # frames from run to run (measured with libx264 core 165 in PyAV 18); without mbtree it is exact.
        stream.options = {"crf": str(crf), "preset": preset, "x264-params": "mbtree=0"}
        for index, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts, video_frame.time_base = index, 1 / stream.codec_context.framerate
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())
    return buffer.getvalue()


def decode_mp4(data: bytes) -> np.ndarray:
    """All frames of MP4 bytes as (N, H, W, 3) uint8 RGB."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        frames = [frame.to_ndarray(format="rgb24").copy() for frame in container.decode(stream)]  # own the pixels
    if not frames:
        raise ValueError("MP4 data holds no video frames")
    return np.stack(frames)


def encode_jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of one (H, W, 3) uint8 RGB frame."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 RGB array of JPEG bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
