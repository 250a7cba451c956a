"""``biohuman model``: build ULBS-112 and write a report folder (summary JSON + moment-arm plots)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``biohuman model``."""
    parser = subparsers.add_parser("model", help="build the ULBS-112 OpenSim model and write a report",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, required=True,
                        help="folder for ULBS-112.osim, report.json, moment_arms.png")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .report import write_report

    print(write_report(args.out))
    return 0
