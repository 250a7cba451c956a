#!/usr/bin/env python3
"""Evaluate models on a BioHuman10M split with the paper's protocol (same ordered windows and masks).

    python3 scripts/evaluate.py --dataset DATA --model RUN/model --model mean --output-dir EVAL

Each --model is a saved model folder (BioHuman or a baseline) or `mean` (train-split mean
activation per muscle). Writes EVAL/<name>/ (metrics.json, metrics.md, per_muscle.csv,
predictions.npz, curve PNGs) and, for several models, EVAL/report.md comparing them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from builder.evaluation.protocol import MEAN_PREDICTOR, evaluate, evaluate_methods
from builder.evaluation.report import muscle_table_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, type=Path, help="built dataset folder")
    parser.add_argument("--model", required=True, action="append", help=f"model folder or '{MEAN_PREDICTOR}'; repeatable")
    parser.add_argument("--name", action="append", help="display name per --model (default: folder name)")
    parser.add_argument("--output-dir", required=True, type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-windows", type=int, help="evaluate only the first N windows")
    parser.add_argument("--muscles", nargs="+", help="muscles whose curves are plotted (default: a standard set)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = args.name or []
    if names and len(names) != len(args.model):
        parser.error("give one --name per --model")
    names = names or [MEAN_PREDICTOR if m == MEAN_PREDICTOR else Path(m).resolve().name for m in args.model]
    muscles = tuple(args.muscles) if args.muscles else None
    if len(args.model) == 1:
        results = {names[0]: evaluate(args.model[0], args.dataset, args.output_dir / names[0], args.split,
                                      args.batch_size, args.max_windows, muscles)}
    else:
        results, report = evaluate_methods(dict(zip(names, args.model)), args.dataset, args.output_dir, args.split,
                                           args.batch_size, args.max_windows, with_mean=False, curve_muscles=muscles)
    print(muscle_table_markdown(results))
    if len(args.model) > 1:
        print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
