"""A ``biohuman`` sub-command module for the CLI's error-contract tests: ``fail input`` raises a
BioHumanError input error, ``fail bug`` an IndexError as a programming error would."""

from __future__ import annotations

import argparse

from biohuman10m.errors import InputError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("fail", help="raise an input error or a bug")
    parser.add_argument("kind", choices=("input", "bug"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.kind == "input":
        raise InputError("clip.npz", "poses have shape (5, 70), expected (T, 72)")
    return [][1]
