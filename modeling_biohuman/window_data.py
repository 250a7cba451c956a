"""BioHuman10M windows for training and evaluation: open a split, decode, collate, make model inputs.

A split is read with ``datasets`` from the dataset folder's WebDataset shards (frames + labels)
as a map-style dataset, so any window can be fetched by index: the deterministic sampler of
:mod:`modeling_biohuman.window_sampling` and exact resumption rely on that. One decoded window
is a dict of its metadata (``sequence_id``, ``source``, ...), its padded per-frame arrays
(``poses`` (T, 72), ``activations`` (T, 112), ``boxes``, masks, ...) and ``frames`` (N, H, W, 3)
uint8, the N <= T real frames.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biohuman10m.features import FRAME_ARRAYS, METADATA, frame_member

ARRAY_NAMES: tuple[str, ...] = tuple(name for name, _, _ in FRAME_ARRAYS)
METADATA_NAMES: tuple[str, ...] = tuple(name for name, _ in METADATA)


def split_shards(dataset_path: str | os.PathLike, split: str) -> list[Path]:
    """WebDataset tar shards of ``split`` in a built dataset folder, in name order."""
    root = Path(dataset_path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset folder not found")
    shards = sorted(p for p in root.rglob("*.tar") if split in p.relative_to(root).as_posix().replace(".tar", "").split("/")
                    or p.name.startswith(f"{split}-"))
    if not shards:
        raise FileNotFoundError(f"{root}: no WebDataset shards (.tar) of split {split!r}")
    return shards


def _shard_layout(shard: Path) -> tuple[int, str, bool]:
    """Window size, image format and whether frames are crops, read from the first sample of a shard."""
    from builder.shards import iter_tar, npy_array

    for _, members in iter_tar(shard):
        size = len(npy_array(members["frame_mask.npy"]))
        image_format = "mp4" if "frames.mp4" in members else "jpg"
        return size, image_format, "crop_affine.npy" in members
    raise ValueError(f"{shard}: holds no sample")


class WindowDataset(torch.utils.data.Dataset):
    """Map-style windows of one split; items are decoded window dicts (see the module docstring)."""

    def __init__(self, dataset_path: str | os.PathLike, split: str) -> None:
        import datasets

        from biohuman10m.features import webdataset_features

        self.path, self.split = Path(dataset_path), split
        shards = split_shards(dataset_path, split)
        self.window_size, self.image_format, self.crops = _shard_layout(shards[0])
        features = webdataset_features(self.window_size, self.image_format, self.crops)
        self.table = datasets.load_dataset("webdataset", data_files=[str(s) for s in shards], split="train",
                                           features=features)
        metadata = self.table.select_columns(["json"])["json"]
        self.metadata: list[dict[str, Any]] = list(metadata)

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
        from biohuman10m.frames import decode_mp4

        row = self.table[int(index)]
        window: dict[str, Any] = dict(row["json"])
        for name in ARRAY_NAMES + ("betas",) + (("crop_affine",) if self.crops else ()):
            window[name] = np.asarray(row[f"{name}.npy"])
        count = int(window["num_frames"])
        if self.image_format == "mp4":
            frames = decode_mp4(row["frames.mp4"])
        else:
            frames = np.stack([np.asarray(row[frame_member(i, "jpg")].convert("RGB")) for i in range(count)])
        if len(frames) != count:
            raise ValueError(f"{self.path} [{self.split}] window {window['key']}: {len(frames)} frames "
                             f"decoded, metadata says {count}")
        window["frames"] = frames
        return window


def collate_windows(windows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch of windows: per-frame arrays stacked as tensors (B, T, ...), metadata and frames as lists."""
    batch: dict[str, Any] = {name: [w[name] for w in windows] for name in METADATA_NAMES}
    for name in ARRAY_NAMES:
        batch[name] = torch.as_tensor(np.stack([w[name] for w in windows]))
    batch["betas"] = [torch.as_tensor(w["betas"]) for w in windows]
    if "crop_affine" in windows[0]:
        batch["crop_affine"] = torch.as_tensor(np.stack([w["crop_affine"] for w in windows]))
    batch["frames"] = [w["frames"] for w in windows]
    return batch


def _image_boxes_in_frames(batch: dict[str, Any]) -> torch.Tensor:
    """Person boxes in the coordinates of the stored frames (crop pixels for crop windows), NaN where absent."""
    boxes = batch["boxes"].to(torch.float64).clone()
    usable = batch["frame_mask"] & batch["box_visible"]
    if "crop_affine" in batch:  # crop -> image affines: map image boxes into the crops
        affine = batch["crop_affine"].to(torch.float64)
        scale = affine[..., 0, 0].clamp_min(1e-12)
        boxes = torch.stack([(boxes[..., 0] - affine[..., 0, 2]) / scale, (boxes[..., 1] - affine[..., 1, 2]) / scale,
                             (boxes[..., 2] - affine[..., 0, 2]) / scale, (boxes[..., 3] - affine[..., 1, 2]) / scale], -1)
    boxes[~usable] = float("nan")
    return boxes


def model_inputs(batch: dict[str, Any], processor) -> dict[str, torch.Tensor]:
    """Forward arguments of the model for a collated batch, labels and evaluation masks included.

    Frames without a usable person box are masked (``attention_mask`` 0) and so are their labels:
    every method is evaluated on exactly these masks.
    """
    window_size = batch["frame_mask"].shape[1]
    boxes = _image_boxes_in_frames(batch)
    videos = []
    for frames in batch["frames"]:
        padded = np.zeros((window_size, *frames.shape[1:]), dtype=np.uint8)
        padded[: len(frames)] = frames
        videos.append(padded)
    encoded = processor(videos, list(boxes))
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
