"""Inverse kinematics: OpenSim InverseKinematicsTool on a .trc, with per-frame marker errors."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from builder.biosim.opensim_model import opensim
from builder.biosim.scale import trc_marker_names

logger = logging.getLogger(__name__)


def _read_marker_errors(path: Path) -> dict[str, np.ndarray]:
    osim = opensim()
    table = osim.TimeSeriesTable(str(path))
    labels = list(table.getColumnLabels())
    data = table.getMatrix().to_numpy()
    return {"time": np.asarray(table.getIndependentColumn()),
            "rms": data[:, labels.index("marker_error_RMS")], "max": data[:, labels.index("marker_error_max")]}


def run_ik(model_path: str | os.PathLike, trc_path: str | os.PathLike, out_mot: str | os.PathLike,
           marker_weights: dict[str, float] | None = None, *, time_range: tuple[float, float] | None = None,
           accuracy: float = 1e-5) -> dict:
    """Solve IK for every frame of ``trc_path`` (or ``time_range``, s); write coordinates to ``out_mot``.

    Markers on both the model and the file are tracked, with ``marker_weights`` (default 1 each).
    Returns a JSON-serialisable report: ``frames``, ``markers`` (tracked names), per-frame ``time``,
    ``rms_m`` and ``max_m`` marker errors, their summaries ``rms_mean_m``, ``rms_max_m``, ``max_max_m``,
    ``seconds`` and ``ms_per_frame``. The .mot file is written atomically (rotations in degrees).
    """
    osim = opensim()
    model_path, trc_path, out_mot = Path(model_path).resolve(), Path(trc_path).resolve(), Path(out_mot).resolve()
    if not model_path.is_file():
        raise ValueError(f"{model_path}: model file not found")
    model = osim.Model(str(model_path))
    model_markers = {model.getMarkerSet().get(i).getName() for i in range(model.getMarkerSet().getSize())}
    tracked = sorted(model_markers & set(trc_marker_names(trc_path)))
    if len(tracked) < 3:
        raise ValueError(f"{trc_path}: only {len(tracked)} of its markers are on the model {model_path.name}")
    weights = marker_weights or {}
    unknown = set(weights) - model_markers
    if unknown:
        raise ValueError(f"marker_weights name markers that {model_path.name} lacks: {sorted(unknown)[:5]}")

    tool = osim.InverseKinematicsTool()
    tool.setName(out_mot.stem)
    tool.setModel(model)
    tool.setMarkerDataFileName(str(trc_path))
    tool.set_accuracy(accuracy)
    tool.set_report_errors(True)
    for name in tracked:
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setWeight(float(weights.get(name, 1.0)))
        tool.getIKTaskSet().cloneAndAppend(task)
    if time_range is None:
        times = np.asarray(osim.TimeSeriesTableVec3(str(trc_path)).getIndependentColumn())
        time_range = (float(times[0]), float(times[-1]))
    tool.setStartTime(float(time_range[0]))
    tool.setEndTime(float(time_range[1]))

    out_mot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_mot.parent, prefix=".ik.") as work:
        tmp_mot = Path(work) / out_mot.name
        tool.setResultsDir(work)  # the tool writes its error report here but does not create the folder
        tool.setOutputMotionFileName(str(tmp_mot))
        start = time.perf_counter()
        if not tool.run() or not tmp_mot.is_file():
            raise RuntimeError(f"OpenSim IK failed on {trc_path} with {model_path}")
        seconds = time.perf_counter() - start
        errors = _read_marker_errors(Path(work) / f"{out_mot.stem}_ik_marker_errors.sto")
        os.replace(tmp_mot, out_mot)
    frames = len(errors["time"])
    report = {
        "model": str(model_path), "trc": str(trc_path), "mot": str(out_mot), "frames": frames, "markers": tracked,
        "time": errors["time"].tolist(), "rms_m": errors["rms"].tolist(), "max_m": errors["max"].tolist(),
        "rms_mean_m": float(np.mean(errors["rms"])), "rms_max_m": float(np.max(errors["rms"])),
        "max_max_m": float(np.max(errors["max"])), "seconds": seconds,
        "ms_per_frame": 1000.0 * seconds / max(frames, 1),
    }
    logger.info("IK %s: %d frames, RMS marker error mean %.1f mm (worst frame %.1f mm), %.1f ms/frame",
                trc_path.name, frames, 1000 * report["rms_mean_m"], 1000 * report["rms_max_m"], report["ms_per_frame"])
    return report
