"""Post-processing of static-optimization activations (paper supplementary A).

* Quality filter: a sequence is dropped when its largest IK marker error exceeds
  ``max_marker_error`` (default 0.15 m: the paper's value; a marker 15 cm off means the body was not
  tracked, while good fits of virtual markers sit at 1-3 cm) or its largest SO constraint violation
  exceeds ``max_constraint_violation`` (N m / N: the actuators miss the ID generalized forces by
  that much). The paper keeps <= 1e-11, but OpenSim 4.6's optimizer (convergence 1e-4) stops at
  1e-13 to 1e-4 on frames it solves here, while failed or infeasible frames sit at 0.1 to 1e3; the
  batched solver reaches 1e-14 to 1e-9. The default, 1e-2, is physically negligible and separates
  the two groups for both solvers.
* Smoothing: Savitzky-Golay on every activation column (``scipy.signal.savgol_filter``), default
  window ``11/30 s`` (the paper's 11 frames at 30 fps, converted to frames at the sequence's rate,
  rounded to odd) and polynomial order 2; then clip to [0, 1]. The .sto keeps SO's header and time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter

from builder.biosim.storage import StorageTable, read_storage, write_storage


@dataclass(frozen=True)
class QualityThresholds:
    max_marker_error: float = 0.15          # m, largest per-frame max marker error of IK
    max_constraint_violation: float = 1e-2  # N m, largest per-frame SO constraint violation


@dataclass(frozen=True)
class SmoothingSettings:
    window_seconds: float = 11.0 / 30.0
    order: int = 2

    def window_frames(self, fps: float, n_frames: int) -> int:
        """Odd window length in frames for ``fps``, shortened to fit ``n_frames``; 0 = no smoothing."""
        window = round(self.window_seconds * fps)
        window = min(window, n_frames)
        if window % 2 == 0:
            window -= 1
        return window if window > self.order else 0


def quality_check(marker_error_max: float | None, constraint_violation_max: float | None,
                  thresholds: QualityThresholds = QualityThresholds()) -> list[str]:
    """Reasons to drop a sequence (empty list = keep). A missing or NaN figure is a reason too."""
    reasons = []
    if marker_error_max is None or not np.isfinite(marker_error_max):
        reasons.append("IK marker error unknown")
    elif marker_error_max > thresholds.max_marker_error:
        reasons.append(f"IK max marker error {marker_error_max:.3f} m > {thresholds.max_marker_error} m")
    if constraint_violation_max is None or not np.isfinite(constraint_violation_max):
        reasons.append("SO constraint violation unknown")
    elif constraint_violation_max > thresholds.max_constraint_violation:
        reasons.append(f"SO constraint violation {constraint_violation_max:.3g} > "
                       f"{thresholds.max_constraint_violation:g}")
    return reasons


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
