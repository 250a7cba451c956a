"""The ``biohuman`` command line: one sub-command per job, each defined next to its code.

A module joins the CLI by exposing ``add_parser(subparsers)`` that registers its sub-command
with ``func=`` set to a callable taking the parsed ``argparse.Namespace``; list it in
``COMMAND_MODULES``. Modules are imported lazily so ``biohuman --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES: tuple[str, ...] = (
    "builder.vocabulary_command",
    "builder.prediction.command",
    "builder.sources.command",
    "builder.dataset.command",
    "builder.render.command",
    "builder.render.preview",
    "builder.musculoskeletal.report",
    "builder.biosim.kinematics_command",
    "builder.biosim.dynamics_command",
    "builder.main_job",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="biohuman", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``biohuman`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
