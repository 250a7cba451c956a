"""``biohuman dynamics``: GRF, inverse dynamics, static optimization and post-processing of a folder."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dynamics", help="GRF -> ID -> SO -> filter/smooth for every sequence with IK results",
        description="Runs on <out>/sequences/*/ (needs scaled.osim, ik.mot, ik_report.json); resumable.")
    parser.add_argument("out_dir", help="build folder holding sequences/<id>/")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: cores - 1)")
    parser.add_argument("--address", default=None, help="Ray cluster address (e.g. auto, ray://host:10001)")
    parser.add_argument("--solver", choices=("fast", "opensim"), default="fast")
    parser.add_argument("--grf-estimator", default="contact",
                        help="GRF estimator: contact (default), physics (the earlier one) or package.module:Class")
    parser.add_argument("--cutoff-hz", type=float, default=6.0, help="coordinate low-pass for ID and SO")
    parser.add_argument("--residual-force", type=float, default=100.0, help="pelvis residual optimal force")
    parser.add_argument("--reserve-force", type=float, default=1.0, help="joint reserve optimal force (0: none)")
    parser.add_argument("--reserve-max-control", type=float, default=float("inf"),
                        help="bound on joint-reserve controls (default: unbounded)")
    parser.add_argument("--max-marker-error", type=float, default=0.15, help="m; drop sequences above")
    parser.add_argument("--max-constraint-violation", type=float, default=1e-2,
                        help="N m; drop sequences whose SO misses the ID forces by more")
    parser.add_argument("--savgol-window-s", type=float, default=11 / 30, help="Savitzky-Golay window (s)")
    parser.add_argument("--savgol-order", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per sequence before it is killed")
    parser.add_argument("--force", action="store_true", help="rerun sequences that already have a record")
    parser.add_argument("--retry-failed", action="store_true", help="rerun sequences whose record says failed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from builder.biosim.dynamics import DynamicsSettings
    from builder.biosim.postprocess import QualityThresholds, SmoothingSettings
    from builder.biosim.runner import run_dynamics
    from builder.biosim.static_optimization import ReserveSpec

    settings = DynamicsSettings(
        grf_estimator=args.grf_estimator, cutoff_hz=args.cutoff_hz, solver=args.solver,
        reserves=ReserveSpec(residual_force=args.residual_force, reserve_force=args.reserve_force,
                             reserve_max_control=args.reserve_max_control),
        thresholds=QualityThresholds(args.max_marker_error, args.max_constraint_violation),
        smoothing=SmoothingSettings(args.savgol_window_s, args.savgol_order))
    counts = run_dynamics(args.out_dir, settings, workers=args.workers, address=args.address,
                          force=args.force, retry_failed=args.retry_failed, timeout_s=args.timeout)
    log.info("dynamics: %s", dict(counts))
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 0 if counts.get("failed", 0) == 0 and counts.get("missing", 0) == 0 else 1
