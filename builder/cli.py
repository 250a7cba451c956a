"""The ``biohuman`` command line: one sub-command per job, each defined next to its code.

A module joins the CLI by exposing ``add_parser(subparsers)`` that registers its sub-command
with ``func=`` set to a callable taking the parsed ``argparse.Namespace``; list it in
``COMMAND_MODULES`` (in pipeline order). Modules are imported lazily so ``biohuman --help`` stays fast.

One vocabulary across commands: ``-o/--out`` is a command's output folder (``--<what>-out`` for a
second one), ``--force`` redoes finished work, ``--workers`` (default: the CPU cores available)
sets the parallel processes. Errors: a :class:`biohuman10m.errors.BioHumanError` (bad input,
inconsistent data) is printed as one ``<path>: <problem>`` line and the exit status is 2; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from biohuman10m.errors import BioHumanError

COMMAND_MODULES: tuple[str, ...] = (
    "builder.vocabulary_command",
    "builder.sources.command",
    "builder.musculoskeletal.command",
    "builder.biosim.kinematics_command",
    "builder.biosim.dynamics_command",
    "builder.render.command",
    "builder.render.preview",
    "builder.dataset.command",
    "builder.training.command",
    "builder.evaluation.command",
    "builder.prediction.command",
    "builder.main_job",
)

INPUT_ERROR_STATUS = 2
"""Exit status of a command stopped by a :class:`BioHumanError` (argparse uses 2 for bad arguments too)."""


def default_workers() -> int:
    """The ``--workers`` default of every command: the CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def frame_rate(text: str) -> float:
    """An argparse type: a frame rate (Hz) in :data:`builder.sources.plausibility.FRAME_RATE_RANGE_HZ`."""
    from builder.sources.plausibility import frame_rate_problem

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if problem := frame_rate_problem(value):
        raise argparse.ArgumentTypeError(problem)
    return value


def add_workers_argument(parser: argparse.ArgumentParser, what: str, old: Sequence[str] = ()) -> None:
    """``--workers N``: ``what`` run in N >= 1 parallel processes (default: :func:`default_workers`)."""
    add_argument(parser, "--workers", type=positive_int, default=default_workers(), old=old,
                 help=f"{what} run in this many parallel processes (default: the CPU cores available, "
                      f"{default_workers()} here)")


def add_argument(parser: argparse.ArgumentParser, *names: str, old: Sequence[str] = (), required: bool = False,
                 **kwargs) -> None:
    """``parser.add_argument`` whose ``old`` spellings (deprecated) stay accepted but are hidden from ``--help``.

    With old spellings a ``required`` option is checked after parsing (by :func:`run`), so that an
    old spelling satisfies it too.
    """
    if required and old:
        kwargs["help"] = f"{kwargs.get('help', '')} (required)".strip()
    action = parser.add_argument(*names, required=required and not old, **kwargs)
    for spelling in old:
        parser.add_argument(spelling, **{**kwargs, "dest": action.dest, "help": argparse.SUPPRESS})
    if required and old:
        parser.set_defaults(required_options=[*(parser.get_default("required_options") or []), action])


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The top-level parser with the sub-commands of ``modules``."""
    parser = argparse.ArgumentParser(prog="biohuman", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in modules:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def run(argv: Sequence[str] | None = None, modules: Sequence[str] = COMMAND_MODULES) -> int:
    """Parse ``argv`` and run the sub-command; its exceptions propagate (see :func:`main`)."""
    parser = build_parser(modules)
    args = parser.parse_args(argv)
    missing = [action for action in getattr(args, "required_options", []) if getattr(args, action.dest) is None]
    if missing:
        parser.error(f"{args.command}: the following arguments are required: "
                     + ", ".join("/".join(action.option_strings) for action in missing))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


def main(argv: Sequence[str] | None = None, modules: Sequence[str] = COMMAND_MODULES) -> int:
    """Entry point of the ``biohuman`` console script and of ``scripts/*.py`` (which pass their one
    command module): a :class:`BioHumanError` becomes one ``<path>: <problem>`` line on stderr and exit
    status 2; every other exception propagates with its traceback."""
    try:
        return run(argv, modules)
    except BioHumanError as error:
        print(error, file=sys.stderr)
        return INPUT_ERROR_STATUS


if __name__ == "__main__":
    sys.exit(main())
