"""``biohuman vocab``: print the muscle channels, SMPL joints or virtual markers as a table."""

from __future__ import annotations

import argparse
import csv
import sys

from biohuman10m.vocabulary import MUSCLES, SMPL_JOINT_NAMES, SMPL_JOINT_PARENTS

from .markers import LANDMARKS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("vocab", help="print the muscle, joint or marker vocabulary as CSV")
    parser.add_argument("which", choices=("muscles", "joints", "markers"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    writer = csv.writer(sys.stdout)
    if args.which == "muscles":
        writer.writerow(("index", "name", "side", "group", "description"))
        writer.writerows((i, m.name, m.side, m.group, m.description) for i, m in enumerate(MUSCLES))
    elif args.which == "joints":
        writer.writerow(("index", "name", "parent"))
        writer.writerows(zip(range(len(SMPL_JOINT_NAMES)), SMPL_JOINT_NAMES, SMPL_JOINT_PARENTS))
    else:
        writer.writerow(("index", "name", "body", "description"))
        writer.writerows((i, m.name, m.body, m.description) for i, m in enumerate(LANDMARKS))
    return 0
