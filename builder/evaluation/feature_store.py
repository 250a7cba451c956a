"""Frozen image-encoder features of a dataset split, computed once and shared by many training runs.

With a frozen backbone (``freeze_image_encoder``), every crop maps to the same backbone maps in every
epoch, every seed and every model that uses the same encoder and crop settings. A store holds them
for each distinct frame of a split, plus everything the model and the evaluation need per window, so
that training and evaluation never decode video or run the backbone again::

    <root>/<fingerprint>/<split>/
        features.npy            (F, C, h, w) float16 backbone maps, one row per distinct frame
        features_mirrored.npy   the same for horizontally flipped crops (``mirrored=True``)
        windows.npz             per window (N, T, ...): rows into features (-1: no usable frame),
                                crop-pixel boxes, attention, pose/muscle labels and evaluation masks,
                                frame indices; per window: key, sequence id, source, subject, fps
        done                    written last: the store is complete

The fingerprint covers the dataset's manifest, the processor settings and the encoder settings, so
a changed dataset, crop or encoder never reads stale features. Features are those of
:func:`builder.evaluation.window_data.model_inputs` crops, the same the pixel path computes
(stored as float16: the model's outputs differ from the pixel path by that rounding only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biohuman10m.collate import collate_windows
from builder.io import write_text_atomic
from builder.training.mirroring import mirror_boxes, mirror_muscles, mirror_pose

from .window_data import WindowDataset, model_inputs

logger = logging.getLogger(__name__)

WINDOW_ARRAYS = ("rows", "boxes", "attention_mask", "pose_labels", "muscle_labels", "pose_mask", "muscle_mask",
                 "frame_index")
WINDOW_METADATA = ("keys", "sequence_ids", "sources", "subjects", "fps")


PROCESSOR_METADATA = ("auto_map", "image_processor_type", "processor_class", "_processor_class")
"""Keys of a processor's ``to_dict`` that a saved folder adds and that do not change the crops."""


