"""BioHuman10M: vocabularies, schema and metrics of the video-motion-muscle dataset.

The leaf of the project: it imports nothing from ``modeling_biohuman`` or ``builder``, which both use it.
``vocabulary`` (24 SMPL joints, 112 muscle channels and groups), ``skeleton`` (the SMPL rest skeleton),
``features`` (the ``datasets.Features`` schema), ``frames`` (frame codecs), ``collate`` (window batches),
``metrics`` (muscle and pose metrics of training and evaluation), ``card`` + ``card_template.md`` (the
dataset card), ``layout`` (file names of a built dataset folder), ``errors`` (the library's error root).
This folder is also the default dataset build folder (see ``layout``); the built files are no package data.
"""

from .vocabulary import (
    MUSCLE_GROUPS,
    MUSCLE_INDEX,
    MUSCLE_NAMES,
    MUSCLES,
    NUM_MUSCLES,
    NUM_SMPL_JOINTS,
    SMPL_JOINT_NAMES,
    SMPL_JOINT_PARENTS,
    SMPL_POSE_DIM,
    Muscle,
    muscle_indices,
)

__version__ = "0.1.0"
__all__ = ["MUSCLE_GROUPS", "MUSCLE_INDEX", "MUSCLE_NAMES", "MUSCLES", "NUM_MUSCLES", "NUM_SMPL_JOINTS",
           "SMPL_JOINT_NAMES", "SMPL_JOINT_PARENTS", "SMPL_POSE_DIM", "Muscle", "muscle_indices"]

_SCHEMA = ("FEATURES", "WEBDATASET_FEATURES", "WINDOW_SIZE", "label_features", "webdataset_features")


def __getattr__(name: str):
    """The ``datasets.Features`` schema, imported on first use (``datasets`` is a training extra)."""
    if name in _SCHEMA:
        from . import features

        return getattr(features, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
