"""BioHuman10M: vocabularies, schema and metrics of the video-motion-muscle dataset."""

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
