"""Smoothing of static-optimization activations (paper supplementary A) and its settings.

Two methods (:class:`SmoothingSettings`):

* ``"sequence"`` (default): smoothness inside the optimisation. The fast solver solves the whole
  sequence as one problem with a penalty ``(tau / dt) ** 2`` on activation changes between frames
  (``smoothness_s`` = tau), every frame still meeting its ID generalized forces exactly
  (:func:`builder.biosim.fast_so.run_fast_static_optimization`). The default tau = 40 ms is the
  deactivation time constant of muscle (Thelen 2003, J Biomech Eng 125:70): activations are not
  asked to be smoother than muscle can be. On the embedded walk it cuts the activations'
  frame-to-frame roughness (RMS second difference / RMS) by a third (1.11 -> 0.75) while the
  published activations reproduce the ID moments as well as raw SO does (10.5 % vs 10.6 %, leg +
  lumbar coordinates). Stronger smoothing (tau = 0.1 s: roughness 0.51) meets the frame-to-frame
  jumps of the estimated ID moments with co-contraction (tibialis anterior at 0.16 in mid-stance,
  raw SO 0.02), so it is not the default.
* ``"savgol"``: the paper's post-hoc filter. Savitzky-Golay on every activation column
  (``scipy.signal.savgol_filter``), window ``11/30 s`` (the paper's 11 frames at 30 fps, converted to
  frames at the sequence's rate, rounded to odd), polynomial order 2, then clip to [0, 1]. Smoother
  (roughness 0.21 vs 1.11 raw) but the filtered activations leave 70 % of the same walk's ID moments
  unexplained (23 % on the real Rajagopal walk): the filter ignores the dynamics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter

from builder.biosim.storage import StorageTable, read_storage, write_storage

SMOOTHING_METHODS = ("sequence", "savgol")


@dataclass(frozen=True)
class SmoothingSettings:
    method: str = "sequence"
    smoothness_s: float = 0.04           # "sequence": time constant tau of the activation-change penalty
    window_seconds: float = 11.0 / 30.0  # "savgol" (also computed for comparison in the audit)
    order: int = 2

    def __post_init__(self) -> None:
        if self.method not in SMOOTHING_METHODS:
            raise ValueError(f"unknown smoothing method {self.method!r}; expected one of {SMOOTHING_METHODS}")

    def window_frames(self, fps: float, n_frames: int) -> int:
        """Odd window length in frames for ``fps``, shortened to fit ``n_frames``; 0 = no smoothing."""
        window = round(self.window_seconds * fps)
        window = min(window, n_frames)
        if window % 2 == 0:
            window -= 1
        return window if window > self.order else 0


def smooth_activations(table: StorageTable, settings: SmoothingSettings = SmoothingSettings()) -> StorageTable:
    """Savitzky-Golay smoothing of every column, then clip to [0, 1]; header and time kept."""
    n = len(table.time)
    fps = 1.0 / float(np.median(np.diff(table.time))) if n > 1 else 1.0
    window = settings.window_frames(fps, n)
    data = savgol_filter(table.data, window, settings.order, axis=0, mode="interp") if window else table.data
    return StorageTable(table.time, list(table.labels), np.clip(data, 0.0, 1.0), table.name, table.in_degrees,
                        list(table.header_lines) + [f"savgol_window={window}", f"savgol_order={settings.order}"])


def postprocess_file(so_path: str | os.PathLike, out_path: str | os.PathLike,
                     settings: SmoothingSettings = SmoothingSettings()) -> StorageTable:
    """Smooth and clip the activations of ``so_path`` into ``out_path`` (atomic)."""
    table = smooth_activations(read_storage(so_path), settings)
    write_storage(out_path, table)
    return table
