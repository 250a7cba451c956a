"""Benchmark BioSim part 1 (markers + scaling + IK) on the embedded DeepMimic clips, one core.

Prints, per clip, the frames, the seconds of each step, frames per second and the IK marker
errors, then the overall frames per second per core. Usage:
    python scripts/bench_kinematics.py [--clips walk run ...] [--cycles 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # per-core figures: keep torch/numpy on one thread

from builder.biosim.kinematics import KinematicsSettings, run_kinematics
from builder.body import AnnyBody
from builder.sources import embedded_motions, read_deepmimic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", help="clip names (default: all embedded clips)")
    parser.add_argument("--cycles", type=int, default=1, help="repeat cyclic clips this many times")
    parser.add_argument("--out", help="output folder (default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(1)
    clips = embedded_motions()
    names = args.clips or sorted(clips)
    started = time.perf_counter()
    body = AnnyBody()
    print(f"Anny body ready in {time.perf_counter() - started:.1f} s (one-off)")
    print(f"{'clip':<16}{'frames':>7}{'markers s':>11}{'scale s':>9}{'IK s':>7}{'fps':>7}{'RMS mm':>8}{'max mm':>8}")
    total_frames, total_seconds = 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        for name in names:
            for sequence in read_deepmimic(clips[name], cycles=args.cycles):
                started = time.perf_counter()
                report = run_kinematics(sequence, out, KinematicsSettings(), body=body)
                seconds = time.perf_counter() - started
                t = report["timings_s"]
                total_frames += report["frames"]
                total_seconds += seconds
                print(f"{sequence.sequence_id:<16}{report['frames']:>7}{t['markers']:>11.2f}{t['scale']:>9.2f}"
                      f"{t['ik']:>7.2f}{report['frames'] / seconds:>7.1f}{1000 * report['rms_mean_m']:>8.1f}"
                      f"{1000 * report['max_max_m']:>8.1f}")
    print(f"overall: {total_frames} frames in {total_seconds:.1f} s = "
          f"{total_frames / total_seconds:.1f} frames/s per core "
          f"(markers + scale + IK, scaling once per sequence)")


if __name__ == "__main__":
    main()
