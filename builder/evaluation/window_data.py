"""BioHuman10M windows for training and evaluation: open a split, decode, collate, make model inputs.

A split is read with ``datasets`` from the dataset folder's WebDataset shards (frames + labels)
as a map-style dataset, so any window can be fetched by index: the deterministic sampler of
:mod:`builder.training.window_sampling` and exact resumption rely on that. Before reading, the
shards are checked against ``manifest.json`` (sizes always, sha256 with ``verify_checksums``; a
missing, truncated or unlisted shard is refused, naming it), the Arrow cache ``datasets`` builds is
kept under a key of the manifest's checksums, so a rebuilt folder is never served from the cache
of an earlier build, and the windows read must be the manifest's count. Batches come from
:func:`biohuman10m.collate.collate_windows`: per-frame arrays (B, T, ...), ``frames`` (B, T, H, W, 3)
uint8 and metadata lists.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biohuman10m.errors import InputError, MissingInputError
from biohuman10m.layout import MANIFEST, WEBDATASET_DIR
from builder.dataset.manifest import ShardChecksumError, check_files, content_key, split_windows


def dataset_root(dataset_path: str | os.PathLike) -> Path:
    """The built dataset folder (the one holding ``manifest.json``) of ``dataset_path``: that folder
    or its WebDataset sub-folder."""
    root = Path(dataset_path)
    if not root.is_dir():
        raise MissingInputError(root, "dataset folder not found")
    if root.name == WEBDATASET_DIR and not (root / MANIFEST).is_file() and (root.parent / MANIFEST).is_file():
        root = root.parent
    if not any((root / WEBDATASET_DIR).glob("*.tar")):
        raise MissingInputError(root, "no WebDataset shards (webdataset/*.tar); "
                                "build it with `biohuman dataset build`")
    return root


def arrow_cache_dir(manifest: dict) -> Path:
    """Where ``datasets`` keeps the Arrow tables of a build: one folder per content key of its manifest
    (under ``HF_DATASETS_CACHE``), so that a rebuilt or changed folder gets a cache of its own."""
    import datasets

    return Path(datasets.config.HF_DATASETS_CACHE) / "biohuman10m" / content_key(manifest)


class WindowDataset(torch.utils.data.Dataset):
    """Map-style windows of one split of a built dataset; items are raw WebDataset samples
    (``json``, ``<array>.npy``, ``frames.mp4``) that ``biohuman10m.collate.collate_windows`` decodes and stacks.
    ``verify_checksums``: also compare every shard's sha256 with the manifest (reads all shards once);
    sizes, missing and unlisted shards are always checked.
    """

    def __init__(self, dataset_path: str | os.PathLike, split: str, verify_checksums: bool = False) -> None:
        import datasets

        self.path, self.split = Path(dataset_path), split
        root = dataset_root(dataset_path)
        manifest = check_files(root, ("webdataset",), checksums=verify_checksums)
        expected = split_windows(manifest, split)
        if not expected:
            splits = sorted({e["split"] for e in manifest["files"] if e.get("format") == "webdataset"})
            raise InputError(root, f"split {split!r} has no windows (have: {splits})")
        self.table = datasets.load_dataset(str(root / WEBDATASET_DIR), split=split,
                                           cache_dir=str(arrow_cache_dir(manifest)))
        if len(self.table) != expected:
            raise ShardChecksumError(root / WEBDATASET_DIR, f"split {split!r} read as {len(self.table)} windows, "
                                     f"{MANIFEST} lists {expected}")
        self.metadata: list[dict[str, Any]] = list(self.table.select_columns(["json"])["json"])

    def __len__(self) -> int:
        return len(self.table)

    @property
    def sources(self) -> list[str]:
        return [m["source"] for m in self.metadata]

    def arrays(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Per-frame arrays of every window, stacked (N, T, ...), without decoding any frame."""
        columns = self.table.select_columns([f"{name}.npy" for name in names]).with_format("numpy")
        return {name: np.stack(list(columns[f"{name}.npy"])) for name in names}

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.table[int(index)]


def _image_boxes_in_frames(batch: dict[str, Any]) -> torch.Tensor:
    """Person boxes in the coordinates of the stored frames (crop pixels for crop windows), NaN where absent."""
    boxes = batch["boxes"].to(torch.float64).clone()
    usable = batch["frame_mask"] & batch["box_visible"]
    if "crop_affine" in batch:  # crop -> image affines: map image boxes into the crops
        affine = batch["crop_affine"].to(torch.float64)
        scale = affine[..., 0, 0].clamp_min(1e-12)
        boxes = torch.stack([(boxes[..., 0] - affine[..., 0, 2]) / scale,
                             (boxes[..., 1] - affine[..., 1, 2]) / scale,
                             (boxes[..., 2] - affine[..., 0, 2]) / scale,
                             (boxes[..., 3] - affine[..., 1, 2]) / scale], -1)
    boxes[~usable] = float("nan")
    return boxes


def model_inputs(batch: dict[str, Any], processor) -> dict[str, torch.Tensor]:
    """Forward arguments of the model for a collated batch, labels and evaluation masks included.

    Frames without a usable person box are masked (``attention_mask`` 0) and so are their labels:
    every method is evaluated on exactly these masks.
    """
    encoded = processor(batch["frames"], _image_boxes_in_frames(batch))
    attention = encoded["attention_mask"].bool() & batch["frame_mask"]
    return {
        "pixel_values": encoded["pixel_values"],
        "boxes": encoded["boxes"],
        "attention_mask": attention.long(),
        "pose_labels": batch["poses"].float(),
        "muscle_labels": batch["activations"].float(),
        "pose_mask": batch["pose_mask"] & attention,
        "muscle_mask": batch["muscle_mask"] & attention,
    }
