"""The ``datasets.Features`` schema of BioHuman10M windows, for both stored formats.

A window holds up to ``window_size`` consecutive frames of one sequence, padded to exactly
``window_size`` rows; ``frame_mask`` marks the real frames, ``pose_mask`` / ``muscle_mask`` the
frames whose SMPL pose / 112 activations are valid labels (padding and filtered labels are
False). Activation channels follow :data:`biohuman10m.vocabulary.MUSCLE_NAMES`.

* Parquet (labels + metadata, one row per window): :func:`label_features`.
* WebDataset (one tar sample per window): :func:`webdataset_features`. Arrays are ``<name>.npy``
  members, metadata the ``json`` member, frames ``frames.mp4`` (H.264) or ``f00.jpg`` ...
  (JPEG sequence, one member per real frame).
"""

from __future__ import annotations

import datasets

from .vocabulary import NUM_MUSCLES, SMPL_POSE_DIM

WINDOW_SIZE = 32
IMAGE_FORMATS = ("mp4", "jpg")

# Name, per-frame trailing shape (empty for a per-frame scalar), dtype.
FRAME_ARRAYS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("poses", (SMPL_POSE_DIM,), "float32"),
    ("trans", (3,), "float32"),
    ("activations", (NUM_MUSCLES,), "float32"),
    ("boxes", (4,), "float32"),
    ("times", (), "float64"),
    ("frame_index", (), "int32"),
    ("frame_mask", (), "bool"),
    ("pose_mask", (), "bool"),
    ("muscle_mask", (), "bool"),
    ("box_visible", (), "bool"),
)
"""Arrays with one row per window slot, in storage order."""

CROP_ARRAY = ("crop_affine", (2, 3), "float32")
"""Per-frame 2x3 affine mapping crop pixels to image pixels (person-crop windows only)."""

METADATA: tuple[tuple[str, str], ...] = (
    ("key", "string"),
    ("sequence_id", "string"),
    ("source", "string"),
    ("subject", "string"),
    ("split", "string"),
    ("gender", "string"),
    ("window_index", "int32"),
    ("start_frame", "int32"),
    ("num_frames", "int32"),
    ("fps", "float32"),
    ("image_width", "int32"),
    ("image_height", "int32"),
)
"""Scalar metadata of a window (Parquet columns, and the WebDataset ``json`` member)."""


def _frame_array_feature(trailing: tuple[int, ...], dtype: str, window_size: int):
    if not trailing:
        return datasets.List(datasets.Value(dtype), length=window_size)
    if len(trailing) == 1:
        return datasets.Array2D((window_size, trailing[0]), dtype)
    return datasets.Array3D((window_size, *trailing), dtype)


def array_features(window_size: int = WINDOW_SIZE, crops: bool = False) -> dict[str, object]:
    """Feature of every per-window array, keyed by array name."""
    arrays = FRAME_ARRAYS + ((CROP_ARRAY,) if crops else ())
    features = {name: _frame_array_feature(shape, dtype, window_size) for name, shape, dtype in arrays}
    features["betas"] = datasets.List(datasets.Value("float32"))
    return features


def metadata_features() -> dict[str, datasets.Value]:
    return {name: datasets.Value(dtype) for name, dtype in METADATA}


def label_features(window_size: int = WINDOW_SIZE, crops: bool = False) -> datasets.Features:
    """Columns of the Parquet shards: metadata then arrays (no frames)."""
    return datasets.Features({**metadata_features(), **array_features(window_size, crops)})


def webdataset_features(window_size: int = WINDOW_SIZE, image_format: str = "mp4",
                        crops: bool = False) -> datasets.Features:
    """Columns the ``webdataset`` builder of ``datasets`` yields for one tar sample."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    columns: dict[str, object] = {"__key__": datasets.Value("string"), "__url__": datasets.Value("string")}
    columns["json"] = metadata_features()
    columns.update({f"{name}.npy": feature for name, feature in array_features(window_size, crops).items()})
    if image_format == "mp4":
        columns["frames.mp4"] = datasets.Value("binary")  # bytes; decode with biohuman10m.frames
    else:
        columns.update({frame_member(i, "jpg"): datasets.Image() for i in range(window_size)})
    return datasets.Features(columns)


def frame_member(slot: int, image_format: str) -> str:
    """Tar member suffix of one frame of a JPEG-sequence window (``f00.jpg``)."""
    return f"f{slot:02d}.{image_format}"


FEATURES = label_features()
"""Default Parquet schema (32-frame windows, full frames)."""

WEBDATASET_FEATURES = webdataset_features()
"""Default WebDataset schema (32-frame windows, MP4 frames)."""
