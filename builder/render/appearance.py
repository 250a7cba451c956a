"""Random but seeded looks of a rendered sequence: body colour, lights and background."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

BACKGROUND_KINDS = ("plain", "gradient", "image")


@dataclass
class Appearance:
    """Body colour (RGB in [0, 1]), lights (camera-relative key light plus fill) and background."""

    body_rgb: np.ndarray
    roughness: float
    ambient: float
    key_intensity: float
    key_azimuth_deg: float
    key_elevation_deg: float
    fill_intensity: float
    background: np.ndarray  # (H, W, 3) uint8
    background_kind: str


def _random_rgb(rng: np.random.Generator, saturation=(0.15, 0.75), value=(0.3, 0.95)) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(*value)))


def _image_background(path: Path, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop of the user's image, scaled to cover the frame."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = max(width / image.width, height / image.height) * rng.uniform(1.0, 1.5)
            size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
            image = image.resize(size, Image.BILINEAR)
    except OSError as error:
        raise ValueError(f"{path}: cannot read background image ({error})") from error
    x0 = int(rng.integers(0, size[0] - width + 1))
    y0 = int(rng.integers(0, size[1] - height + 1))
    return np.asarray(image)[y0:y0 + height, x0:x0 + width].copy()


def make_background(kind: str, width: int, height: int, rng: np.random.Generator,
                    images: Sequence[Path] = ()) -> np.ndarray:
    """A (H, W, 3) uint8 background: a plain colour, a linear two-colour gradient, or a user image."""
    if kind == "image":
        if not images:
            raise ValueError("background kind 'image' needs background images")
        return _image_background(Path(images[int(rng.integers(len(images)))]), width, height, rng)
    first = _random_rgb(rng, saturation=(0.0, 0.6), value=(0.1, 1.0))
    if kind == "plain":
        return np.broadcast_to((first * 255).astype(np.uint8), (height, width, 3)).copy()
    if kind == "gradient":
        second = _random_rgb(rng, saturation=(0.0, 0.6), value=(0.1, 1.0))
        angle = rng.uniform(0, 2 * np.pi)
        y, x = np.mgrid[0:height, 0:width]
        ramp = np.cos(angle) * x / width + np.sin(angle) * y / height
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
        return ((first + ramp[..., None] * (second - first)) * 255).astype(np.uint8)
    raise ValueError(f"unknown background kind {kind!r}; expected one of {BACKGROUND_KINDS}")


def sample_appearance(rng: np.random.Generator, width: int, height: int,
                      background_images: Sequence[Path] = (), min_contrast: float = 0.25) -> Appearance:
    """Random looks; the body colour differs from the mean background colour by >= ``min_contrast``."""
    kinds = BACKGROUND_KINDS if background_images else BACKGROUND_KINDS[:2]
    kind = str(kinds[int(rng.integers(len(kinds)))])
    background = make_background(kind, width, height, rng, background_images)
    mean_background = background.reshape(-1, 3).mean(axis=0) / 255
    body = _random_rgb(rng)
    for _ in range(100):
        if np.linalg.norm(body - mean_background) >= min_contrast:
            break
        body = _random_rgb(rng)
    return Appearance(
        body_rgb=body,
        roughness=float(rng.uniform(0.4, 0.9)),
        ambient=float(rng.uniform(0.15, 0.4)),
        key_intensity=float(rng.uniform(2.0, 4.5)),
        key_azimuth_deg=float(rng.uniform(-70, 70)),
        key_elevation_deg=float(rng.uniform(15, 70)),
        fill_intensity=float(rng.uniform(0.3, 1.2)),
        background=background,
        background_kind=kind,
    )
