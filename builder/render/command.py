"""``biohuman render``: the video, person boxes and camera of sequence folders.

Each SEQUENCE_DIR holds ``motion.npz``. A sequence from a video-bearing source (it names a
``video_path``) gets its source frames aligned with the motion (builder.sources.video_sources);
any other sequence, or every one with ``--synthetic``, gets its body (Anny, or the user's
SMPL model with ``--smpl-model``) rendered. ``--mesh`` renders a ready posed mesh instead
(.npz with ``vertices`` (T, V, 3), ``faces`` (F, 3), ``fps``). A folder is skipped (unless ``--force``)
while its video exists and its ``render.json`` records the same settings and the same sha256 of its
input (``motion.npz`` or the mesh) as this run; otherwise it is rendered again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from builder import layout
from builder.cli import add_argument, positive_int
from builder.io import sha256_of, write_text_atomic
from builder.render.camera import CameraConfig
from builder.render.renderer import BodyRenderer
from builder.render.sequence import RenderConfig, render_sequence
from builder.sources.motion import MotionSequence
from builder.sources.motion_file import load_motion
from builder.sources.video_sources import MISSING_POLICIES, export_source_video

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in keys if key not in data]
            if missing:
                raise ValueError(f"{path}: missing array(s) {missing}")
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found") from None


def posed_body(sequence: MotionSequence, smpl_model: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (T, V, 3) and faces of the body driven by ``sequence``."""
    from builder.body import make_body

    body = make_body(sequence, smpl_model)
    return body.posed_vertices(sequence.poses, sequence.trans), np.asarray(body.faces)


def sequence_video(seq_dir: Path, config: RenderConfig, seed: int, renderer: BodyRenderer | None,
                   smpl_model: Path | None = None, synthetic: bool = False,
                   on_missing: str = "error") -> tuple[str, BodyRenderer | None]:
    """Give ``seq_dir`` (holding ``motion.npz``) its video, boxes and camera; returns a summary.

    Source video is aligned with the motion when the sequence has one (unless ``synthetic``),
    otherwise the body is rendered with ``renderer`` (created on first need and returned so
    callers reuse one GL context across folders).
    """
    (sequence,) = load_motion(seq_dir / layout.MOTION)
    if sequence.video_path is not None and not synthetic:
        needs_body = sequence.boxes is None and sequence.camera is not None
        vertices = posed_body(sequence, smpl_model)[0] if needs_body else None
        synced = export_source_video(sequence, seq_dir, on_missing, vertices=vertices)
        return (f"{seq_dir}: {sequence.num_frames} frames from {sequence.video_path}, "
                f"{int(synced.visible.sum())} with a visible box"), renderer
    vertices, faces = posed_body(sequence, smpl_model)
    renderer = renderer or BodyRenderer(config.width, config.height)
    result = render_sequence(vertices, faces, sequence.fps, seq_dir, seq_dir.name, seed, config, renderer)
    return f"{seq_dir}: {len(vertices)} frames rendered, {int(result.visible.sum())} with a visible box", renderer


def render_key(seq_dir: Path, args: argparse.Namespace, config: RenderConfig) -> dict:
    """What a rendered folder must match to be skipped: the settings and the sha256 of its input."""
    source = args.mesh or seq_dir / layout.MOTION
    settings = {**dataclasses.asdict(config), "background_images": [sha256_of(p) for p in config.background_images],
                "seed": args.seed, "synthetic": args.synthetic, "on_missing": args.on_missing,
                "smpl_model": str(args.smpl_model) if args.smpl_model else None}
    key = {"settings": settings, "input": source.name, "input_sha256": sha256_of(source) if source.is_file() else None}
    return json.loads(json.dumps(key, default=str))


def is_rendered(seq_dir: Path, key: dict) -> bool:
    """Whether ``seq_dir`` holds a video made for ``key`` (:func:`render_key`)."""
    try:
        stored = json.loads((seq_dir / layout.RENDER_SETTINGS).read_text())
    except (OSError, ValueError):
        stored = None
    if (seq_dir / layout.VIDEO).is_file() and stored != key:
        log.warning("%s: its video was made with other settings or input (or before they were recorded); "
                    "rendering it again", seq_dir)
    return (seq_dir / layout.VIDEO).is_file() and stored == key


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("render",
                                   help="video, person boxes and camera of sequences: "
                                        "aligned source frames or the rendered body",
                                   description=__doc__.split("\n\n")[1])
    parser.add_argument("sequence_dirs", type=Path, nargs="+", metavar="SEQUENCE_DIR")
    parser.add_argument("--mesh", type=Path, help="posed mesh .npz (vertices, faces, fps); one folder only")
    parser.add_argument("--smpl-model", type=Path, help="SMPL model file to use instead of the Anny body")
    parser.add_argument("--seed", type=int, default=0, help="global seed (mixed with each sequence id)")
    parser.add_argument("--size", type=positive_int, nargs=2, default=(256, 256), metavar=("WIDTH", "HEIGHT"))
    parser.add_argument("--backgrounds", type=Path, help="folder of background images (.png/.jpg)")
    parser.add_argument("--min-visible", type=float, default=RenderConfig.min_visible,
                        help="fraction of the body inside the image for a box to count as visible")
    parser.add_argument("--crf", type=int, default=RenderConfig.crf, help="x264 quality (lower: better)")
    parser.add_argument("--synthetic", action="store_true", help="render the body even where a source video exists")
    parser.add_argument("--on-missing", choices=MISSING_POLICIES, default="error",
                        help="source video shorter than its motion: fail, or mask the frames without video")
    add_argument(parser, "--force", action="store_true", old=("--overwrite",),
                 help="render folders that already have a video")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.mesh and len(args.sequence_dirs) != 1:
        raise SystemExit("--mesh renders exactly one SEQUENCE_DIR")
    images: tuple[Path, ...] = ()
    if args.backgrounds:
        images = tuple(sorted(p for p in args.backgrounds.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if not images:
            raise SystemExit(f"{args.backgrounds}: no .png/.jpg background images")
    width, height = args.size
    config = RenderConfig(width=width, height=height, camera=CameraConfig(), min_visible=args.min_visible,
                          crf=args.crf, background_images=images)
    renderer = None
    try:
        for seq_dir in args.sequence_dirs:
            key = render_key(seq_dir, args, config)
            if not args.force and is_rendered(seq_dir, key):
                log.info("%s: rendered with these settings, skipped", seq_dir)
                continue
            for earlier in (layout.RENDER_SETTINGS, layout.VIDEO):   # a half-redone folder must not count as done
                (seq_dir / earlier).unlink(missing_ok=True)
            if not args.mesh:
                summary, renderer = sequence_video(seq_dir, config, args.seed, renderer, args.smpl_model,
                                                   args.synthetic, args.on_missing)
            else:
                mesh = _load_npz(args.mesh, ("vertices", "faces", "fps"))
                renderer = renderer or BodyRenderer(width, height)  # GL only when something is rendered
                result = render_sequence(mesh["vertices"], mesh["faces"], float(mesh["fps"]), seq_dir, seq_dir.name,
                                         args.seed, config, renderer)
                summary = (f"{seq_dir}: {len(mesh['vertices'])} frames rendered, {int(result.visible.sum())} with a "
                           "visible box")
            write_text_atomic(seq_dir / layout.RENDER_SETTINGS, json.dumps(key, indent=1) + "\n")
            print(summary)
    finally:
        if renderer is not None:
            renderer.close()
    return 0
