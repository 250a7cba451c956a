"""Shared OpenSim plumbing of the dynamics stages: quiet logging, model loading, coordinate tables."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import numpy as np

from builder.biosim.storage import StorageTable, read_storage


@functools.cache
def opensim():
    """The ``opensim`` module, with its logger quiet (warnings only) and no ``opensim.log`` in the CWD."""
    import opensim as osim

    osim.Logger.setLevelString(os.environ.get("BIOHUMAN_OPENSIM_LOG", "error"))
    osim.Logger.removeFileSink()
    return osim


@contextlib.contextmanager
def quiet_stdout():
    """Silence C-level stdout (OpenSim tools print model summaries there) for the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def load_model(path: str | os.PathLike):
    """Load an .osim model and build its system; ValueError naming the file when that fails."""
    osim = opensim()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: model file not found")
    try:
        model = osim.Model(str(path))
        model.initSystem()
    except Exception as exc:  # OpenSim raises RuntimeError subclasses with its own message
        raise ValueError(f"{path}: OpenSim could not load the model ({exc})") from exc
    return model


def tool_inputs(model_path: str | os.PathLike, coordinates_path: str | os.PathLike, output_path: str | os.PathLike,
                time_range: tuple[float, float] | None):
    """Checked inputs of an OpenSim tool run: ``(model, model_path, coordinates_path, output_path, start, end)``.

    Paths come back absolute (tools resolve relative ones against their setup file's folder), the
    model loaded, the coordinates checked finite (ValueError naming the file), the time range
    defaulted to the whole file, and the output folder created.
    """
    model_path, coordinates_path = Path(model_path).resolve(), Path(coordinates_path).resolve()
    output_path = Path(output_path).resolve()
    model = load_model(model_path)
    coordinates = read_storage(coordinates_path)
    if not np.all(np.isfinite(coordinates.data)):
        raise ValueError(f"{coordinates_path}: non-finite coordinate values")
    start, end = time_range or (coordinates.time[0], coordinates.time[-1])
    output_path.parent.mkdir(parents=True, exist_ok=True)
    return model, model_path, coordinates_path, output_path, start, end


def read_coordinates(model, path: str | os.PathLike) -> tuple[StorageTable, np.ndarray]:
    """IK coordinates of ``model`` from a .mot file, rotations in radians: (table, q (T, n_coords)).

    Columns follow ``model.getCoordinateSet()`` order; a missing coordinate or any NaN/inf value
    is a ValueError naming the file.
    """
    table = read_storage(path)
    coords = model.getCoordinateSet()
    names = [coords.get(i).getName() for i in range(coords.getSize())]
    missing = [n for n in names if n not in table.labels]
    if missing:
        raise ValueError(f"{path}: coordinates missing from the file: {missing[:5]}")
    q = table.columns(names)
    bad = ~np.isfinite(q)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise ValueError(f"{path}: {bad.sum()} non-finite values (first at t={table.time[rows[0]]:.3f} s, "
                         f"coordinate {names[cols[0]]})")
    if len(table.time) < 4 or np.any(np.diff(table.time) <= 0):
        raise ValueError(f"{path}: needs at least 4 frames with increasing time")
    if table.in_degrees:
        rotational = [coords.get(i).getMotionType() == 1 for i in range(len(names))]  # 1 = Rotational
        q[:, rotational] = np.deg2rad(q[:, rotational])
    return table, q


def coordinate_names(model) -> list[str]:
    """Names of the model's coordinates in coordinate-set order."""
    coords = model.getCoordinateSet()
    return [coords.get(i).getName() for i in range(coords.getSize())]
