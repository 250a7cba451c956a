"""Open dataset files (.npz, .npy, pickles) with errors that name the file and the problem.

Nothing a user downloaded is unpickled unless asked: ``.npz`` files are read with
``allow_pickle=False`` (an array of Python objects is refused, naming it), and the formats that are
pickles by nature (3DPW, EMDB, Human3.6M MoSh fits, MotionPRO's ``smpl.npy``) are read only with
``allow_pickle=True`` (``--allow-pickle`` on the command line). Even then the unpickler rebuilds only
plain containers and numpy arrays: a pickle that names any other Python object (a function to
call, a class to build) is refused before that object is touched. Which format a pickle holds is
decided from the names it contains, read with :mod:`pickletools` without running it.
"""

from __future__ import annotations

import pickle
import pickletools
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import MotionSourceError

PICKLE_OPT_IN = ("loading a pickle can run code, so BioHuman reads one only when asked: pass --allow-pickle "
                 "(allow_pickle=True in Python) for files from the dataset's official release")
"""The problem stated for a pickle read without the opt-in."""

SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    *((module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_reconstruct", "scalar")),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("collections", "OrderedDict"),
    *((module, name) for module in ("builtins", "__builtin__") for name in ("set", "frozenset", "slice", "complex")),
})
"""The only Python objects an allowed pickle may name: what numpy arrays and plain containers need."""

_STRING_OPCODES = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
                             "BINUNICODE8"})


class _DatasetUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain containers and numpy arrays only (see :data:`SAFE_GLOBALS`)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not a numpy array or a plain container "
                                         "(refused: a dataset pickle holds only arrays, numbers and strings)")
        return super().find_class(module, name)


def _unpickle(handle: BinaryIO) -> Any:
    return _DatasetUnpickler(handle, encoding="latin1").load()


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file, read without unpickling (an array of Python objects is an error)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                except ValueError as error:
                    if "allow_pickle" not in str(error):
                        raise
                    raise MotionSourceError(path, f"array {key!r} holds Python objects (a pickle), which BioHuman "
                                            "does not load from .npz files; store strings as unicode arrays "
                                            "(np.str_) and numbers as numeric arrays") from None
            return arrays
    except MotionSourceError:
        raise
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
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


def pickle_strings(path: str | Path) -> set[str]:
    """The strings a pickle file contains (dictionary keys among them), read without running the pickle."""
    path = Path(path)
    try:
        data = path.read_bytes()
        return {str(arg) for opcode, arg, _ in pickletools.genops(data) if opcode.name in _STRING_OPCODES}
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise MotionSourceError(path, f"truncated or corrupt pickle ({type(error).__name__}: {error})") from None


def load_pickle(path: str | Path, allow_pickle: bool = False, what: str = "dataset") -> Any:
    """A pickled dataset file (only with ``allow_pickle``); Python 2 pickles (3DPW, MoSh) are decoded as latin-1."""
    path = Path(path)
    if not allow_pickle:
        raise MotionSourceError(path, f"is a {what} pickle; {PICKLE_OPT_IN}")
    try:
        with path.open("rb") as handle:
            return _unpickle(handle)
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError, ImportError, IndexError) as error:
        raise MotionSourceError(path, f"truncated or corrupt pickle ({type(error).__name__}: {error})") from None


def load_npy_object(path: str | Path, allow_pickle: bool = False, what: str = "dataset") -> Any:
    """The object stored in a pickled .npy (``np.save`` of a dict), only with ``allow_pickle``."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            _, _, dtype = header(handle)
            if not dtype.hasobject:
                raise MotionSourceError(path, f"holds a {dtype} array, not the pickled dictionary of a {what} file")
            if not allow_pickle:
                raise MotionSourceError(path, f"is a {what} pickle (an .npy of Python objects); {PICKLE_OPT_IN}")
            return np.asarray(_unpickle(handle)).item()
    except MotionSourceError:
        raise
    except FileNotFoundError:
        raise MotionSourceError(path, "file not found") from None
    except (EOFError, OSError, ValueError, pickle.UnpicklingError, AttributeError, ImportError) as error:
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
    if shape is not None and (out.ndim != len(shape)
                              or any(s is not None and s != n for s, n in zip(shape, out.shape))):
        expected = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise MotionSourceError(path, f"{name} has shape {out.shape}; expected {expected}")
    return out
