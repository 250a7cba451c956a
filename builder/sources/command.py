"""``biohuman sources``: list the embedded motions, convert motion files to BioHuman motion .npz files,
or plot a motion's hip and knee flexion curves."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tqdm import tqdm

from biohuman10m.errors import MissingInputError
from builder.cli import frame_rate
from builder.io import inside, write_text_atomic

from .deepmimic import embedded_motions
from .errors import MotionSourceError
from .ids import unique_ids
from .motion import MotionSequence
from .motion_file import save_motion
from .preview import plot_sequence
from .read import FORMATS, MOTION_SUFFIXES, find_motion_files, read_motion

logger = logging.getLogger(__name__)

FAILURES_FILE = "failures.json"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sources", help="list embedded motions or convert motion files to motion .npz")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="print the embedded motions and the supported formats")
    convert = actions.add_parser("convert",
                                 help="read a motion file, folder or embedded clip; write motion .npz files")
    convert.add_argument("path", help="motion file, folder of motion files, or embedded clip name (e.g. walk)")
    convert.add_argument("-o", "--out", required=True, type=Path,
                         help="output .npz (one sequence) or folder (<sequence_id>.npz per sequence)")
    convert.add_argument("--fps", type=frame_rate, default=None, help="resample to this frame rate")
    convert.add_argument("--on-nan", choices=("split", "error"), default="split",
                         help="cut sequences at NaN frames (default) or reject them")
    add_allow_pickle_argument(convert)
    plot = actions.add_parser("plot", help="PNG of hip/knee flexion and root path of each sequence of a motion")
    plot.add_argument("path", help="motion file or embedded clip name (e.g. walk)")
    plot.add_argument("-o", "--out", required=True, type=Path, help="output folder (<sequence_id>.png per sequence)")
    add_allow_pickle_argument(plot)
    parser.set_defaults(func=run)


def add_allow_pickle_argument(parser: argparse.ArgumentParser) -> None:
    """``--allow-pickle``: read the formats that are pickles (3DPW, EMDB, Human3.6M MoSh, MotionPRO)."""
    parser.add_argument("--allow-pickle", action="store_true",
                        help="read the motion formats that are Python pickles (3DPW, EMDB, Human3.6M MoSh fits, "
                             "MotionPRO smpl.npy); loading a pickle can run code: only for files from the "
                             "datasets' official releases")


def _inputs(name: str) -> list[Path]:
    path = Path(name)
    if path.is_dir() and not (path / "smpl.npy").is_file():
        files = find_motion_files(path)
        if not files:
            raise MissingInputError(path, f"holds no motion files ({', '.join(MOTION_SUFFIXES)} of a supported "
                                    "format; `biohuman sources list` names the formats)")
        return files
    if not path.exists() and name in embedded_motions():
        return [embedded_motions()[name]]
    return [path]


def _write(sequences: list[MotionSequence], out: Path) -> list[Path]:
    if out.suffix == ".npz":
        if len(sequences) != 1:
            raise MotionSourceError(out, f"{len(sequences)} sequences to write; give a folder as --out")
        save_motion(sequences[0], out)
        return [out]
    paths = [inside(out, f"{sequence.sequence_id}.npz") for sequence in sequences]
    for sequence, path in zip(sequences, paths):
        save_motion(sequence, path)
    return paths


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        print("embedded motions (pybullet DeepMimic clips):")
        for name, path in embedded_motions().items():
            print(f"  {name:16s} {path}")
        print("formats: " + ", ".join(FORMATS))
        return 0
    if args.action == "plot":
        for path in _inputs(args.path):
            for sequence in read_motion(path, allow_pickle=args.allow_pickle):
                print(plot_sequence(sequence, inside(args.out, f"{sequence.sequence_id}.png")))
        return 0
    inputs = _inputs(args.path)
    sequences, failures = [], {}
    for path in tqdm(inputs, desc="motion files", unit="file", disable=len(inputs) < 2):
        try:
            sequences.extend(read_motion(path, fps=args.fps, on_nan=args.on_nan, allow_pickle=args.allow_pickle))
        except MotionSourceError as error:
            logger.error("%s", error)
            failures[str(path)] = error.problem
    converted = _write(unique_ids(sequences), args.out) if sequences else []
    if failures and args.out.suffix != ".npz":
        write_text_atomic(args.out / FAILURES_FILE, json.dumps(failures, indent=2) + "\n")
    print(f"wrote {len(converted)} sequence file(s); {len(failures)} input(s) failed")
    return 1 if failures else 0
