"""``biohuman dataset build|verify|push``: windows and shards from BioSim outputs, checks, upload."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

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
    """The build, verify and push sub-commands."""
    commands = parser.add_subparsers(dest="dataset_command", required=True)

    build = commands.add_parser("build", help="cut BioSim outputs into windows and write shards + card")
    build.add_argument("sequences", type=Path, help="BioSim output root holding sequences/<id>/")
    build.add_argument("--out", type=Path,
                       help="dataset folder (default: the project's biohuman10m/, so that "
                            "load_dataset('biohuman10m') works from the project root)")
    build.add_argument("--window", type=int, default=32, help="frames per window (default 32)")
    build.add_argument("--stride", type=int, default=32, help="frames between window starts (default 32)")
    build.add_argument("--frames", choices=("full", "crop"), default="full", help="full frames or person crops")
    build.add_argument("--crop-size", type=int, default=256)
    build.add_argument("--image-format", choices=("mp4", "jpg"), default="mp4")
    build.add_argument("--shard-size", type=parse_size, default="256MiB", help="max bytes per tar shard")
    build.add_argument("--parquet-rows", type=int, default=8192, help="windows per Parquet file")
    build.add_argument("--keep-dropped", action="store_true",
                       help="also store poses of sequences BioSim dropped (muscle_mask False)")
    build.add_argument("--splits", type=Path, help="reuse a stored splits.json")
    build.add_argument("--workers", type=int, default=1, help="sequences encoded in parallel")
    build.add_argument("--push-to-hub", metavar="REPO", help="then upload to this Hub repo id or local path")
    build.add_argument("--private", action="store_true", help="create the Hub repo private")
    build.set_defaults(func=run_build)

    verify = commands.add_parser("verify", help="check every file against manifest.json")
    verify.add_argument("folder", type=Path)
    verify.set_defaults(func=run_verify)

    push = commands.add_parser("push", help="upload a built folder to the Hub (or copy it to a local path)")
    push.add_argument("folder", type=Path)
    push.add_argument("repo", help="Hub dataset repo id (user/name), or a local path / file:// URL")
    push.add_argument("--private", action="store_true")
    push.add_argument("--endpoint", help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    push.set_defaults(func=run_push)


def run_build(args: argparse.Namespace) -> int:
    from .build_dataset import DEFAULT_DATASET_DIR, BuildConfig, build_dataset
    from .hub import publish
    from .windows import WindowConfig

    window = WindowConfig(size=args.window, stride=args.stride, frames=args.frames, crop_size=args.crop_size,
                          image_format=args.image_format)
    config = BuildConfig(window=window, shard_bytes=args.shard_size, parquet_rows=args.parquet_rows,
                         keep_dropped=args.keep_dropped, splits_file=args.splits, workers=args.workers)
    out = args.out or DEFAULT_DATASET_DIR
    manifest = build_dataset(args.sequences, out, config)
    for split, sources in manifest["counts"]["splits"].items():
        print(f"{split}: {sum(row['windows'] for row in sources.values())} windows")
    if args.push_to_hub:
        print(publish(out, args.push_to_hub, private=args.private or None))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from .manifest import ShardChecksumError, verify

    try:
        manifest = verify(args.folder)
    except ShardChecksumError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{args.folder}: {len(manifest['files'])} files match manifest.json")
    return 0


def run_push(args: argparse.Namespace) -> int:
    from .hub import publish

    print(publish(args.folder, args.repo, private=args.private or None, endpoint=args.endpoint))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``biohuman dataset`` on its own (scripts/build_dataset.py), without loading the other commands."""
    import logging

    parser = argparse.ArgumentParser(prog="biohuman dataset", description=__doc__.splitlines()[0])
    add_commands(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)
