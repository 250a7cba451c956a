"""Read and write OpenSim storage files (.mot/.sto, ``version=1`` text format) as numpy tables.

OpenSim's own ``TimeSeriesTable``/``STOFileAdapter`` read these too, but rewrite the header
(metadata becomes ``key=value`` lines, free-text lines are lost) and need an OpenSim import for
what is a plain text table. This module keeps the header lines verbatim, so a post-processed file
(smoothed activations) has the same header as the tool's output, and OpenSim reads what it writes.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from builder.io import write_text_atomic


@dataclass
class StorageTable:
    """A time-indexed table: ``data[:, j]`` is column ``labels[j]`` (time excluded)."""

    time: np.ndarray
    labels: list[str]
    data: np.ndarray
    name: str = "table"
    in_degrees: bool = False
    header_lines: list[str] = field(default_factory=list)  # extra free-text header lines

    def __post_init__(self) -> None:
        self.time = np.asarray(self.time, dtype=np.float64).reshape(-1)
        self.data = np.asarray(self.data, dtype=np.float64).reshape(len(self.time), -1)
        if self.data.shape[1] != len(self.labels):
            raise ValueError(f"{self.name}: {self.data.shape[1]} data columns for {len(self.labels)} labels")

    def column(self, label: str) -> np.ndarray:
        """One column by label (KeyError naming the table when absent)."""
        try:
            return self.data[:, self.labels.index(label)]
        except ValueError:
            raise KeyError(f"{self.name}: no column {label!r}") from None

    def columns(self, labels: list[str]) -> np.ndarray:
        """Several columns by label, as a (T, len(labels)) array."""
        return np.stack([self.column(label) for label in labels], axis=1)

    def slice_time(self, start: float, stop: float) -> StorageTable:
        """Rows with ``start <= time <= stop`` (a new table)."""
        keep = (self.time >= start - 1e-6) & (self.time <= stop + 1e-6)  # times are printed rounded
        return StorageTable(self.time[keep], list(self.labels), self.data[keep], self.name,
                            self.in_degrees, list(self.header_lines))


def read_storage(path: str | os.PathLike) -> StorageTable:
    """Read an OpenSim .mot/.sto file; ValueError naming the file when it is malformed."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read storage file ({exc})") from exc
    try:
        end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    except StopIteration:
        raise ValueError(f"{path}: not an OpenSim storage file (no 'endheader' line)") from None
    header = lines[:end]
    name = header[0].strip() if header and "=" not in header[0] else path.stem
    in_degrees = any(h.replace(" ", "").lower() == "indegrees=yes" for h in header)
    extra = [h for h in header[1:] if h.split("=")[0].strip() not in ("version", "nRows", "nColumns",
                                                                      "inDegrees", "DataType")]
    labels = lines[end + 1].split("\t") if end + 1 < len(lines) else []
    labels = [label.strip() for label in labels if label.strip()]
    if not labels or labels[0].lower() != "time":
        raise ValueError(f"{path}: first column must be 'time', got {labels[:1]}")
    body = "\n".join(lines[end + 2:])
    try:
        values = np.loadtxt(io.StringIO(body), ndmin=2) if body.strip() else np.zeros((0, len(labels)))
    except ValueError as exc:
        raise ValueError(f"{path}: malformed data rows ({exc})") from exc
    if values.shape[1] != len(labels):
        raise ValueError(f"{path}: {values.shape[1]} values per row for {len(labels)} column labels")
    return StorageTable(values[:, 0], labels[1:], values[:, 1:], name, in_degrees, extra)


def format_storage(table: StorageTable) -> str:
    """The text of ``table`` in OpenSim's ``version=1`` storage format."""
    out = io.StringIO()
    out.write(f"{table.name}\nversion=1\nnRows={len(table.time)}\nnColumns={len(table.labels) + 1}\n")
    out.write(f"inDegrees={'yes' if table.in_degrees else 'no'}\n")
    for line in table.header_lines:
        out.write(line + "\n")
    out.write("endheader\n")
    out.write("\t".join(["time", *table.labels]) + "\n")
    np.savetxt(out, np.column_stack([table.time, table.data]), fmt="%.10g", delimiter="\t")
    return out.getvalue()


def write_storage(path: str | os.PathLike, table: StorageTable) -> None:
    """Write ``table`` to ``path`` atomically (NaN/inf refused: OpenSim cannot use them)."""
    if not np.all(np.isfinite(table.data)) or not np.all(np.isfinite(table.time)):
        raise ValueError(f"{path}: refusing to write non-finite values in {table.name}")
    write_text_atomic(path, format_storage(table))