def store_fingerprint(dataset_path: Path, processor, model_config) -> str:
    """Hash of what the stored features depend on: dataset manifest, crop settings, encoder settings
    (the same for a fresh processor and for one loaded from a saved model folder)."""
    manifest = Path(dataset_path) / "manifest.json"
    dataset = (hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file()
               else str(Path(dataset_path).resolve()))
    encoder = {k: getattr(model_config, k) for k in ("image_encoder", "encoder_pretrained", "image_size",
                                                      "encoder_feature_stride")}
    crops = {k: v for k, v in processor.to_dict().items() if k not in PROCESSOR_METADATA}
    text = json.dumps([dataset, crops, encoder], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class FeatureStore:
    """A complete store of one split (see the module docstring); arrays are read-only memory maps."""

    folder: Path
    features: np.ndarray
    mirrored_features: np.ndarray | None
    windows: dict[str, np.ndarray]
    crop_width: int

    @classmethod
    def open(cls, folder: Path) -> FeatureStore:
        folder = Path(folder)
        if not (folder / "done").is_file():
            raise FileNotFoundError(f"{folder}: not a complete feature store")
        with np.load(folder / "windows.npz", allow_pickle=False) as data:
            windows = {name: data[name] for name in data.files}
        mirrored = folder / "features_mirrored.npy"
        return cls(folder, np.load(folder / "features.npy", mmap_mode="r"),
                   np.load(mirrored, mmap_mode="r") if mirrored.is_file() else None, windows,
                   int(json.loads((folder / "done").read_text())["crop_width"]))

    def __len__(self) -> int:
        return len(self.windows["rows"])

    @property
    def sources(self) -> list[str]:
        return self.windows["sources"].tolist()

    def image_features(self, indices: np.ndarray, mirrored: bool = False) -> torch.Tensor:
        """(B, T, C, h, w) float32 maps of windows ``indices`` (zeros where a frame has no usable crop)."""
        table = self.mirrored_features if mirrored else self.features
        if table is None:
            raise ValueError(f"{self.folder}: was built without mirrored features")
        rows = self.windows["rows"][indices]
        out = np.zeros((*rows.shape, *table.shape[1:]), np.float32)
        valid = rows >= 0
        out[valid] = table[rows[valid]]
        return torch.from_numpy(out)

    def model_inputs(self, indices: np.ndarray, mirrored: bool = False,
                     motion_input: str = "video") -> dict[str, torch.Tensor]:
        """Forward arguments (labels included) of windows ``indices``, optionally left-right mirrored.

        ``motion_input="ground_truth"`` gives the true poses as ``hmr_pose`` instead of image features
        (the ground-truth-motion ceiling).
        """
        w = {name: self.windows[name][indices] for name in WINDOW_ARRAYS}
        boxes, poses, muscles, muscle_mask = w["boxes"], w["pose_labels"], w["muscle_labels"], w["muscle_mask"]
        if mirrored:
            boxes, poses, muscles = mirror_boxes(boxes, self.crop_width), mirror_pose(poses), mirror_muscles(muscles)
            muscle_mask = mirror_muscles(muscle_mask) if muscle_mask.ndim == 3 else muscle_mask
        inputs = {"boxes": torch.from_numpy(np.ascontiguousarray(boxes, np.float32)),
                  "attention_mask": torch.from_numpy(w["attention_mask"].astype(np.int64)),
                  "pose_labels": torch.from_numpy(np.ascontiguousarray(poses, np.float32)),
                  "muscle_labels": torch.from_numpy(np.ascontiguousarray(muscles, np.float32)),
                  "pose_mask": torch.from_numpy(w["pose_mask"]), "muscle_mask": torch.from_numpy(muscle_mask)}
        if motion_input == "ground_truth":
            inputs["hmr_pose"] = inputs["pose_labels"]
        elif motion_input == "video":
            inputs["image_features"] = self.image_features(indices, mirrored)
        else:
            raise ValueError(f"motion_input must be 'video' or 'ground_truth', got {motion_input!r}")
        return inputs


class StoreWindows(torch.utils.data.Dataset):
    """Training windows of a store: item ``i < n`` is the ``i``-th used window; with ``mirrored`` the items
    from ``n`` on are the same windows left-right mirrored (twice the windows). ``max_subjects`` keeps the
    windows of the first subjects only (sorted by name; to measure what more subjects bring);
    ``pose_only_windows=False`` leaves out windows without any muscle label (sequences BioSim dropped or
    never simulated, stored for their pose labels)."""

    def __init__(self, store: FeatureStore, mirrored: bool = False, motion_input: str = "video",
                 max_subjects: int | None = None, pose_only_windows: bool = True) -> None:
        self.store, self.mirrored, self.motion_input = store, mirrored, motion_input
        subjects = store.windows["subjects"]
        kept = sorted(set(subjects.tolist()))[:max_subjects]
        use = np.isin(subjects, kept)
        if not pose_only_windows:
            labelled = store.windows["muscle_mask"]
            use &= labelled.reshape(len(labelled), -1).any(axis=1)
        self.windows = np.flatnonzero(use)

    def __len__(self) -> int:
        return len(self.windows) * (2 if self.mirrored else 1)

    @property
    def sources(self) -> list[str]:
        return [self.store.sources[i] for i in self.windows] * (2 if self.mirrored else 1)

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        indices = np.asarray(indices)
        flipped = indices >= len(self.windows)
        parts = [(self.store.model_inputs(self.windows[indices[flipped == m] % len(self.windows)], bool(m),
                                          self.motion_input),
                  np.flatnonzero(flipped == m)) for m in (False, True) if (flipped == m).any()]
        order = np.argsort(np.concatenate([where for _, where in parts]))
        return {name: torch.cat([inputs[name] for inputs, _ in parts])[order] for name in parts[0][0]}


def collate_store_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The DataLoader's collate for :class:`StoreWindows` (whose ``__getitems__`` already batches)."""
    return batch


@torch.no_grad()
def build_feature_store(encoder: torch.nn.Module, processor, dataset_path: Path, split: str, folder: Path,
                        mirrored: bool, batch_frames: int = 64) -> FeatureStore:
    """Compute the store of ``split`` into ``folder`` (replacing what is there); returns it opened.

    ``encoder`` is the model's frozen image encoder (``backbone_features`` maps crops to maps). The store is
    written to a scratch folder beside ``folder`` and moved into place when complete, so processes that
    build the same store at the same time never mix their files.
    """
    folder = Path(folder)
    scratch = folder.with_name(f".{folder.name}.building-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        _write_feature_store(encoder, processor, dataset_path, split, scratch, mirrored, batch_frames)
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        try:
            if folder.exists():
                os.replace(folder, old)
            os.replace(scratch, folder)
        except OSError:
            if not (folder / "done").is_file():
                raise  # not a complete store that another process moved into place meanwhile
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return FeatureStore.open(folder)


def _write_feature_store(encoder: torch.nn.Module, processor, dataset_path: Path, split: str, folder: Path,
                         mirrored: bool, batch_frames: int) -> None:
    from tqdm.auto import tqdm

    dataset = WindowDataset(dataset_path, split)
    encoder.eval()
    rows_of: dict[tuple[str, int], int] = {}
    chunks: dict[bool, list[np.ndarray]] = {False: [], True: []}
    pending: list[torch.Tensor] = []
    windows: dict[str, list[Any]] = {name: [] for name in WINDOW_ARRAYS + WINDOW_METADATA}

    def flush() -> None:
        if pending:
            crops = torch.stack(pending)
            for flip in (False, True) if mirrored else (False,):
                maps = encoder.backbone_features(crops.flip(-1) if flip else crops)
                chunks[flip].append(maps.to(torch.float16).numpy())
            pending.clear()

    for index in tqdm(range(len(dataset)), desc=f"features {split}", unit="window"):
        batch = collate_windows([dataset[index]])
        inputs = model_inputs(batch, processor)
        attention = inputs["attention_mask"][0].bool()
        rows = np.full(len(attention), -1, np.int64)
        for t in np.flatnonzero(attention.numpy()):
            key = (batch["sequence_id"][0], int(batch["frame_index"][0, t]))
            if key not in rows_of:
                rows_of[key] = len(rows_of)
                pending.append(inputs["pixel_values"][0, t])
            rows[t] = rows_of[key]
        if len(pending) >= batch_frames:
            flush()
        values = {"rows": rows, "boxes": torch.nan_to_num(inputs["boxes"][0]).numpy(),
                  "attention_mask": attention.numpy(), "pose_labels": inputs["pose_labels"][0].numpy(),
                  "muscle_labels": inputs["muscle_labels"][0].numpy(), "pose_mask": inputs["pose_mask"][0].numpy(),
                  "muscle_mask": inputs["muscle_mask"][0].numpy(), "frame_index": batch["frame_index"][0].numpy(),
                  "keys": batch["key"][0], "sequence_ids": batch["sequence_id"][0], "sources": batch["source"][0],
                  "subjects": str(batch["subject"][0]), "fps": float(batch["fps"][0])}
        for name, value in values.items():
            windows[name].append(value)
    flush()
    for flip, name in ((False, "features.npy"), (True, "features_mirrored.npy")):
        if chunks[flip]:
            np.save(folder / name, np.concatenate(chunks[flip]))
    arrays = {name: np.stack(windows[name]) for name in WINDOW_ARRAYS}
    arrays.update({name: np.array(windows[name]) for name in WINDOW_METADATA})
    np.savez(folder / "windows.npz", **arrays)
    write_text_atomic(folder / "done", json.dumps({"frames": len(rows_of), "windows": len(dataset),
                                                   "crop_width": int(processor.crop_size["width"])}))
    logger.info("feature store %s: %d windows, %d frames", folder, len(dataset), len(rows_of))


def feature_store(model: torch.nn.Module, processor, dataset_path: Path, split: str, root: Path,
                  mirrored: bool = False) -> FeatureStore:
    """The store of ``split`` under ``root`` for ``model``'s frozen encoder: opened if complete (and
    holding mirrored features when asked), built otherwise."""
    encoder = model.hmr.encoder
    folder = Path(root) / store_fingerprint(dataset_path, processor, model.config) / split
    if (folder / "done").is_file():
        store = FeatureStore.open(folder)
        if not mirrored or store.mirrored_features is not None:
            return store
    return build_feature_store(encoder, processor, dataset_path, split, folder, mirrored)
