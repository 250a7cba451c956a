"""Training of BioHuman (and its baselines) with Accelerate: config, optimiser, loop, checkpoints.

``train(config, dataset_path, output_dir)`` runs in one process (plain ``python``) or in each
process of ``accelerate launch``. It is deterministic and resumable: the window order of each
epoch depends only on the seed and the epoch (:mod:`builder.training.window_sampling`), and a
checkpoint (``accelerator.save_state``: weights, optimiser, scheduler, progress, RNG states of
every process) is written to a temporary folder and renamed into place, so a run killed at any
moment resumes from its last complete checkpoint and ends with the weights of an uninterrupted
run. Windows are read from the dataset's WebDataset shards with ``datasets`` as a map-style
(Arrow-cached) dataset rather than a stream: per-epoch subsets and an exact resume need random
access by window index. Output folder::

    <output_dir>/checkpoints/step-00000100/   resumable training states (the newest kept)
    <output_dir>/logs/                         TensorBoard events
    <output_dir>/model/                        final save_pretrained folder + README.md model card
    <output_dir>/eval_metrics.json             final evaluation on the evaluation split
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import logging
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from biohuman10m.collate import collate_windows
from biohuman10m.errors import InputError, MissingInputError
from builder.evaluation.feature_store import FeatureStore, StoreWindows, collate_store_batch, feature_store
from builder.evaluation.window_data import WindowDataset, model_inputs
from builder.io import write_text_atomic

from . import config_path
from .config_schema import dataclass_types, keyword_types, validated
from .front_end_pretraining import load_front_end, pretrain_as_configured
from .window_sampling import DEFAULT_SUBSAMPLE, EpochBatchSampler

logger = logging.getLogger(__name__)


class TrainConfigError(InputError):
    """A training config (file) that cannot be used."""

    unnamed = "<training config>"


MODEL_CLASSES: dict[str, str] = {
    "biohuman": "modeling_biohuman.modeling_biohuman:BioHumanForMotionAndMuscle",
    "two_stage": "modeling_biohuman.baselines:BioHumanTwoStageForMuscle",
}
"""Trainable model kinds: ``module:class`` of each (the class's ``config_class`` builds its config)."""

CHECKPOINT_PATTERN = re.compile(r"^step-(\d{8})$")
RUN_FIELDS_NOT_IN_FINGERPRINT = ("checkpoint_every", "keep_checkpoints", "eval_every", "log_every",
                                 "max_eval_windows", "report_to", "dataset_path", "feature_cache_mb",
                                 "feature_store_dir")
MOTION_INPUTS = ("video", "ground_truth")


@dataclass
class TrainConfig:
    """Everything that defines a training run; read from YAML with :meth:`from_yaml`.

    Learning rates: ``hmr_learning_rate`` for the HMR front-end (prompt encoder, SMPL decoder; the
    image encoder is frozen when ``freeze_image_encoder``), ``learning_rate`` for the temporal
    model and heads. ``max_steps`` counts optimiser steps; one step consumes
    ``per_device_batch_size x processes x gradient_accumulation_steps`` windows.
    ``feature_cache_mb``: memory per process for the frozen image encoder's per-frame features
    (computed once, reused every epoch; 0 turns the cache off).

    ``precompute_features``: train and evaluate from a :mod:`.feature_store` of the frozen encoder's
    maps (computed once per dataset, crop and encoder, under ``feature_store_dir``, default
    ``<output_dir>/features``, and shared by every run that points there). ``mirror_augmentation``
    (needs the store): every training window is also seen left-right mirrored (:mod:`.mirroring`).
    ``motion_input``: "video" (the model's own front-end) or "ground_truth" (true SMPL poses fed as the
    HMR pose: the ground-truth-motion ceiling of a pose-only model; needs the store).
    ``max_train_subjects`` (store only): train on the windows of the first N training subjects;
    ``pose_only_windows`` (store only; off: leave out training windows without any muscle label).
    ``front_end_pretraining_steps`` (store only): before the main loop, train the HMR front-end alone for
    that many steps on batches of ``front_end_pretraining_batch_size`` random single frames, pose labels
    only, at ``front_end_pretraining_learning_rate`` (:mod:`.front_end_pretraining`). ``front_end_init``: a
    front-end weights file (:func:`.front_end_pretraining.pretrained_front_end_file`) to start from instead.
    """

    model: str = "biohuman"
    model_config: dict[str, Any] = field(default_factory=dict)
    processor: dict[str, Any] = field(default_factory=dict)
    dataset_path: str | None = None
    train_split: str = "train"
    eval_split: str = "test"
    subsample: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SUBSAMPLE))
    seed: int = 0
    per_device_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000
    learning_rate: float = 1e-4
    hmr_learning_rate: float = 1e-5
    weight_decay: float = 0.01
    adam_betas: tuple[float, float] = (0.9, 0.999)
    lr_scheduler: str = "cosine"
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    mixed_precision: str = "auto"
    freeze_image_encoder: bool = True
    feature_cache_mb: int = 2048
    precompute_features: bool = False
    mirror_augmentation: bool = False
    motion_input: str = "video"
    feature_store_dir: str | None = None
    max_train_subjects: int | None = None
    pose_only_windows: bool = True
    front_end_pretraining_steps: int = 0
    front_end_pretraining_batch_size: int = 128
    front_end_pretraining_learning_rate: float = 1e-3
    front_end_init: str | None = None
    find_unused_parameters: bool = True
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    eval_every: int = 0
    max_eval_windows: int | None = None  # periodic evaluations only; the final one covers the whole split
    eval_batch_size: int = 8
    log_every: int = 10
    report_to: str = "tensorboard"

    def __post_init__(self) -> None:
        """Coerce every value to its declared type (see :mod:`builder.training.config_schema`) and check
        ``model_config`` against the model's config class and ``processor`` against the video processor."""
        for key, value in validated(vars(self), dataclass_types(type(self)), "", TrainConfigError).items():
            setattr(self, key, value)
        if self.model not in MODEL_CLASSES:
            raise TrainConfigError(None, f"unknown model {self.model!r}; choose one of {sorted(MODEL_CLASSES)}")
        if self.mixed_precision not in ("auto", "no", "fp16", "bf16"):
            raise TrainConfigError(None, "mixed_precision must be auto, no, fp16 or bf16, got "
                                   f"{self.mixed_precision!r}")
        if self.motion_input not in MOTION_INPUTS:
            raise TrainConfigError(None, f"motion_input must be one of {MOTION_INPUTS}, got {self.motion_input!r}")
        store_only = (self.mirror_augmentation or self.motion_input != "video" or self.max_train_subjects is not None
                      or not self.pose_only_windows or self.front_end_pretraining_steps > 0)
        if store_only and not self.precompute_features:
            raise TrainConfigError(None, "mirror_augmentation, motion_input=ground_truth, max_train_subjects, "
                                   "pose_only_windows=false and front_end_pretraining_steps train from the "
                                   "feature store: set precompute_features: true")
        if self.precompute_features and not self.freeze_image_encoder:
            raise TrainConfigError(None, "precompute_features needs freeze_image_encoder: true (a trained encoder's "
                                   "features change every step)")
        for name in ("per_device_batch_size", "gradient_accumulation_steps", "max_steps", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise TrainConfigError(None, f"{name} must be at least 1, got {getattr(self, name)}")
        self.model_config = validated(self.model_config, model_config_types(self.model), "model_config",
                                      TrainConfigError)
        self.processor = validated(self.processor, processor_types(), "processor", TrainConfigError)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str | os.PathLike | None = None) -> TrainConfig:
        """The config of ``values``; errors name ``source`` (the file they came from)."""
        try:
            return cls(**validated(values, dataclass_types(cls), "", TrainConfigError))
        except TrainConfigError as error:
            raise TrainConfigError(source, error.problem) from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, overrides: list[str] = ()) -> TrainConfig:
        """The config of a YAML file, with ``KEY=VALUE`` ``overrides`` (VALUE parsed as YAML) applied."""
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise MissingInputError(path, "training config not found") from None
        except yaml.YAMLError as error:
            raise TrainConfigError(path, f"not valid YAML ({error})") from None
        if not isinstance(values, dict):
            raise TrainConfigError(path, f"expected a mapping of settings, got {type(values).__name__}")
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise TrainConfigError(path, f"override {item!r} is not KEY=VALUE")
            values[key] = yaml.safe_load(value)
        return cls.from_dict(values, path)

    @classmethod
    def from_name_or_path(cls, config: str | os.PathLike, overrides: list[str] = ()) -> TrainConfig:
        """A packaged config by name (``tiny``, ...) or a YAML file by path; see :func:`from_yaml`."""
        return cls.from_yaml(config_path(config), overrides)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["adam_betas"] = list(self.adam_betas)
        return values

    def fingerprint(self) -> str:
        """Hash of the settings that shape the weights' trajectory (not logging or checkpoint cadence)."""
        values = {k: v for k, v in self.to_dict().items() if k not in RUN_FIELDS_NOT_IN_FINGERPRINT}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def model_class(kind: str):
    """The model class of a model kind (see :data:`MODEL_CLASSES`)."""
    module_name, _, class_name = MODEL_CLASSES[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def model_config_types(kind: str) -> dict[str, Any]:
    """``{key: type}`` of the ``model_config`` keys of a model kind (its config class's parameters)."""
    from transformers import PretrainedConfig

    return keyword_types(model_class(kind).config_class, PretrainedConfig)


def processor_types() -> dict[str, Any]:
    """``{key: type}`` of the ``processor`` keys (the video processor's own parameters)."""
    from transformers.image_processing_utils import BaseImageProcessor

    from modeling_biohuman.image_processing_biohuman import BioHumanVideoProcessor

    return keyword_types(BioHumanVideoProcessor, BaseImageProcessor)


def build_model_and_processor(config: TrainConfig):
    """A freshly initialised model and its video-crop processor, crop size taken from the model config."""
    from modeling_biohuman.image_processing_biohuman import BioHumanVideoProcessor

    cls = model_class(config.model)
    model_config = cls.config_class(**{"freeze_image_encoder": config.freeze_image_encoder, **config.model_config})
    model = cls(model_config)
    height, width = model_config.image_size
    processor = BioHumanVideoProcessor(**{"crop_size": {"height": height, "width": width}, **config.processor})
    return model, processor


def hmr_parameter_names(model: torch.nn.Module) -> set[str]:
    """Names of the parameters inside the model's HMR front-end(s)."""
    from modeling_biohuman.hmr import FrontEndBase

    names = set()
    for prefix, module in model.named_modules():
        if isinstance(module, FrontEndBase):
            names.update(f"{prefix}.{n}" if prefix else n for n, _ in module.named_parameters())
    return names


def parameter_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups: HMR front-end at ``hmr_learning_rate``, the rest at ``learning_rate``; no weight
    decay on biases and norms; frozen parameters left out."""
    hmr = hmr_parameter_names(model)
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            groups.setdefault((name in hmr, parameter.ndim >= 2), []).append(parameter)
    return [
        {"params": params, "lr": config.hmr_learning_rate if is_hmr else config.learning_rate,
         "weight_decay": config.weight_decay if decays else 0.0, "name": f"{'hmr' if is_hmr else 'temporal'}"
         f"{'' if decays else '_no_decay'}"}
        for (is_hmr, decays), params in sorted(groups.items())
    ]


class TrainingProgress:
    """Where training stands (optimiser step, epoch, batch within the epoch); saved with every checkpoint."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.step = self.epoch = self.batch = 0

    def state_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "step": self.step, "epoch": self.epoch, "batch": self.batch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["fingerprint"] != self.fingerprint:
            raise InputError(None, f"checkpoint was written by a run with different settings (fingerprint "
                             f"{state['fingerprint']}, this config {self.fingerprint}); use a new output "
                             "folder or the config it was trained with")
        self.step, self.epoch, self.batch = int(state["step"]), int(state["epoch"]), int(state["batch"])


def checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    folder = Path(output_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and CHECKPOINT_PATTERN.match(p.name))


def resolve_mixed_precision(setting: str) -> str:
    """``auto``: bf16 on a GPU that supports it, fp16 on other GPUs, no on CPU."""
    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def _save_checkpoint(accelerator, output_dir: Path, step: int, keep: int) -> None:
    root = Path(output_dir) / "checkpoints"
    final = root / f"step-{step:08d}"
    temporary = root / f".tmp-step-{step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        for old in checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old)
        logger.info("checkpoint %s", final)
    accelerator.wait_for_everyone()


def _move(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in inputs.items()}


def train(config: TrainConfig | dict | str | os.PathLike, dataset_path: str | os.PathLike | None,
          output_dir: str | os.PathLike, verify_checksums: bool = False) -> dict[str, float]:
    """Train (resuming from ``output_dir``'s newest checkpoint), save the model and its card, and
    return the final evaluation metrics (on every process; computed by the main process).

    The dataset's shards are checked against its manifest before training starts (sizes, missing
    and unlisted shards; every sha256 too with ``verify_checksums``)."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.utils import ProjectConfiguration

    if not isinstance(config, TrainConfig):
        config = TrainConfig.from_dict(config) if isinstance(config, dict) else TrainConfig.from_name_or_path(config)
    dataset_path = dataset_path or config.dataset_path
    if dataset_path is None:
        raise TrainConfigError(None, "no dataset: pass one (--dataset) or set dataset_path in the config")
    output_dir = Path(output_dir)
    accelerator = Accelerator(
        mixed_precision=resolve_mixed_precision(config.mixed_precision),
        log_with=None if config.report_to == "none" else config.report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=config.find_unused_parameters)],
    )
    try:
        return _run(accelerator, config, Path(dataset_path), output_dir, verify_checksums)
    finally:
        accelerator.end_training()
        if accelerator.num_processes == 1:  # let a later train() in this process configure Accelerate anew
            from accelerate.state import AcceleratorState, GradientState

            AcceleratorState._reset_state(reset_partial_state=True)
            GradientState._reset_state()


def _run(accelerator, config: TrainConfig, dataset_path: Path, output_dir: Path,
         verify_checksums: bool = False) -> dict[str, Any]:
    """The training loop of :func:`train` under an existing ``accelerator``."""
    from accelerate.utils import set_seed
    from transformers import get_scheduler

    from builder.evaluation.protocol import evaluate_model

    from .model_card import write_model_card

    if accelerator.is_main_process:
        for stale in (output_dir / "checkpoints").glob(".tmp-step-*"):
            shutil.rmtree(stale)  # left by a run killed while saving
    set_seed(config.seed)
    model, processor = build_model_and_processor(config)
    encoder = getattr(model.hmr, "encoder", None)  # the PromptHMR adapter has none of its own
    stores: dict[str, FeatureStore] = {}
    if config.precompute_features:
        if not hasattr(encoder, "backbone_features"):
            raise TrainConfigError(None, f"precompute_features needs an encoder with backbone maps, not "
                                   f"{model.config.image_encoder!r}")
        root = Path(config.feature_store_dir) if config.feature_store_dir else output_dir / "features"
        with accelerator.main_process_first():  # one process computes, the others open
            stores = {split: feature_store(model, processor, dataset_path, split, root,
                                           mirrored=config.mirror_augmentation and split == config.train_split)
                      for split in dict.fromkeys((config.train_split, config.eval_split))}
        train_set = StoreWindows(stores[config.train_split], config.mirror_augmentation, config.motion_input,
                                 config.max_train_subjects, config.pose_only_windows)
        collate = collate_store_batch
    else:
        if config.freeze_image_encoder and config.feature_cache_mb > 0 and hasattr(encoder, "enable_feature_cache"):
            encoder.enable_feature_cache(config.feature_cache_mb * 2**20)
        train_set = WindowDataset(dataset_path, config.train_split, verify_checksums=verify_checksums)
        collate = collate_windows
    sampler = EpochBatchSampler(train_set.sources, config.per_device_batch_size, config.seed,
                                num_replicas=accelerator.num_processes, rank=accelerator.process_index,
                                subsample=config.subsample)
    loader = torch.utils.data.DataLoader(train_set, batch_sampler=sampler, collate_fn=collate,
                                         num_workers=0, generator=torch.Generator())
    accumulation = config.gradient_accumulation_steps
    steps_per_epoch = len(sampler) // accumulation
    if steps_per_epoch == 0:
        raise InputError(dataset_path, f"{len(sampler)} batches per epoch cannot fill {accumulation} accumulation "
                         "steps")
    optimizer = torch.optim.AdamW(parameter_groups(model, config), betas=config.adam_betas)
    scheduler = get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=config.warmup_steps,
                              num_training_steps=config.max_steps)
    existing = checkpoints(output_dir)
    if config.motion_input == "video" and not existing:  # a resumed run's checkpoint holds its front-end
        if config.front_end_init:
            load_front_end(model.hmr, config.front_end_init)
        elif config.front_end_pretraining_steps:
            pretrain_as_configured(model, stores[config.train_split], config, accelerator.device)
    model, optimizer = accelerator.prepare(model, optimizer)
    progress = TrainingProgress(config.fingerprint())
    accelerator.register_for_checkpointing(scheduler, progress)
    if existing:
        try:
            accelerator.load_state(str(existing[-1]))
        except InputError as error:
            raise InputError(existing[-1], error.problem) from None
        logger.info("resumed from %s at step %d", existing[-1], progress.step)
    elif accelerator.is_main_process:
        write_text_atomic(output_dir / "train_config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    accelerator.init_trackers("biohuman", config={k: str(v) for k, v in config.to_dict().items()})
    trainable = [p for p in model.parameters() if p.requires_grad]

    from tqdm.auto import tqdm

    bar = tqdm(total=config.max_steps, initial=progress.step, desc=f"train {config.model}",
               disable=not accelerator.is_main_process)
    model.train()
    while progress.step < config.max_steps:
        sampler.set_epoch(progress.epoch, skip_batches=progress.batch)
        for batch in loader:
            sync = (progress.batch + 1) % accumulation == 0
            inputs = _move(batch if stores else model_inputs(batch, processor), accelerator.device)
            with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                output = model(**inputs)
                accelerator.backward(output.loss / accumulation)
            progress.batch += 1
            if not sync:
                continue
            grad_norm = accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            progress.step += 1
            if progress.batch >= steps_per_epoch * accumulation:
                progress.epoch, progress.batch = progress.epoch + 1, 0
            bar.update(1)
            if progress.step % config.log_every == 0 or progress.step == config.max_steps:
                values = {"train/loss": float(output.loss.detach()), "train/grad_norm": float(grad_norm),
                          "train/epoch": progress.epoch}
                terms = getattr(output, "loss_terms", None) or {}
                values.update({f"train/{k}": float(v.detach()) for k, v in terms.items()})
                values.update({f"lr/{g['name']}": g["lr"] for g in optimizer.param_groups})
                accelerator.log(values, step=progress.step)
            if progress.step % config.checkpoint_every == 0 or progress.step == config.max_steps:
                _save_checkpoint(accelerator, output_dir, progress.step, config.keep_checkpoints)
            if config.eval_every and progress.step % config.eval_every == 0 and progress.step < config.max_steps:
                if accelerator.is_main_process:
                    metrics = evaluate_model(accelerator.unwrap_model(model), processor, dataset_path,
                                             config.eval_split, config.eval_batch_size, config.max_eval_windows,
                                             stores.get(config.eval_split), config.motion_input)
                    accelerator.log({f"eval/{k}": v for k, v in flat_metrics(metrics).items()}, step=progress.step)
                    model.train()
                accelerator.wait_for_everyone()
            if progress.step >= config.max_steps or progress.batch == 0:
                break
    bar.close()

    metrics: dict[str, Any] = {}
    if accelerator.is_main_process:
        final = accelerator.unwrap_model(model)
        metrics = evaluate_model(final, processor, dataset_path, config.eval_split, config.eval_batch_size,
                                 store=stores.get(config.eval_split), motion_input=config.motion_input)
        accelerator.log({f"eval/{k}": v for k, v in flat_metrics(metrics).items()}, step=progress.step)
        model_dir = output_dir / "model"
        final.save_pretrained(model_dir)
        processor.save_pretrained(model_dir)
        write_model_card(model_dir, final.config, final.num_parameters(), card_metrics(metrics),
                         dataset_id=Path(dataset_path).name, repo_id=f"biohuman/{output_dir.name}",
                         split=config.eval_split, manifest=_manifest(dataset_path))
        write_text_atomic(output_dir / "eval_metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    accelerator.wait_for_everyone()
    return _broadcast(accelerator, metrics)


def _manifest(dataset_path: Path) -> dict | None:
    """The dataset's ``manifest.json`` (None if absent or unreadable: the card then says so)."""
    try:
        return json.loads((Path(dataset_path) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _broadcast(accelerator, metrics: dict[str, Any]) -> dict[str, Any]:
    if accelerator.num_processes == 1:
        return metrics
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([metrics])[0]


def card_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Overall muscle and pose metrics of an evaluation as the flat ``name -> value`` of a model card."""
    values = {**metrics.get("muscle", {}), **metrics.get("pose", {})}
    return {k: float(v) for k, v in values.items() if not k.startswith("num_") and math.isfinite(v)}


def flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"muscle": {"pcc": ...}}`` -> ``{"muscle/pcc": ...}`` keeping finite numbers only."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_metrics(value, f"{name}/"))
        elif isinstance(value, (int, float)) and math.isfinite(value):
            flat[name] = float(value)
    return flat
