"""``biohuman dynamics``: GRF, inverse dynamics, static optimization and post-processing of a folder."""

from __future__ import annotations

import argparse
import logging

from builder.cli import add_workers_argument

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from builder.biosim.postprocess import SMOOTHING_METHODS, SmoothingSettings
    from builder.biosim.validity import ValidityThresholds

    parser = subparsers.add_parser(
        "dynamics", help="GRF -> ID -> SO -> filter/smooth for every sequence with IK results",
        description="Runs on <out>/sequences/*/ (needs scaled.osim, ik.mot, ik_report.json); resumable.")
    parser.add_argument("out_dir", help="build folder holding sequences/<id>/")
    add_workers_argument(parser, "sequences (local workers)")
    parser.add_argument("--address", default=None, help="Ray cluster address (e.g. auto, ray://host:10001)")
    parser.add_argument("--solver", choices=("fast", "opensim"), default="fast")
    parser.add_argument("--no-tendon-compliance", dest="tendon_compliance", action="store_false",
                        help="rigid tendons in the fast SO (--solver opensim always has them); by default it "
                             "gives each muscle its force with a compliant tendon at the solved activations")
    parser.add_argument("--grf-estimator", default="contact",
                        help="GRF estimator: contact (default), physics (the earlier one) or package.module:Class")
    parser.add_argument("--cutoff-hz", type=float, default=6.0, help="coordinate low-pass for ID and SO")
    parser.add_argument("--no-root-reduction", dest="root_reduction", action="store_false",
                        help="keep the IK pelvis translations as they are (by default they are shifted by up to "
                             "5 cm so that a floor explains the motion's acceleration before GRF, ID and SO: "
                             "builder/biosim/root_reduction.py)")
    parser.add_argument("--residual-force", type=float, default=100.0, help="pelvis residual optimal force")
    parser.add_argument("--reserve-force", type=float, default=1.0, help="joint reserve optimal force (0: none)")
    parser.add_argument("--reserve-max-control", type=float, default=10.0,
                        help="bound on joint-reserve controls (torque <= bound x optimal force)")
    defaults = ValidityThresholds()
    parser.add_argument("--max-marker-error", type=float, default=defaults.max_marker_error,
                        help="m; frames with a larger IK marker error are masked")
    parser.add_argument("--max-unexplained-moment", type=float, default=defaults.max_unexplained_moment,
                        help="share of the RMS joint moment the muscles may leave to reserves in a frame")
    parser.add_argument("--max-residual-force", type=float, default=defaults.max_residual_force,
                        help="pelvis residual force (body weights) above which a frame is masked")
    parser.add_argument("--max-residual-moment", type=float, default=defaults.max_residual_moment,
                        help="pelvis residual moment (body weight x height) above which a frame is masked")
    parser.add_argument("--min-valid-fraction", type=float, default=defaults.min_valid_fraction,
                        help="sequences with fewer valid frames are dropped whole")
    parser.add_argument("--smoothing", choices=SMOOTHING_METHODS, default="sequence",
                        help="sequence: smoothness inside SO (fast solver); savgol: the paper's post-hoc filter")
    parser.add_argument("--smoothness-s", type=float, default=SmoothingSettings().smoothness_s,
                        help="s; time constant of the activation-change penalty (default 0.04)")
    parser.add_argument("--savgol-window-s", type=float, default=11 / 30, help="Savitzky-Golay window (s)")
    parser.add_argument("--savgol-order", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per sequence before it is killed")
    parser.add_argument("--force", action="store_true", help="rerun sequences that already have a record")
    parser.add_argument("--retry-failed", action="store_true", help="rerun sequences whose record says failed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from builder.biosim.dynamics import DynamicsSettings, check_build_folder
    from builder.biosim.postprocess import SmoothingSettings
    from builder.biosim.runner import run_dynamics
    from builder.biosim.static_optimization import ReserveSpec
    from builder.biosim.validity import ValidityThresholds

    settings = DynamicsSettings(
        grf_estimator=args.grf_estimator, cutoff_hz=args.cutoff_hz, root_reduction=args.root_reduction,
        solver=args.solver, tendon_compliance=args.tendon_compliance and args.solver == "fast",
        reserves=ReserveSpec(residual_force=args.residual_force, reserve_force=args.reserve_force,
                             reserve_max_control=args.reserve_max_control),
        thresholds=ValidityThresholds(args.max_marker_error, args.max_unexplained_moment, args.max_residual_force,
                                      args.max_residual_moment, args.min_valid_fraction),
        smoothing=SmoothingSettings(args.smoothing, args.smoothness_s, args.savgol_window_s, args.savgol_order))
    check_build_folder(args.out_dir)
    counts = run_dynamics(args.out_dir, settings, workers=args.workers, address=args.address,
                          force=args.force, retry_failed=args.retry_failed, timeout_s=args.timeout)
    log.info("dynamics: %s", dict(counts))
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 0 if counts.get("failed", 0) == 0 and counts.get("missing", 0) == 0 else 1
