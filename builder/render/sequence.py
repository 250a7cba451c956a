"""Render one posed-body sequence into a sequence folder: video, person boxes, visibility, camera.

Writes (names from :mod:`builder.layout`): ``VIDEO`` (H.264, one frame per motion frame at
the motion's rate), ``BOXES`` (T, 4) from the projected mesh, ``BOX_VISIBLE`` (T,) and
``CAMERA`` (``K``, ``R``, ``t``, ``width``, ``height``, plus ``fps``, ``times`` and ``seed``).
The video is written last, so its presence marks the folder complete.
Every random choice comes from ``seed`` and the sequence id, so a re-run gives the same files.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from builder import layout
from builder.render.appearance import Appearance, sample_appearance
from builder.render.boxes import DEFAULT_MIN_VISIBLE, box_from_mask, boxes_from_projection, save_boxes
from builder.render.camera import Camera, CameraConfig, sample_camera
from builder.render.renderer import BodyRenderer
from builder.video import DEFAULT_CRF, write_video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderConfig:
    """Image size, camera ranges, visibility threshold, video quality, optional background images."""

    width: int = 256
    height: int = 256
    camera: CameraConfig = CameraConfig()
    min_visible: float = DEFAULT_MIN_VISIBLE
    crf: int = DEFAULT_CRF
    background_images: tuple[Path, ...] = ()


@dataclass
class RenderResult:
    """What was written, plus the boxes of the rendered masks (a check on the mesh boxes)."""

    out_dir: Path
    camera: Camera
    appearance: Appearance
    boxes: np.ndarray
    visible: np.ndarray
    mask_boxes: np.ndarray
    seed: int
    files: list[Path] = field(default_factory=list)


def sequence_seed(seed: int, sequence_id: str) -> int:
    """A stable 63-bit seed per (global seed, sequence id)."""
    digest = hashlib.blake2b(f"{seed}:{sequence_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def render_sequence(vertices: np.ndarray, faces: np.ndarray, fps: float, out_dir: str | Path,
                    sequence_id: str, seed: int = 0, config: RenderConfig = RenderConfig(),
                    renderer: BodyRenderer | None = None) -> RenderResult:
    """Render ``vertices`` (T, V, 3, world frame, Y up, metres) with ``faces`` into ``out_dir``.

    Boxes come from the mesh projected through the saved camera; frames where less than
    ``config.min_visible`` of the body is in the image (or the clipped box is empty) get
    ``BOX_VISIBLE = False`` so they are masked downstream. Pass ``renderer`` to reuse one
    GL context across sequences of the same size.
    """
    out_dir = Path(out_dir)
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.ndim != 3 or vertices.shape[2] != 3 or len(vertices) == 0:
        raise ValueError(f"{sequence_id}: vertices must be (T > 0, V, 3), got {vertices.shape}")
    if not np.all(np.isfinite(vertices)):
        raise ValueError(f"{sequence_id}: vertices contain NaN or inf")
    rng_seed = sequence_seed(seed, sequence_id)
    rng = np.random.default_rng(rng_seed)
    camera = sample_camera(vertices, fps, config.width, config.height, rng, config.camera)
    appearance = sample_appearance(rng, config.width, config.height, config.background_images)
    uv, depth = camera.project(vertices)
    boxes, visible = boxes_from_projection(uv, depth, config.width, config.height, config.min_visible)

    save_boxes(out_dir, boxes, visible)
    camera.save(out_dir / layout.CAMERA, fps=np.float64(fps),
                times=np.arange(len(vertices)) / fps, seed=np.int64(rng_seed))

    mask_boxes = np.full((len(vertices), 4), np.nan)
    own = renderer is None
    renderer = renderer or BodyRenderer(config.width, config.height)
    try:
        def frames():
            stream = renderer.render(vertices, faces, camera, appearance)
            for index, (rgb, mask) in enumerate(tqdm(stream, total=len(vertices), desc=sequence_id,
                                                     unit="frame", leave=False, disable=None)):
                mask_boxes[index] = box_from_mask(mask)
                yield rgb

        write_video(out_dir / layout.VIDEO, frames(), fps, crf=config.crf)  # last: marks the folder done
    finally:
        if own:
            renderer.close()
    log.info("%s: rendered %d frames, %d visible, background %s", sequence_id, len(vertices),
             int(visible.sum()), appearance.background_kind)
    files = [out_dir / name for name in (layout.VIDEO, layout.BOXES, layout.BOX_VISIBLE, layout.CAMERA)]
    return RenderResult(out_dir, camera, appearance, boxes, visible, mask_boxes, rng_seed, files)

