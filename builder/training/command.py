"""``biohuman train``: train BioHuman (or a baseline) on a built BioHuman10M folder.

    biohuman train --config tiny --dataset DATA -o RUN [--set max_steps=10]
    accelerate launch scripts/train.py --config biohuman_cpu --dataset DATA -o RUN   # several processes

``--config`` is a packaged config name (``builder/training/configs/<name>.yaml``) or a YAML path.
Re-running with the same output folder resumes from its newest checkpoint (same step, same data
order); see :mod:`builder.training.trainer` for the config keys and the output folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from builder.cli import add_argument

from . import config_names


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train BioHuman or a baseline (resumable; accelerate launch "
                                   "scripts/train.py for several processes)", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True,
                        help=f"packaged config name ({', '.join(config_names())}) or a training config YAML path")
    parser.add_argument("--dataset", type=Path, help="built dataset folder (default: dataset_path of the config)")
    add_argument(parser, "-o", "--out", type=Path, required=True, old=("--output-dir",),
                 help="run folder: checkpoints, logs, final model")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (VALUE parsed as YAML), e.g. --set max_steps=10")
    parser.add_argument("--verify-checksums", action="store_true",
                        help="compare every shard's sha256 with manifest.json before training "
                             "(sizes are always checked)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .trainer import TrainConfig, train

    config = TrainConfig.from_name_or_path(args.config, overrides=args.set)
    metrics = train(config, args.dataset, args.out, verify_checksums=args.verify_checksums)
    if metrics:
        print(json.dumps({"muscle": metrics["muscle"], "pose": metrics.get("pose")}, indent=2))
    return 0
