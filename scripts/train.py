#!/usr/bin/env python3
"""Train BioHuman (or a baseline) on a built BioHuman10M folder.

    accelerate launch scripts/train.py --config scripts/configs/tiny.yaml --dataset DATA --output-dir RUN
    python3 scripts/train.py --config ...            # one process

Re-running with the same output folder resumes from its newest checkpoint (same step, same data
order). See builder.training.trainer for the config keys and the output folder's layout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import yaml

from builder.training.trainer import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="training config YAML (see scripts/configs/)")
    parser.add_argument("--dataset", help="built dataset folder (default: dataset_path of the config)")
    parser.add_argument("--output-dir", required=True, help="run folder: checkpoints, logs, final model")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (VALUE parsed as YAML), e.g. --set max_steps=10")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = TrainConfig.from_yaml(args.config).to_dict()
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        config[key] = yaml.safe_load(value)
    metrics = train(TrainConfig.from_dict(config, args.config), args.dataset, args.output_dir)
    if metrics:
        print(json.dumps({"muscle": metrics["muscle"], "pose": metrics.get("pose")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
