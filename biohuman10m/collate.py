"""Turn BioHuman10M windows into PyTorch batches: pad to a common length, stack, keep the masks.

Accepts the samples of every reader: Parquet rows from ``datasets`` (``poses``, ...), WebDataset
samples from ``datasets`` or the ``webdataset`` library (``poses.npy``, ``json``, ``frames.mp4``
or ``f00.jpg`` ...). Padding rows get zeros and False masks (``frame_index`` -1); the
transformer's padding mask is ``~frame_mask``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np

from .features import FRAME_ARRAYS, METADATA
from .frames import decode_jpeg, decode_mp4

PADDING_VALUES = {"frame_index": -1}
PER_FRAME = {name for name, _, _ in FRAME_ARRAYS} | {"crop_affine"}


def _as_array(value) -> np.ndarray:
    if hasattr(value, "numpy"):
        return value.numpy()
    return np.asarray(value)


def _image(value) -> np.ndarray:
    """A JPEG frame given as bytes, a {"bytes": ...} dict, a PIL image or an array."""
    if isinstance(value, bytes):
        return decode_jpeg(value)
    if isinstance(value, Mapping):
        return decode_jpeg(value["bytes"])
    if hasattr(value, "convert"):
        return np.asarray(value.convert("RGB"))
    return np.asarray(value)  # already an array (datasets' numpy format)


def _decode_frames(sample: Mapping) -> np.ndarray | None:
    if sample.get("frames.mp4") is not None:
        return decode_mp4(sample["frames.mp4"])
    jpegs = sorted(name for name in sample if name.endswith(".jpg") and sample[name] is not None)
    return np.stack([_image(sample[name]) for name in jpegs]) if jpegs else None


def window_from_sample(sample: Mapping, decode_frames: bool = True) -> dict:
    """One window as a flat dict of numpy arrays and metadata, whatever reader produced it."""
    window: dict = {}
    metadata = sample.get("json")
    if isinstance(metadata, (bytes, str)):
        metadata = json.loads(metadata)
    window.update(metadata or {})
    for name, value in sample.items():
        if name.endswith(".npy"):
            window[name[: -len(".npy")]] = _as_array(value)
        elif name in PER_FRAME or name == "betas":
            window[name] = _as_array(value)
        elif name in dict(METADATA):
            window[name] = value
    if decode_frames:
        frames = _decode_frames(sample)
        if frames is not None:
            window["frames"] = frames
    return window


def _pad(array: np.ndarray, length: int, fill) -> np.ndarray:
    if len(array) >= length:
        return array[:length]
    out = np.full((length, *array.shape[1:]), fill, dtype=array.dtype)
    out[: len(array)] = array
    return out


def collate_windows(samples: Sequence[Mapping], decode_frames: bool = True) -> dict:
    """Batch of windows: per-frame arrays as (B, T, ...) tensors padded to the longest window,
    ``frames`` as (B, T, H, W, 3) uint8 when decoded, ``betas`` (B, B_max), metadata as lists."""
    import torch

    windows = [window_from_sample(sample, decode_frames) for sample in samples]
    if not windows:
        raise ValueError("cannot collate an empty list of windows")
    length = max(len(w["frame_mask"]) for w in windows)
    batch: dict = {}
    for name in sorted(PER_FRAME & set(windows[0])):
        fill = PADDING_VALUES.get(name, 0)
        batch[name] = torch.from_numpy(np.stack([_pad(w[name], length, fill) for w in windows]))
    if "betas" in windows[0]:
        width = max(len(w["betas"]) for w in windows)
        batch["betas"] = torch.from_numpy(np.stack([np.pad(w["betas"].astype(np.float32), (0, width - len(w["betas"])))
                                                    for w in windows]))
    if "frames" in windows[0]:
        sizes = {w["frames"].shape[1:] for w in windows}
        if len(sizes) > 1:
            raise ValueError(f"windows have different frame sizes {sorted(sizes)}; build with person crops "
                             "(frames='crop') or resize before collating")
        batch["frames"] = torch.from_numpy(np.stack([_pad(w["frames"], length, 0) for w in windows]))
    for name, _ in METADATA:
        if name in windows[0]:
            batch[name] = [w[name] for w in windows]
    return batch
