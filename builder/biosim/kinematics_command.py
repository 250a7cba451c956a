"""``biohuman kinematics``: BioSim part 1 (markers, scaling, IK) on motion files or folders."""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path

from builder.cli import add_workers_argument, frame_rate
from builder.sources.command import add_allow_pickle_argument

log = logging.getLogger(__name__)


def _weights(text: str | None) -> dict[str, float]:
    """Marker weights from ``name=w,name=w`` or a JSON file mapping names to weights."""
    if not text:
        return {}
    if Path(text).is_file():
        return {str(k): float(v) for k, v in json.loads(Path(text).read_text()).items()}
    try:
        return {name.strip(): float(w) for name, w in (item.split("=") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"marker weights {text!r}: expected name=weight,... or a JSON file") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "kinematics", help="markers, ULBS-112 scaling and inverse kinematics for motion files or folders",
        description=__doc__)
    parser.add_argument("inputs", nargs="+", type=Path, help="motion files or folders (searched recursively)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder (sequences/<id>/ inside)")
    parser.add_argument("--smpl-model", type=Path, help="SMPL model file or folder (default: the Anny body)")
    parser.add_argument("--model", type=Path, help="generic ULBS-112 .osim (default: the built-in model)")
    parser.add_argument("--marker-weights", type=_weights, default={},
                        help="IK/static marker weights: name=w,name=w or a JSON file (default 1 each)")
    parser.add_argument("--no-align-joints", action="store_true",
                        help="keep the scaled model's joint centres instead of moving them onto the body's")
    parser.add_argument("--max-joint-shift", type=float, default=0.02,
                        help="m; joint centres move at most this far towards the body's (default 0.02)")
    parser.add_argument("--fps", type=frame_rate, help="resample every sequence to this frame rate")
    parser.add_argument("--on-nan", choices=("split", "error"), default="split",
                        help="cut sequences at NaN frames (split) or reject such files (error)")
    add_allow_pickle_argument(parser)
    parser.add_argument("--force", action="store_true", help="redo sequences that are already done")
    add_workers_argument(parser, "sequences")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from builder.biosim.kinematics import KinematicsSettings, run_folder

    settings = KinematicsSettings(smpl_model=args.smpl_model, model_path=args.model,
                                  marker_weights=args.marker_weights, align_joint_centres=not args.no_align_joints,
                                  max_joint_shift_m=args.max_joint_shift, fps=args.fps, on_nan=args.on_nan,
                                  allow_pickle=args.allow_pickle)
    status = run_folder(args.inputs, args.out, settings, force=args.force, workers=args.workers)
    counts = Counter(status.values())
    print(f"kinematics: {counts['done']} done, {counts['skipped']} skipped (already done), {counts['failed']} failed"
          + (f", {counts['conflict']} conflicts (id taken by another input; --force replaces)" if counts["conflict"]
             else ""))
    for sequence_id, state in sorted(status.items()):
        if state == "failed":
            print(f"  failed: {sequence_id} (see {args.out / 'sequences' / sequence_id / 'record.json'})")
        elif state == "conflict":
            print(f"  conflict: {sequence_id} ({args.out / 'sequences' / sequence_id} holds another input's results)")
    return 1 if counts["failed"] or counts["conflict"] else 0
