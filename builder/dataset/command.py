"""``biohuman dataset build|pipeline|verify|push``: the dataset folder from BioSim outputs or motions."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from biohuman10m.layout import DEFAULT_DATASET_DIR
from builder.cli import add_argument, add_workers_argument, frame_rate, positive_int

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def parse_size(text: str) -> int:
    """Bytes of a size such as ``256MB``, ``1GiB`` or ``5000000``."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 256MB, 1GiB, 5000000)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dataset", help="build, verify or upload the BioHuman10M dataset folder")
    add_commands(parser)


def add_commands(parser: argparse.ArgumentParser) -> None:
    """The build, pipeline, verify and push sub-commands."""
    commands = parser.add_subparsers(dest="dataset_command", required=True)

    build = commands.add_parser("build", help="cut BioSim outputs into windows and write shards + card")
    build.add_argument("sequences", type=Path, help="BioSim output root holding sequences/<id>/")
    _add_dataset_options(build)
    build.set_defaults(func=run_build)

    pipeline = commands.add_parser("pipeline", help="motions -> BioSim -> video -> windows, shards + card")
    pipeline.add_argument("motions", nargs="*", type=Path,
                          help="motion files or folders (default: the embedded default motions)")
    add_argument(pipeline, "--biosim-out", type=Path, required=True, old=("--work",),
                 help="BioSim output folder (sequences/<id>/ inside)")
    pipeline.add_argument("--fps", type=frame_rate, default=30.0, help="resample motions to this rate (default 30)")
    _add_dataset_options(pipeline, workers_old=("--biosim-workers",))
    pipeline.set_defaults(func=run_pipeline)

    verify = commands.add_parser("verify", help="check every file against manifest.json")
    verify.add_argument("folder", type=Path)
    verify.set_defaults(func=run_verify)

    push = commands.add_parser("push", help="upload a built folder to the Hub (or copy it to a local path)")
    push.add_argument("folder", type=Path)
    push.add_argument("repo", help="Hub dataset repo id (user/name), or a local path / file:// URL")
    push.add_argument("--private", action="store_true")
    push.add_argument("--endpoint", help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    push.set_defaults(func=run_push)


def _add_dataset_options(parser: argparse.ArgumentParser, workers_old: tuple[str, ...] = ()) -> None:
    parser.add_argument("-o", "--out", type=Path,
                        help="dataset folder (default: ./biohuman10m, so that load_dataset('biohuman10m') works "
                             "from the folder the command ran in; from the project root that is the package folder)")
    parser.add_argument("--window", type=positive_int, default=32, help="frames per window (default 32)")
    parser.add_argument("--stride", type=positive_int, default=32, help="frames between window starts (default 32)")
    parser.add_argument("--frames", choices=("full", "crop"), default="full", help="full frames or person crops")
    parser.add_argument("--crop-size", type=positive_int, default=256)
    parser.add_argument("--image-format", choices=("mp4", "jpg"), default="mp4")
    parser.add_argument("--shard-size", type=parse_size, default="256MiB", help="max bytes per tar shard")
    parser.add_argument("--parquet-rows", type=positive_int, default=8192, help="windows per Parquet file")
    parser.add_argument("--keep-dropped", action="store_true",
                        help="also store poses of sequences BioSim dropped (muscle_mask False)")
    parser.add_argument("--splits", type=Path, help="reuse a stored splits.json")
    add_workers_argument(parser, "every stage's sequences", old=workers_old)
    parser.add_argument("--clean-cache", action="store_true",
                        help="delete the resumable window cache (.build/) once the build has finished")
    parser.add_argument("--push-to-hub", metavar="REPO", help="then upload to this Hub repo id or local path")
    parser.add_argument("--private", action="store_true", help="create the Hub repo private")


def _build_config(args: argparse.Namespace):
    from .build import BuildConfig
    from .windows import WindowConfig

    window = WindowConfig(size=args.window, stride=args.stride, frames=args.frames, crop_size=args.crop_size,
                          image_format=args.image_format)
    return BuildConfig(window=window, shard_bytes=args.shard_size, parquet_rows=args.parquet_rows,
                       keep_dropped=args.keep_dropped, splits_file=args.splits, workers=args.workers)


def _report(manifest: dict, out: Path, args: argparse.Namespace) -> int:
    from .build import clean_cache
    from .hub import publish

    if args.clean_cache:
        clean_cache(out)
    for split, sources in manifest["counts"]["splits"].items():
        print(f"{split}: {sum(row['windows'] for row in sources.values())} windows")
    if args.push_to_hub:
        print(publish(out, args.push_to_hub, private=args.private or None))
    return 0


def run_build(args: argparse.Namespace) -> int:
    from .build import build_dataset

    out = args.out or DEFAULT_DATASET_DIR
    return _report(build_dataset(args.sequences, out, _build_config(args)), out, args)


def run_pipeline(args: argparse.Namespace) -> int:
    from .pipeline import run_pipeline as pipeline

    out = args.out or DEFAULT_DATASET_DIR
    manifest = pipeline(args.motions or None, args.biosim_out, out, _build_config(args), fps=args.fps,
                        biosim_workers=args.workers)
    return _report(manifest, out, args)


def run_verify(args: argparse.Namespace) -> int:
    from .manifest import verify

    manifest = verify(args.folder)   # a ShardChecksumError names every bad file (printed by builder.cli)
    print(f"{args.folder}: {len(manifest['files'])} files match manifest.json")
    return 0


def run_push(args: argparse.Namespace) -> int:
    from .hub import publish

    print(publish(args.folder, args.repo, private=args.private or None, endpoint=args.endpoint))
    return 0

