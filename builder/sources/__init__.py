"""Motion-source readers: every supported dataset format -> :class:`MotionSequence`.

All sequences are in SMPL's world: Y up, metres, a body with zero root rotation faces +Z with
its left towards +X; ``poses`` are (T, 72) SMPL axis-angle (root first), ``trans`` is SMPL's
root translation (pelvis = rest pelvis ``J0`` + ``trans``).
"""

from .bvh import read_bvh
from .deepmimic import embedded_motion, embedded_motions, read_deepmimic
from .errors import MotionSourceError
from .motion import GENDERS, MotionSequence
from .motion_file import load_motion, save_motion
from .read import FORMATS, detect_format, find_motion_files, iter_motion_folder, read_motion
from .timing import resample, split_valid

__all__ = [
    "FORMATS", "GENDERS", "MotionSequence", "MotionSourceError", "detect_format", "embedded_motion",
    "embedded_motions", "find_motion_files", "iter_motion_folder", "load_motion", "read_bvh", "read_deepmimic",
    "read_motion", "resample", "save_motion", "split_valid",
]
