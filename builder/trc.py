"""OpenSim marker trajectory files (.trc, ``PathFileType 4``): write and read.

Layout: a file-name line, a metadata header (DataRate, NumFrames, NumMarkers, Units...), the
marker-name row (each name over its X/Y/Z columns), the X1/Y1/Z1 row, a blank line, then one
row per frame: frame number, time, and x y z per marker. Missing values are written empty.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.io import write_text_atomic

UNIT_SCALE = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}


@dataclass
class MarkerTrajectories:
    """Marker positions ``data`` (T, N, 3) in metres at ``times`` (T,), markers named ``names``."""

    times: np.ndarray
    names: list[str]
    data: np.ndarray

    @property
    def rate(self) -> float:
        """Frame rate (Hz) from the time stamps."""
        return float((len(self.times) - 1) / (self.times[-1] - self.times[0])) if len(self.times) > 1 else 0.0


def format_trc(markers: MarkerTrajectories, file_name: str, units: str = "m", rate: float | None = None) -> str:
    """The .trc text of ``markers`` written in ``units`` (``m`` or ``mm``)."""
    if units not in UNIT_SCALE:
        raise ValueError(f"{file_name}: unsupported units {units!r}; use one of {tuple(UNIT_SCALE)}")
    data = np.asarray(markers.data, dtype=np.float64) / UNIT_SCALE[units]
    times = np.asarray(markers.times, dtype=np.float64)
    if data.shape != (len(times), len(markers.names), 3):
        raise ValueError(f"{file_name}: marker data {data.shape} does not match "
                         f"{len(times)} frames x {len(markers.names)} markers x 3")
    rate = rate or markers.rate or 1.0
    n_frames, n_markers = len(times), len(markers.names)
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{file_name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate:.6g}\t{rate:.6g}\t{n_frames}\t{n_markers}\t{units}\t{rate:.6g}\t1\t{n_frames}",
        "Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in markers.names).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, n_markers + 1)),
        "",
    ]
    flat = data.reshape(n_frames, -1)
    for i in range(n_frames):
        values = "\t".join("" if np.isnan(v) else f"{v:.6f}" for v in flat[i])
        lines.append(f"{i + 1}\t{times[i]:.9f}\t{values}")
    return "\n".join(lines) + "\n"


def write_trc(path: str | os.PathLike, markers: MarkerTrajectories, units: str = "m",
              rate: float | None = None) -> None:
    """Write ``markers`` to ``path`` as an OpenSim .trc file, atomically."""
    write_text_atomic(path, format_trc(markers, Path(path).name, units=units, rate=rate))


def read_trc(path: str | os.PathLike) -> MarkerTrajectories:
    """Read a .trc file; positions are returned in metres whatever the file's units."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: marker file not found") from None
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise ValueError(f"{path}: not a .trc marker file (no 'PathFileType' header)")
    meta = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    units = meta.get("Units", "m").strip()
    if units not in UNIT_SCALE:
        raise ValueError(f"{path}: unsupported units {units!r}")
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    rows = [line.split("\t") for line in lines[5:] if line.strip()]
    width = 2 + 3 * len(names)
    try:
        table = np.array([[float(v) if v.strip() else np.nan for v in (row + [""] * width)[:width]] for row in rows])
    except ValueError as err:
        raise ValueError(f"{path}: unreadable marker row ({err})") from None
    if len(table) != int(meta.get("NumFrames", len(table))):
        raise ValueError(f"{path}: header says {meta.get('NumFrames')} frames, file has {len(table)} (truncated?)")
    table = table.reshape(len(rows), width)
    return MarkerTrajectories(times=table[:, 1], names=names,
                              data=table[:, 2:].reshape(len(rows), len(names), 3) * UNIT_SCALE[units])
