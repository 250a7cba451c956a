"""``biohuman main``: the whole system on the embedded default data, in one resumable command.

1. the embedded default motions (DeepMimic clips x Anny subjects) -> BioSim -> rendered video (the
   training subjects' sequences from two views, each with its own camera and looks) -> the BioHuman10M
   default dataset (``./biohuman10m``: run from the project root, that is the package folder, so that
   ``load_dataset("biohuman10m")`` works there);
2. per seed, one front-end pretrained on single frames; from it BioHuman, the pose-only ablation and the
   two-stage HMR + MinT-style baseline trained on a short CPU schedule, and the ground-truth-motion ceiling;
3. all of them, and the mean-activation predictor, evaluated on the test split;
4. a report folder: metrics table, per-muscle-group PCC, activation curves, the model card.

Every stage resumes: finished sequences, shards and training steps are not redone.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from builder.cli import add_argument, add_workers_argument, positive_int

log = logging.getLogger(__name__)

CEILING = "GT-motion ceiling"
MEAN_ROW = "Mean activation"
METHODS = {CEILING: "motion_ceiling_cpu", "Pose-only (predicted poses)": "pose_only_cpu",
           "BioHuman": "biohuman_cpu", "Two-stage HMR+MinT": "two_stage_cpu"}
"""Report row -> packaged training config (``builder/training/configs``) of each trained method: the
ground-truth-motion ceiling (the pose-only temporal model fed true poses), the paper's pose-only ablation
on the front-end's poses, BioHuman and the two-stage baseline."""
FRONT_END_CONFIG = "biohuman_cpu"
"""Config whose front-end (and pretraining settings) every video method of the main job shares."""
TRAINING_VIEWS = 2
"""Rendered views of each training subject's sequences (each with its own camera and looks; the test subjects'
get one): the front-end's main lever against fitting its few training subjects (README, issue 14)."""
SEEDS = (0, 1, 2)
"""Training seeds of every trained method (the report gives mean and spread)."""
DEFAULT_OUT = Path("runs") / "main"
REPORT_NOTES = ("Rows: {ceiling} = the pose-only temporal model trained and evaluated on the true SMPL poses "
                "(what motion alone can tell about the labels); Pose-only = the same model on its own front-end's "
                "poses (paper, section 5.4); BioHuman = the full model (on the CPU schedule its front-end learns "
                "from its own pose loss only, and half of the training windows lose their visual features); "
                "Two-stage = HMR + MinT-style network on detached HMR poses (section 5.2); {mean} = train-split mean "
                "activation per muscle. Trained rows: seeds {seeds}. {views} The video models read frozen "
                "EfficientNet-Lite0 maps of the person crops, computed once per dataset in `features/` and shared by "
                "all runs; for each seed, one front-end pretrained on single frames (pose labels only) is the "
                "starting point of all three video models.")


