"""Front-end pretraining: the HMR front-end alone, on random single frames of the feature store, pose labels only.

The main loop's batches are a few 32-frame windows: 64 strongly correlated frames of two clips per step,
which teaches a per-frame pose regressor slowly. Before that loop, this stage trains the front-end on
batches of frames drawn at random from every distinct training frame of the store (left-right mirrored
ones too with ``mirror_augmentation``), with the model's own initial-pose loss (``pose_loss`` on the
axis-angle pose). It needs nothing OpenSim makes: every rendered frame with a pose label counts, also
those of sequences BioSim dropped. The temporal model then starts from a front-end that already sees
the body (measured: README, issue 14).

:func:`pretrained_front_end_file` runs the stage once for a training config and seed and saves the front-end's
weights (safetensors, named by everything they depend on); runs whose ``front_end_init`` points there start
from it, so BioHuman and its baselines can share one front-end (``biohuman main`` does).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from builder.evaluation.feature_store import FeatureStore, feature_store, store_fingerprint
from builder.io import write_bytes_atomic
from modeling_biohuman.losses import elementwise_loss

from .mirroring import mirror_boxes, mirror_pose

logger = logging.getLogger(__name__)


@dataclass
class LabelledFrames:
    """Every distinct frame of a store with a pose label: rows into the feature table, crop boxes, poses."""

    rows: np.ndarray
    boxes: np.ndarray
    poses: np.ndarray

    @classmethod
    def of(cls, store: FeatureStore) -> LabelledFrames:
        w = store.windows
        usable = w["attention_mask"] & w["pose_mask"] & (w["rows"] >= 0)
        rows, first = np.unique(w["rows"][usable], return_index=True)
        boxes, poses = w["boxes"][usable][first], w["pose_labels"][usable][first]
        return cls(rows, boxes.astype(np.float32), poses.astype(np.float32))

    def __len__(self) -> int:
        return len(self.rows)


def frame_batch(store: FeatureStore, frames: LabelledFrames, picks: np.ndarray, mirrored: np.ndarray
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(maps, boxes, poses) of frames ``picks``, those flagged in ``mirrored`` left-right flipped."""
    maps = np.empty((len(picks), *store.features.shape[1:]), np.float32)
    boxes, poses = frames.boxes[picks].copy(), frames.poses[picks].copy()
    for flip in (False, True):
        chosen = np.flatnonzero(mirrored == flip)
        if not len(chosen):
            continue
        table = store.mirrored_features if flip else store.features
        rows = frames.rows[picks[chosen]]
        order = np.argsort(rows)  # sorted reads from the memory map
        maps[chosen[order]] = table[rows[order]]
        if flip:
            boxes[chosen], poses[chosen] = mirror_boxes(boxes[chosen], store.crop_width), mirror_pose(poses[chosen])
    return torch.from_numpy(maps), torch.from_numpy(boxes), torch.from_numpy(poses)


def pretrain_front_end(front_end: torch.nn.Module, store: FeatureStore, steps: int, batch_size: int,
                       learning_rate: float, weight_decay: float, seed: int, mirrored: bool, pose_loss: str,
                       device: torch.device | str = "cpu") -> list[float]:
    """Train ``front_end`` (in place) for ``steps`` AdamW steps (one-cycle learning rate) on random frames of
    ``store``; returns the loss of every step. Deterministic for a given ``seed``."""
    from tqdm.auto import tqdm

    frames = LabelledFrames.of(store)
    if not len(frames):
        raise ValueError(f"{store.folder}: no frame with a pose label to pretrain the front-end on")
    if mirrored and store.mirrored_features is None:
        raise ValueError(f"{store.folder}: was built without mirrored features")
    params = [p for p in front_end.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, learning_rate, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, learning_rate, total_steps=steps)
    rng = np.random.default_rng(seed)
    losses = []
    front_end.train()
    for _ in tqdm(range(steps), desc="pretrain front-end", unit="step"):
        picks = rng.integers(len(frames), size=batch_size)
        flips = rng.random(batch_size) < 0.5 if mirrored else np.zeros(batch_size, bool)
        maps, boxes, poses = (x.to(device) for x in frame_batch(store, frames, picks, flips))
        loss = elementwise_loss(front_end(None, boxes, image_features=maps)["pose"], poses, pose_loss).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    logger.info("front-end pretrained on %d frames for %d steps: loss %.4f -> %.4f", len(frames), steps,
                losses[0], losses[-1])
    return losses


def pretrain_as_configured(model: torch.nn.Module, store: FeatureStore, config, device: torch.device | str = "cpu"
                           ) -> list[float]:
    """:func:`pretrain_front_end` of ``model.hmr`` with the pretraining settings of ``config`` (a
    :class:`~builder.training.trainer.TrainConfig`)."""
    return pretrain_front_end(model.hmr, store, config.front_end_pretraining_steps,
                              config.front_end_pretraining_batch_size, config.front_end_pretraining_learning_rate,
                              config.weight_decay, config.seed, config.mirror_augmentation, model.config.pose_loss,
                              device)


PRETRAINING_FIELDS = ("front_end_pretraining_steps", "front_end_pretraining_batch_size",
                      "front_end_pretraining_learning_rate", "weight_decay", "mirror_augmentation", "train_split",
                      "seed")
"""Training-config fields a pretrained front-end depends on (with the model config and the feature store)."""


def pretrained_front_end_file(config, model: torch.nn.Module, processor, dataset_path: Path, feature_root: Path,
                              out_dir: Path) -> Path:
    """The front-end of ``model`` (freshly built with ``processor`` from ``config``, a
    :class:`~builder.training.trainer.TrainConfig`) pretrained on the training store of ``dataset_path`` under
    ``feature_root``, saved as ``<out_dir>/front_end-<key>.safetensors``; the key hashes the store's fingerprint,
    the model config and the pretraining settings, so a file is reused only for the same inputs. Returns the
    file (made if missing)."""
    from safetensors.torch import save

    settings = {name: getattr(config, name) for name in PRETRAINING_FIELDS}
    key = json.dumps([store_fingerprint(dataset_path, processor, model.config), config.model_config, settings],
                     sort_keys=True, default=str)
    path = Path(out_dir) / f"front_end-{hashlib.sha256(key.encode()).hexdigest()[:16]}.safetensors"
    if path.is_file():
        return path
    store = feature_store(model, processor, dataset_path, config.train_split, feature_root,
                          mirrored=config.mirror_augmentation)
    pretrain_as_configured(model, store, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, save({k: v.contiguous() for k, v in model.hmr.state_dict().items()}))
    return path


def load_front_end(front_end: torch.nn.Module, path: str | Path) -> None:
    """Load weights saved by :func:`pretrained_front_end_file` into ``front_end`` (same architecture)."""
    from safetensors.torch import load_file

    from biohuman10m.errors import InputError, MissingInputError

    if not Path(path).is_file():
        raise MissingInputError(path, "front_end_init: no such front-end weights file")
    try:
        front_end.load_state_dict(load_file(str(path)))
    except (OSError, RuntimeError) as error:
        raise InputError(path, f"not a front-end for this model config ({error})") from None
