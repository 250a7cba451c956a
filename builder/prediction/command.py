"""``biohuman predict``: video + person boxes -> SMPL pose and 112 muscle activations per frame."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="predict SMPL pose and muscle activations for a video",
                                   description=__doc__)
    parser.add_argument("video", type=Path, help="input video (any format FFmpeg reads)")
    parser.add_argument("--model", required=True, type=Path, help="trained model folder (save_pretrained output)")
    parser.add_argument("--boxes", type=Path, help="person boxes, one x0,y0,x1,y1 row per frame (.npy/.csv/.txt/.json)")
    parser.add_argument("--output-dir", type=Path, help="where to write the results (default: <video>_biohuman/)")
    parser.add_argument("--overlap", type=int, default=0, help="frames shared between neighbouring windows")
    parser.add_argument("--no-overlay", action="store_true", help="skip the overlay video")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from builder.prediction.video_prediction import predict_video

    output_dir = args.output_dir or args.video.with_name(f"{args.video.stem}_biohuman")
    try:
        result = predict_video(args.model, args.video, args.boxes, output_dir, overlap=args.overlap,
                               overlay=not args.no_overlay)
    except (ValueError, FileNotFoundError, IndexError) as error:
        print(f"biohuman predict: error: {error}", file=sys.stderr)
        return 2
    for kind, path in result.files.items():
        print(f"{kind:8s} {path}")
    return 0