def run_main_job(out_dir: Path, dataset_dir: Path | None = None, workers: int | None = None,
                 window_stride: int = 16, max_steps: int | None = None, clips: tuple[str, ...] | None = None,
                 num_subjects: int | None = None, seeds: tuple[int, ...] = SEEDS, build: bool = True) -> Path:
    """Build, train, evaluate; returns the report's ``report.md``.

    ``clips``, ``num_subjects``, ``max_steps`` and ``seeds`` shrink the job (all clips, all subjects,
    the configs' schedules and three seeds by default); ``dataset_dir`` defaults to ``./biohuman10m``,
    ``workers`` to the CPU cores available. ``build=False`` trains and reports on the dataset already in
    ``dataset_dir`` (e.g. one rebuilt with new labels) without running BioSim.
    """
    from biohuman10m.errors import MissingInputError
    from biohuman10m.layout import DEFAULT_DATASET_DIR
    from builder.evaluation.protocol import MEAN_PREDICTOR, MethodRuns, evaluate_methods
    from builder.training.trainer import TrainConfig

    from .cli import default_workers
    from .dataset.build import BuildConfig
    from .dataset.pipeline import run_pipeline
    from .dataset.sequence_task import RenderStage
    from .dataset.windows import WindowConfig
    from .sources.embedded import DEFAULT_SUBJECTS, write_embedded_default

    dataset_dir = dataset_dir or DEFAULT_DATASET_DIR
    workers = workers or default_workers()

    out_dir = Path(out_dir)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if not build and not (Path(dataset_dir) / "manifest.json").is_file():
        raise MissingInputError(dataset_dir, "no built dataset (manifest.json) to train on: run without --skip-build")
    if build:
        subjects = DEFAULT_SUBJECTS[:num_subjects]
        motions = write_embedded_default(out_dir / "motions", subjects, clips)
        log.info("%d embedded default motions in %s", len(motions), out_dir / "motions")
        config = BuildConfig(window=WindowConfig(stride=window_stride), workers=workers)
        render = RenderStage(views=TRAINING_VIEWS,
                             view_subjects=training_subjects([s.subject_id for s in subjects], config.split_salt))
        run_pipeline([out_dir / "motions"], out_dir / "biosim", dataset_dir, config, fps=None, biosim_workers=workers,
                     render=render)
        timings["dataset"] = time.perf_counter() - started

    features = out_dir / "features"
    started = time.perf_counter()
    build_feature_stores(tuple(METHODS.values()), dataset_dir, features)
    timings["features"] = time.perf_counter() - started
    started = time.perf_counter()
    runs = {(config_name, seed): out_dir / "models" / config_name / f"seed-{seed}"
            for config_name in METHODS.values() for seed in seeds}
    threads = max(1, default_workers() // workers)
    with ProcessPoolExecutor(min(workers, len(runs)), mp_context=multiprocessing.get_context("spawn")) as pool:
        shared = {name for name in METHODS.values() if uses_front_end(name)}
        front_ends = {seed: pool.submit(pretrain_run, FRONT_END_CONFIG, seed, features, max_steps, dataset_dir,
                                        out_dir / "models" / "front_end", threads) for seed in seeds if shared}
        jobs = [pool.submit(train_run, name, seed, features, max_steps, dataset_dir, folder, threads)
                for (name, seed), folder in runs.items() if name not in shared]
        jobs += [pool.submit(train_run, name, seed, features, max_steps, dataset_dir, folder, threads,
                             front_ends[seed].result())
                 for (name, seed), folder in runs.items() if name in shared]
        for done in jobs:
            done.result()
    timings[f"train ({len(runs)} runs, {min(workers, len(runs))} at a time)"] = time.perf_counter() - started
    models: dict[str, MethodRuns] = {
        name: MethodRuns(tuple(runs[config_name, seed] / "model" for seed in seeds),
                         TrainConfig.from_name_or_path(config_name).motion_input)
        for name, config_name in METHODS.items()}

    started = time.perf_counter()
    models[MEAN_ROW] = MethodRuns((MEAN_PREDICTOR,))
    notes = REPORT_NOTES.format(ceiling=CEILING, mean=MEAN_ROW, seeds=", ".join(map(str, seeds)),
                                views=views_note(Path(dataset_dir)))
    results, report = evaluate_methods(models, dataset_dir, out_dir / "report", feature_root=features,
                                       reference_rows=(MEAN_ROW, CEILING), notes=notes)
    timings["evaluate"] = time.perf_counter() - started
    _log_summary(results, timings)
    return report


def training_subjects(subjects: list[str], salt: str) -> frozenset[str]:
    """The embedded subjects the dataset build puts in the train split (DeepMimic clips split by subject)."""
    from .dataset.splits import assign_splits

    assignment = assign_splits(((subject, "deepmimic", subject) for subject in subjects), salt)
    return frozenset(subject for subject, split in assignment.items() if split == "train")


def views_note(dataset_dir: Path) -> str:
    """How many of the dataset's windowed sequences per split are extra rendered views of another sequence (the
    ``views`` counts of its ``manifest.json``; empty for a manifest without them)."""
    from biohuman10m.layout import MANIFEST

    from .dataset.manifest import read_manifest

    if not (dataset_dir / MANIFEST).is_file():
        return ""
    splits = read_manifest(dataset_dir).get("counts", {}).get("splits", {})
    rows = {split: list(splits.get(split, {}).values()) for split in ("train", "test")}
    if not all(rows.values()) or any("views" not in c for counts in rows.values() for c in counts):
        return ""
    return "Extra rendered views of a sequence (own camera and looks): " + ", ".join(
        f"{split} {sum(c['views'] for c in counts)} of {sum(c['sequences'] for c in counts)} sequences"
        for split, counts in rows.items()) + "."


def build_feature_stores(config_names: tuple[str, ...], dataset_dir: Path, features: Path) -> None:
    """The frozen-encoder feature stores the training configs read, built once before the runs start
    (parallel runs then only open them)."""
    from builder.evaluation.feature_store import feature_store
    from builder.training.trainer import TrainConfig, build_model_and_processor

    for name in config_names:
        config = TrainConfig.from_name_or_path(name)
        if not config.precompute_features:
            continue
        model, processor = build_model_and_processor(config)
        for split in dict.fromkeys((config.train_split, config.eval_split)):
            feature_store(model, processor, dataset_dir, split, features,
                          mirrored=config.mirror_augmentation and split == config.train_split)


def run_config(config_name: str, seed: int, features: Path, max_steps: int | None):
    """A packaged config for one run of the main job: its seed, the shared feature stores and ``max_steps``
    (which caps the front-end pretraining too)."""
    from builder.training.trainer import TrainConfig

    config = TrainConfig.from_name_or_path(config_name)
    config.seed, config.feature_store_dir = seed, str(features)
    if max_steps:
        config.max_steps = max_steps
        config.front_end_pretraining_steps = min(config.front_end_pretraining_steps, max_steps)
    return config


def uses_front_end(config_name: str) -> bool:
    """Whether a method's runs start from the seed's shared pretrained front-end (every video method)."""
    from builder.training.trainer import TrainConfig

    config = TrainConfig.from_name_or_path(config_name)
    return config.motion_input == "video" and config.front_end_pretraining_steps > 0


def pretrain_run(config_name: str, seed: int, features: Path, max_steps: int | None, dataset_dir: Path,
                 out_dir: Path, threads: int) -> str:
    """The front-end of one seed, pretrained once and shared by the video methods of that seed (a fair
    comparison: they differ only after the front-end); returns its weights file."""
    import torch

    from builder.training.front_end_pretraining import pretrained_front_end_file
    from builder.training.trainer import build_model_and_processor

    torch.set_num_threads(threads)
    config = run_config(config_name, seed, features, max_steps)
    torch.manual_seed(seed)
    model, processor = build_model_and_processor(config)
    return str(pretrained_front_end_file(config, model, processor, dataset_dir, features, out_dir))


def train_run(config_name: str, seed: int, features: Path, max_steps: int | None, dataset_dir: Path,
              output_dir: Path, threads: int, front_end: str | None = None) -> None:
    """One training run of the main job (in a worker process, with ``threads`` torch threads), starting from
    the pretrained ``front_end`` weights file when given."""
    import torch

    from builder.training.trainer import train

    torch.set_num_threads(threads)
    config = run_config(config_name, seed, features, max_steps)
    config.front_end_init = front_end
    train(config, dataset_dir, output_dir)


def _log_summary(results: dict, timings: dict[str, float]) -> None:
    for name, metrics in results.items():
        muscle = metrics["muscle"]
        log.info("%-28s muscle PCC %.3f  per-channel %.3f  RMSE %.4f  nRMSE %.3f  Active MAE %.4f  PA-MPJPE %.1f mm "
                 "(mean of %d runs)", name, muscle["pcc"], muscle["pcc_channel_mean"], muscle["rmse"], muscle["nrmse"],
                 muscle["active_mae"], metrics.get("pose", {}).get("pa_mpjpe_mm", float("nan")), len(metrics["runs"]))
    log.info("time: %s", ", ".join(f"{stage} {seconds / 60:.1f} min" for stage, seconds in timings.items()))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("main", help="build the embedded default dataset, train, evaluate, report")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT,
                        help="work and report folder (default: ./runs/main)")
    add_argument(parser, "--dataset-out", type=Path, old=("--dataset-dir",),
                 help="where the default dataset is built (default: ./biohuman10m; from the project root, "
                      "the package folder, so that load_dataset('biohuman10m') works there)")
    add_workers_argument(parser, "BioSim and dataset sequences")
    parser.add_argument("--window-stride", type=positive_int, default=16, help="frames between window starts")
    parser.add_argument("--max-steps", type=positive_int,
                        help="override the training steps of every method (and cap their front-end pretraining)")
    parser.add_argument("--clips", nargs="+", help="embedded clips to use (default: all)")
    parser.add_argument("--subjects", type=positive_int, help="number of Anny subjects to use (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="training seeds of every trained method (default: 0 1 2)")
    parser.add_argument("--skip-build", action="store_true",
                        help="train and report on the dataset already built in --dataset-out (no BioSim)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    report = run_main_job(args.out, args.dataset_out, args.workers, args.window_stride, args.max_steps,
                          tuple(args.clips) if args.clips else None, args.subjects, tuple(args.seeds),
                          build=not args.skip_build)
    print(f"Report: {report}")
    return 0
