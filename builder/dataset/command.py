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
    build.add_argument("sequences", help="BioSim output root holding sequences/<id>/ (a folder or fsspec URL)")
    _add_dataset_options(build)
    _add_cluster_options(build)
    build.set_defaults(func=run_build)

    pipeline = commands.add_parser("pipeline", help="motions -> BioSim -> video -> windows, shards + card")
    pipeline.add_argument("motions", nargs="*",
                          help="motion files or folders, local or fsspec URLs (default: the embedded default motions)")
    add_argument(pipeline, "--biosim-out", required=True, old=("--work",),
                 help="BioSim output folder or URL, e.g. s3://bucket/biosim (sequences/<id>/ inside)")
    pipeline.add_argument("--fps", type=frame_rate, default=30.0, help="resample motions to this rate (default 30)")
    _add_dataset_options(pipeline, workers_old=("--biosim-workers",))
    _add_cluster_options(pipeline)
    pipeline.add_argument("--smpl-model", type=Path, help="SMPL model file or folder (default: the Anny body)")
    pipeline.add_argument("--seed", type=int, default=0, help="rendering seed (mixed with each sequence id)")
    pipeline.add_argument("--views", type=int, default=1,
                          help="rendered views per simulated sequence (view k > 0: sequence <id>__view<k>, same "
                               "labels, its own camera and looks, same split; default 1)")
    pipeline.add_argument("--view-subjects", nargs="+", metavar="SUBJECT",
                          help="only these subjects' sequences get the extra --views (e.g. the training subjects; "
                               "default: every sequence)")
    pipeline.add_argument("--force", action="store_true", help="redo every stage of every sequence")
    pipeline.add_argument("--retry-failed", action="store_true", help="rerun sequences whose record says failed")
    pipeline.set_defaults(func=run_pipeline)

    plan = commands.add_parser("plan", help="measure a sample of your motions and project the cost of the full build")
    plan.add_argument("motions", nargs="+", help="motion files or folders (local or fsspec URLs)")
    plan.add_argument("--sample", type=int, default=3, help="motion files to measure (default 3, spread evenly)")
    plan.add_argument("--fps", type=float, default=30.0, help="resample motions to this rate (default 30)")
    plan.add_argument("--scratch", type=Path, help="where the sample is built (default: a temporary folder)")
    plan.add_argument("--views", type=int, default=1, help="rendered views per simulated sequence (default 1)")
    plan.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                      help="fsspec option for remote motions, e.g. endpoint_url=http://host:9000 (repeatable)")
    plan.set_defaults(func=run_plan)

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
    parser.add_argument("-o", "--out",
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


def _add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="Ray cluster address (auto, ray://host:10001): run every task on the "
                                          "cluster (default: local processes)")
    parser.add_argument("--max-retries", type=int, default=3,
                        help="Ray re-runs a task whose worker or node died this many times (default 3)")
    parser.add_argument("--timeout", type=float, help="seconds per task before a local worker is killed")
    parser.add_argument("--scratch", type=Path,
                        help="local folder on each worker for staged files and scaled models "
                             "(default: <tmp>/biohuman)")
    parser.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                        help="fsspec option for remote folders, e.g. endpoint_url=http://host:9000 (repeatable)")


def _storage_options(args: argparse.Namespace) -> dict:
    options = {}
    for item in args.storage_option:
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--storage-option {item!r}: expected KEY=VALUE")
        options[key] = value
    return options


def _build_config(args: argparse.Namespace):
    from .build import BuildConfig
    from .windows import WindowConfig

    window = WindowConfig(size=args.window, stride=args.stride, frames=args.frames, crop_size=args.crop_size,
                          image_format=args.image_format)
    return BuildConfig(window=window, shard_bytes=args.shard_size, parquet_rows=args.parquet_rows,
                       keep_dropped=args.keep_dropped, splits_file=args.splits, workers=args.workers)


def _report(manifest: dict, out, args: argparse.Namespace) -> int:
    """Print the windows per split; clean the cache and push when asked (``out``: a folder or a Store)."""
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
    from builder.engine import engine_for

    from .build import build_dataset
    from .store import Store

    options = _storage_options(args)
    out = Store.at(args.out or DEFAULT_DATASET_DIR, **options)
    engine = engine_for(args.address, args.workers, args.timeout, args.max_retries) if args.address else None
    manifest = build_dataset(Store.at(args.sequences, **options), out, _build_config(args), engine, args.scratch)
    return _report(manifest, out.local_root or out, args)


def run_pipeline(args: argparse.Namespace) -> int:
    from builder.biosim.kinematics import KinematicsSettings
    from builder.engine import engine_for

    from .pipeline import Pipeline
    from .sequence_task import KinematicsStage, RenderStage, SequenceStages
    from .store import Store

    options = _storage_options(args)
    out = Store.at(args.out or DEFAULT_DATASET_DIR, **options)
    config = _build_config(args)
    stages = SequenceStages(kinematics=KinematicsStage(KinematicsSettings(smpl_model=args.smpl_model, fps=args.fps)),
                            render=RenderStage(seed=args.seed, views=args.views,
                                                view_subjects=frozenset(args.view_subjects or ()) or None),
                            keep_dropped=config.keep_dropped,
                            force=args.force, retry_failed=args.retry_failed, scratch=args.scratch,
                            storage_options=tuple(sorted(options.items())))
    engine = engine_for(args.address, args.workers, args.timeout, args.max_retries)
    manifest = Pipeline(stages, config, engine).run(args.motions or None, Store.at(args.biosim_out, **options), out,
                                                    args.fps)
    return _report(manifest, out.local_root or out, args)


def run_plan(args: argparse.Namespace) -> int:
    from builder.biosim.kinematics import KinematicsSettings
    from builder.engine import LocalEngine, TaskFailure

    from .cost import measure_sample
    from .sequence_task import KinematicsStage, RenderStage, SequenceStages

    options = _storage_options(args)
    stages = SequenceStages(KinematicsStage(KinematicsSettings(fps=args.fps)), render=RenderStage(views=args.views),
                            storage_options=tuple(sorted(options.items())))
    # measured in a worker process set up as the build's (one BLAS thread): BLAS threads spinning on a
    # busy machine inflate static optimisation's CPU time up to 40-fold (0.2 instead of 9 frames/s per core)
    ((_, estimate),) = LocalEngine(workers=1).map(
        measure_sample, [(args.motions, args.sample, stages, args.fps, args.scratch, options)], "plan")
    if isinstance(estimate, TaskFailure):
        raise RuntimeError(f"dataset plan: the measuring process failed: {estimate.reason}")
    print(estimate.table())
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from .manifest import verify

    manifest = verify(args.folder)   # a ShardChecksumError names every bad file (printed by builder.cli)
    print(f"{args.folder}: {len(manifest['files'])} files match manifest.json")
    return 0


def run_push(args: argparse.Namespace) -> int:
    from .hub import publish

    print(publish(args.folder, args.repo, private=args.private or None, endpoint=args.endpoint))
    return 0

