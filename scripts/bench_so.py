"""Benchmark: OpenSim StaticOptimization vs the batched fast solver on the same frames.

Prepares the real Rajagopal2016 walking trial (marker placement, mass scaling, IK: see
tests/helpers/walk_trial.py), estimates GRF, runs ID, then times both solvers on the same frames
and prints seconds per frame, the speed-up and the agreement (RMSE, PCC) of the activations.

    python3 scripts/bench_so.py [--model rajagopal|ulbs] [--frames 20] [--work /tmp/bench_so]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the trial preparation lives there

from helpers.walk_trial import prepare_ulbs_walk, prepare_walk

from builder.biosim.fast_so import run_fast_static_optimization
from builder.biosim.grf import PhysicsGRFEstimator
from builder.biosim.inverse_dynamics import run_inverse_dynamics
from builder.biosim.postprocess import SmoothingSettings
from builder.biosim.static_optimization import run_static_optimization


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("rajagopal", "ulbs"), default="rajagopal",
                        help="Rajagopal2016 (80 muscles) or ULBS-112 (112 muscles), scaled to the subject")
    parser.add_argument("--frames", type=int, default=20, help="frames solved by both solvers")
    parser.add_argument("--start", type=float, default=0.90, help="first frame time (s)")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_so_"))
    walk = prepare_walk(work / "walk") if args.model == "rajagopal" else prepare_ulbs_walk(work / "ulbs_walk")
    grf = PhysicsGRFEstimator().estimate(walk.model, walk.ik)
    grf.write(work / "grf.mot", work / "grf.xml")
    run_inverse_dynamics(walk.model, walk.ik, work / "id.sto", work / "grf.xml")
    span = (args.start, args.start + (args.frames - 1) * 0.01 + 1e-6)

    started = time.perf_counter()
    ref = run_static_optimization(walk.model, walk.ik, work / "grf.xml", work / "so_opensim.sto", time_range=span)
    t_opensim = time.perf_counter() - started
    started = time.perf_counter()
    fast = run_fast_static_optimization(walk.model, walk.ik, work / "id.sto", work / "so_fast.sto", time_range=span)
    t_fast = time.perf_counter() - started
    started = time.perf_counter()
    whole = run_fast_static_optimization(walk.model, walk.ik, work / "id.sto")
    t_whole = time.perf_counter() - started
    started = time.perf_counter()
    smoothed = run_fast_static_optimization(walk.model, walk.ik, work / "id.sto",
                                            smoothness_s=SmoothingSettings().smoothness_s)
    t_smoothed = time.perf_counter() - started

    n = len(ref.table.time)
    a, b = fast.table.data, ref.table.data
    per_opensim, per_fast, per_whole = t_opensim / n, t_fast / n, t_whole / len(whole.table.time)
    print(f"frames: {n} (t = {span[0]:.2f}-{span[1]:.2f} s), muscles: {a.shape[1]}")
    print(f"OpenSim StaticOptimization: {t_opensim:7.2f} s  = {1000 * per_opensim:7.1f} ms/frame")
    print(f"fast batched SO (same frames, incl. model load): {t_fast:7.2f} s  = {1000 * per_fast:7.1f} ms/frame"
          f"  -> {per_opensim / per_fast:5.1f}x faster")
    print(f"fast batched SO (whole trial, {len(whole.table.time)} frames): {t_whole:7.2f} s  = "
          f"{1000 * per_whole:7.1f} ms/frame  -> {per_opensim / per_whole:5.1f}x faster")
    marginal = (t_whole - t_fast) / max(len(whole.table.time) - n, 1)
    print(f"fast batched SO, marginal cost of a frame (whole trial minus the {n} frames): "
          f"{1000 * marginal:7.1f} ms/frame  -> {per_opensim / marginal:5.1f}x faster")
    print(f"fast SO timings (whole trial): {whole.timings}")
    print(f"fast SO + smoothed sequence solve (whole trial): {t_smoothed:7.2f} s = "
          f"{1000 * t_smoothed / len(whole.table.time):7.1f} ms/frame (frame-wise only: {t_whole:.2f} s); "
          f"timings {smoothed.timings}")
    print(f"agreement: RMSE {np.sqrt(np.mean((a - b) ** 2)):.5f}, PCC {np.corrcoef(a.ravel(), b.ravel())[0, 1]:.6f}, "
          f"max |diff| {np.abs(a - b).max():.4f}")


if __name__ == "__main__":
    main()
