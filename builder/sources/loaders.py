"""Open dataset files (.npz, .npy, pickles) with errors that name the file and the problem.

Pickles (3DPW, EMDB, Human3.6M MoSh, MotionPRO's smpl.npy) can run code when loaded: read
only dataset files from their official releases.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MotionSourceError


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file (object arrays allowed: some releases store strings that way)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=True) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
        raise MotionSourceError(path, f"truncated or corrupt .npz file ({type(error).__name__}: {error})") from None


def npz_keys(path: str | Path) -> set[str]:
    """Names of the arrays in an .npz file, without reading them."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return set(archive.files)
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise MotionSourceError(path, f"truncated or corrupt .npz file ({type(error).__name__}: {error})") from None


def load_pickle(path: str | Path) -> Any:
    """A pickled object; Python 2 pickles (3DPW, MoSh) are decoded as latin-1."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return pickle.load(handle, encoding="latin1")
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError, ImportError, IndexError) as error:
        raise MotionSourceError(path, f"truncated or corrupt pickle ({type(error).__name__}: {error})") from None


def load_npy_object(path: str | Path) -> Any:
    """The object stored in a pickled .npy (``np.save`` of a dict)."""
    path = Path(path)
    try:
        return np.load(path, allow_pickle=True).item()
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
        raise MotionSourceError(path, f"truncated or corrupt .npy file ({type(error).__name__}: {error})") from None


def require(mapping: Mapping, keys: tuple[str, ...], path: str | Path, what: str) -> None:
    """Raise :class:`MotionSourceError` if ``mapping`` lacks any of ``keys``."""
    if not isinstance(mapping, Mapping):
        raise MotionSourceError(path, f"expected a {what} dictionary, found {type(mapping).__name__}")
    missing = [key for key in keys if key not in mapping]
    if missing:
        raise MotionSourceError(path, f"not a {what} file: missing {missing} (has {sorted(map(str, mapping))})")


def array(value: Any, path: str | Path, name: str, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """``value`` as a float64 array, checked against ``shape`` (None = any size)."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MotionSourceError(path, f"{name} is not numeric") from None
    if shape is not None and (out.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, out.shape))):
        expected = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise MotionSourceError(path, f"{name} has shape {out.shape}; expected {expected}")
    return out
