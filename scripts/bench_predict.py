#!/usr/bin/env python3
"""Benchmark ``predict_video`` on synthetic videos of growing length: frames/s and peak memory.

Each length runs in its own process (peak resident memory is per process) with a small untrained
BioHuman model, a 640x480 H.264 video of a moving block and one box per frame; the overlay video
is skipped. Memory should stay flat as the video grows: frames are decoded and cropped as the
windows advance, never all at once.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_model import CONFIGS  # the same "small" model as the inference benchmark


def synthetic_video(folder: Path, num_frames: int, fps: float = 30.0) -> tuple[Path, np.ndarray]:
    """A 640x480 video of a block walking across a grey background, and its per-frame boxes."""
    from builder.video import write_video

    x0 = np.linspace(40, 480, num_frames).astype(int)
    boxes = np.stack([x0, np.full(num_frames, 100), x0 + 120, np.full(num_frames, 420)], axis=1).astype(float)

    def frames():
        for left, top, right, bottom in boxes.astype(int):
            image = np.full((480, 640, 3), 90, dtype=np.uint8)
            image[top:bottom, left:right] = (200, 140, 90)
            yield image

    path = folder / f"video_{num_frames}.mp4"
    write_video(path, frames(), fps)
    return path, boxes


def run_one(num_frames: int, model_dir: Path, work: Path) -> dict:
    """Predict one synthetic video in this process; returns the figures."""
    from builder.prediction.video_prediction import predict_video

    video, boxes = synthetic_video(work, num_frames)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    predict_video(model_dir, video, boxes, work / f"out_{num_frames}", overlay=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"frames": num_frames, "fps": num_frames / seconds, "peak_rss_mb": peak / 1024,
            "rss_before_mb": before / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", type=int, nargs="+", default=[150, 600, 1800], help="video lengths (frames)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.model_dir, args.work)))
        return
    import modeling_biohuman as mb

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = mb.BioHumanConfig(**CONFIGS["small"])
        mb.BioHumanForMotionAndMuscle(config).save_pretrained(work / "model")
        mb.BioHumanVideoProcessor.from_model_config(config).save_pretrained(work / "model")
        print("predict_video, small untrained model, 640x480 H.264 input, no overlay, one process per length")
        for length in args.lengths:
            result = subprocess.run([sys.executable, __file__, "--one", str(length), "--model-dir", str(work / "model"),
                                     "--work", str(work)], capture_output=True, text=True, check=True)
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"{figures['frames']:6d} frames: {figures['fps']:6.1f} frames/s, peak RSS {figures['peak_rss_mb']:7.1f} MB "
                  f"(before predicting {figures['rss_before_mb']:.1f} MB)")


if __name__ == "__main__":
    main()
