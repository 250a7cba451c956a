"""Pinhole cameras (OpenCV convention) for rendering and projecting bodies, and their sampling.

World frame: SMPL's (Y up, metres). Camera frame: OpenCV (x right, y down, z forward);
``R``/``t`` map world to camera (``x_cam = R @ X + t``) and may vary per frame. Pixel
coordinates have pixel centres at integers, so an image of width W spans [-0.5, W - 0.5].
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from builder.io import atomic_path


@dataclass
class Camera:
    """Intrinsics ``K`` (3, 3), per-frame extrinsics ``R`` (T, 3, 3) and ``t`` (T, 3), image size."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        self.K = np.asarray(self.K, dtype=np.float64)
        self.R = np.asarray(self.R, dtype=np.float64).reshape(-1, 3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(-1, 3)
        if self.K.shape != (3, 3) or len(self.R) != len(self.t):
            raise ValueError(f"camera needs K (3, 3) and as many R as t; got K {self.K.shape}, "
                             f"R {self.R.shape}, t {self.t.shape}")

    @property
    def num_frames(self) -> int:
        return len(self.R)

    @property
    def centers(self) -> np.ndarray:
        """Camera positions in the world (T, 3)."""
        return -np.einsum("tji,tj->ti", self.R, self.t)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (T, N, 2) and depths (T, N) of world points (T, N, 3)."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 3 or points.shape[-1] != 3 or len(points) != self.num_frames:
            raise ValueError(f"expected points (T={self.num_frames}, N, 3), got {points.shape}")
        cam = points @ np.swapaxes(self.R, 1, 2) + self.t[:, None]   # batched matmul: ~3x faster than einsum
        depth = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = (cam @ self.K.T)[..., :2] / depth[..., None]
        return uv, depth

    def gl_pose(self, frame: int) -> np.ndarray:
        """Camera-to-world 4x4 pose in OpenGL's convention (looks down -z, y up), for pyrender."""
        pose = np.eye(4)
        pose[:3, :3] = self.R[frame].T @ np.diag([1.0, -1.0, -1.0])
        pose[:3, 3] = -self.R[frame].T @ self.t[frame]
        return pose

    def save(self, path: str | os.PathLike, **extra: np.ndarray) -> None:
        """Write ``K, R, t, width, height`` (and ``extra`` arrays) to an .npz, atomically."""
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, K=self.K, R=self.R, t=self.t, width=self.width,
                         height=self.height, **extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Camera":
        path = Path(path)
        try:
            with np.load(path) as data:
                return cls(data["K"], data["R"], data["t"], int(data["width"]), int(data["height"]))
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path}: not a camera file with K, R, t, width, height ({error})") from error


def look_at(position: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """World-to-camera rotations (T, 3, 3) of OpenCV cameras at ``position`` facing ``target``."""
    forward = target - position
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    down = -np.broadcast_to(np.asarray(up, dtype=np.float64), forward.shape)
    y = down - np.sum(down * forward, axis=-1, keepdims=True) * forward
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    x = np.cross(y, forward)
    return np.stack([x, y, forward], axis=-2)


@dataclass(frozen=True)
class CameraConfig:
    """Ranges the render camera is drawn from (uniformly, per sequence).

    The camera keeps a fixed offset from the body's smoothed path (a tracking shot), so a
    walk stays in view; ``follow_smoothing_s`` sets how lazily it follows and ``shake_m``
    adds a slow hand-held wobble. The distance is set so the body spans ``body_fraction``
    of the image height.
    """

    vertical_fov_deg: tuple[float, float] = (30.0, 60.0)
    body_fraction: tuple[float, float] = (0.55, 0.8)
    height_m: tuple[float, float] = (0.5, 2.0)
    azimuth_deg: tuple[float, float] = (0.0, 360.0)
    shake_m: tuple[float, float] = (0.0, 0.03)
    follow_smoothing_s: float = 0.5


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def sample_camera(vertices: np.ndarray, fps: float, width: int, height: int,
                  rng: np.random.Generator, config: CameraConfig = CameraConfig()) -> Camera:
    """A random camera that tracks the body ``vertices`` (T, V, 3) through the sequence."""
    vertices = np.asarray(vertices, dtype=np.float64)
    lo, hi = vertices.min(axis=1), vertices.max(axis=1)
    centre = gaussian_filter1d((lo + hi) / 2, sigma=max(config.follow_smoothing_s * fps, 1e-3),
                               axis=0, mode="nearest")
    extent = float(np.max(hi - lo))  # largest side of any frame's bounding box
    ground = float(lo[:, 1].min())

    focal = (height / 2) / np.tan(np.radians(_uniform(rng, config.vertical_fov_deg)) / 2)
    distance = focal * extent / (_uniform(rng, config.body_fraction) * height)
    camera_y = ground + _uniform(rng, config.height_m)
    rise = camera_y - centre[:, 1]
    horizontal = np.sqrt(np.maximum(distance ** 2 - rise ** 2, (0.5 * distance) ** 2))
    azimuth = np.radians(_uniform(rng, config.azimuth_deg))
    position = centre + np.stack([np.sin(azimuth) * horizontal, rise, np.cos(azimuth) * horizontal], -1)

    times = np.arange(len(vertices))[:, None] / fps
    frequency, phase = rng.uniform(0.1, 0.4, size=3), rng.uniform(0, 2 * np.pi, size=3)
    position = position + _uniform(rng, config.shake_m) * np.sin(2 * np.pi * frequency * times + phase)

    R = look_at(position, centre)
    t = -np.einsum("tij,tj->ti", R, position)
    K = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
    return Camera(K, R, t, width, height)
