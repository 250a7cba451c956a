"""One entry point for every motion format: :func:`read_motion` and :func:`iter_motion_folder`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .amass import is_amass, read_amass
from .bedlam import is_bedlam_labels, read_bedlam
from .bvh import read_bvh
from .deepmimic import read_deepmimic
from .emdb import read_emdb
from .errors import MotionSourceError
from .gaitkit import is_gaitkit_trial, read_gaitkit
from .h36m import read_h36m
from .loaders import npz_keys, pickle_strings
from .motion import MotionSequence
from .motion_file import is_motion_file, load_motion
from .motionpro import SMPL_FILE, read_motionpro
from .pw3d import read_3dpw
from .timing import resample, split_valid
from .validate import MIN_FRAMES, reject_nan

logger = logging.getLogger(__name__)

FORMATS = ("biohuman", "amass", "bedlam", "3dpw", "emdb", "h36m", "motionpro", "bvh", "deepmimic", "gaitkit")
Reader = Callable[[Path], list[MotionSequence]]
_READERS: dict[str, Reader] = {
    "biohuman": load_motion, "amass": read_amass, "bedlam": read_bedlam, "3dpw": read_3dpw, "emdb": read_emdb,
    "h36m": read_h36m, "motionpro": read_motionpro, "bvh": read_bvh, "deepmimic": read_deepmimic,
    "gaitkit": read_gaitkit,
}
MOTION_SUFFIXES = (".npz", ".pkl", ".bvh", ".txt", ".json", ".npy")
PICKLE_FORMATS = ("3dpw", "emdb", "h36m", "motionpro")
"""Formats that are pickles by nature: read only with ``allow_pickle=True`` (see :mod:`.loaders`)."""
_PICKLE_NAMES: tuple[tuple[str, frozenset[str]], ...] = (
    ("emdb", frozenset({"smpl", "good_frames_mask"})), ("3dpw", frozenset({"poses", "cam_poses"})),
    ("3dpw", frozenset({"poses", "campose_valid"})), ("h36m", frozenset({"poses", "trans", "betas"})),
    ("h36m", frozenset({"new_poses"})),   # a camera-aligned MoSh file: its reader explains why it is not read
)
"""Pickle format -> names its files contain (found by :func:`.loaders.pickle_strings`, without unpickling)."""


def _json_motion_format(path: Path) -> str | None:
    """``deepmimic`` or ``gaitkit`` for a JSON motion file (from its first 64 KiB), else None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    if head.lstrip().startswith(b"{") and b'"Frames"' in head:
        return "deepmimic"
    return "gaitkit" if is_gaitkit_trial(head) else None


def detect_format(path: str | os.PathLike) -> str:
    """The format of a motion file (one of :data:`FORMATS`), from its name and content."""
    path = Path(path)
    if path.is_dir():
        if (path / SMPL_FILE).is_file():
            return "motionpro"
        raise MotionSourceError(path, "is a folder; use iter_motion_folder() for folders")
    if not path.exists():
        raise MotionSourceError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return "bvh"
    if path.name == SMPL_FILE:
        return "motionpro"
    if suffix in (".txt", ".json"):
        json_format = _json_motion_format(path)
        if json_format:
            return json_format
        raise MotionSourceError(path, "neither a DeepMimic clip (a JSON object with a 'Frames' list) nor a gaitkit "
                                      "trial (an 'angle_frames' list)")
    if suffix == ".npz":
        keys = npz_keys(path)
        for name, test in (("biohuman", is_motion_file), ("bedlam", is_bedlam_labels), ("amass", is_amass)):
            if test(keys):
                return name
        raise MotionSourceError(path, f"unrecognised .npz motion (keys {sorted(keys)})")
    if suffix == ".pkl":
        names = pickle_strings(path)
        for name, needed in _PICKLE_NAMES:
            if needed <= names:
                return name
        raise MotionSourceError(path, "unrecognised pickle (not EMDB, 3DPW or Human3.6M MoSh; the names in it: "
                                      f"{sorted(names)[:12]})")
    raise MotionSourceError(path, f"unsupported motion file type {suffix or '(none)'!r}")


def read_motion(path: str | os.PathLike, fps: float | None = None, on_nan: str = "split",
                min_frames: int = MIN_FRAMES, allow_pickle: bool = False) -> list[MotionSequence]:
    """All usable SMPL sequences of a motion file, in SMPL's Y-up world.

    Sequences are cut at invalid frames (flagged by the dataset or NaN) into ``<id>_part<k>``
    runs of at least ``min_frames`` frames; with ``on_nan="error"`` a NaN pose or translation
    raises instead. With ``fps`` every sequence is resampled to that rate. Raises
    :class:`MotionSourceError` naming the file and the problem for any bad input, including a
    file with nothing usable left. Files of :data:`PICKLE_FORMATS` are read only with ``allow_pickle``.
    """
    if on_nan not in ("split", "error"):
        raise ValueError(f"on_nan must be 'split' or 'error', got {on_nan!r}")
    path = Path(path)
    file_format = detect_format(path)
    reader = _READERS[file_format]
    sequences = reader(path, allow_pickle=allow_pickle) if file_format in PICKLE_FORMATS else reader(path)
    out = []
    for sequence in sequences:
        if on_nan == "error":
            reject_nan(sequence)
        for part in split_valid(sequence, min_frames):
            out.append(resample(part, fps) if fps else part)
    if not out:
        raise MotionSourceError(path, f"no run of at least {min_frames} valid frames")
    return out


def find_motion_files(folder: str | os.PathLike) -> list[Path]:
    """Motion files under ``folder`` (recursively, sorted).

    Skipped: AMASS ``shape.npz`` (body shape only), MotionPRO's non-motion files, .txt/.json
    files that are not DeepMimic clips or gaitkit trials, and .npy files other than MotionPRO's ``smpl.npy``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MotionSourceError(folder, "not a folder")
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in MOTION_SUFFIXES or path.name == "shape.npz":
            continue
        if path.suffix.lower() in (".npy", ".npz") and (path.parent / SMPL_FILE).is_file() and path.name != SMPL_FILE:
            continue  # a MotionPRO sequence folder: only smpl.npy is motion (pressure.npz, bbox.npy, ...)
        if path.suffix.lower() == ".npy" and path.name != SMPL_FILE:
            continue
        if path.suffix.lower() in (".txt", ".json") and not _json_motion_format(path):
            continue
        found.append(path)
    return found


def iter_motion_folder(folder: str | os.PathLike, fps: float | None = None, on_nan: str = "split",
                       min_frames: int = MIN_FRAMES, allow_pickle: bool = False,
                       ) -> Iterator[tuple[Path, list[MotionSequence] | MotionSourceError]]:
    """``(path, sequences)`` for each motion file under ``folder``, or ``(path, error)`` if it failed.

    A bad file does not stop the run: its :class:`MotionSourceError` is yielded (and logged) so
    the caller can record the reason and go on.
    """
    for path in find_motion_files(folder):
        try:
            yield path, read_motion(path, fps=fps, on_nan=on_nan, min_frames=min_frames, allow_pickle=allow_pickle)
        except MotionSourceError as error:
            logger.warning("skipping %s", error)
            yield path, error
