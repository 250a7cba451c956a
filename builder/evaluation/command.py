"""``biohuman evaluate``: models on a BioHuman10M split with the paper's protocol (same ordered windows and masks).

    biohuman evaluate --dataset DATA --model RUN/model --model mean -o EVAL

Each ``--model`` is a saved model folder (BioHuman or a baseline) or ``mean`` (train-split mean
activation per muscle). Writes EVAL/<name>/ (metrics.json, metrics.md, per_muscle.csv,
predictions.npz, curve PNGs) and, for several models, EVAL/report.md comparing them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from biohuman10m.errors import InputError
from builder.cli import add_argument, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate models on a dataset split (metrics, curves, report)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, type=Path, help="built dataset folder")
    parser.add_argument("--model", required=True, action="append",
                        help="saved model folder, or 'mean' (train-split mean activations); repeatable")
    parser.add_argument("--name", action="append", help="display name per --model (default: folder name)")
    add_argument(parser, "-o", "--out", type=Path, required=True, old=("--output-dir",),
                 help="output folder (<name>/ per model, report.md for several)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--max-windows", type=positive_int, help="evaluate only the first N windows")
    parser.add_argument("--muscles", nargs="+", help="muscles whose curves are plotted (default: a standard set)")
    parser.add_argument("--verify-checksums", action="store_true",
                        help="compare every shard's sha256 with manifest.json first (sizes are always checked)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .protocol import MEAN_PREDICTOR, evaluate, evaluate_methods
    from .report import muscle_table_markdown

    names = args.name or [MEAN_PREDICTOR if m == MEAN_PREDICTOR else Path(m).resolve().name for m in args.model]
    if len(names) != len(args.model):
        raise InputError(None, f"give one --name per --model ({len(names)} names, {len(args.model)} models)")
    muscles = tuple(args.muscles) if args.muscles else None
    if len(args.model) == 1:
        results = {names[0]: evaluate(args.model[0], args.dataset, args.out / names[0], args.split,
                                      args.batch_size, args.max_windows, muscles, args.verify_checksums)}
    else:
        results, report = evaluate_methods(dict(zip(names, args.model)), args.dataset, args.out, args.split,
                                           args.batch_size, args.max_windows, with_mean=False, curve_muscles=muscles,
                                           verify_checksums=args.verify_checksums)
    print(muscle_table_markdown(results))
    if len(args.model) > 1:
        print(f"report: {report}")
    return 0
