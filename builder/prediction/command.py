"""``biohuman predict``: video + person boxes -> SMPL pose and 112 muscle activations per frame."""

from __future__ import annotations

import argparse
from pathlib import Path

from builder.cli import add_argument


def box_fraction(text: str) -> float:
    """An argparse type: a share of frames in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share of the frames between 0 and 1, got {value}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict SMPL pose and muscle activations for a video",
                                   description=__doc__)
    parser.add_argument("video", type=Path, help="input video (any format FFmpeg reads)")
    parser.add_argument("--model", required=True, type=Path, help="trained model folder (save_pretrained output)")
    parser.add_argument("--boxes", type=Path,
                        help="person boxes, one x0,y0,x1,y1 row per frame (.npy/.csv/.txt/.json)")
    add_argument(parser, "-o", "--out", type=Path, old=("--output-dir",),
                 help="where to write the results (default: <video>_biohuman/)")
    parser.add_argument("--overlap", type=int, default=0, help="frames shared between neighbouring windows")
    parser.add_argument("--no-overlay", action="store_true", help="skip the overlay video")
    parser.add_argument("--min-box-fraction", type=box_fraction, default=0.5,
                        help="stop unless at least this share of the frames has a usable person box (default 0.5); "
                             "frames without one get NaN rows")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .video_prediction import predict_video

    out = args.out or args.video.with_name(f"{args.video.stem}_biohuman")
    result = predict_video(args.model, args.video, args.boxes, out, overlap=args.overlap, overlay=not args.no_overlay,
                           min_box_fraction=args.min_box_fraction)
    for kind, path in result.files.items():
        print(f"{kind:8s} {path}")
    return 0
