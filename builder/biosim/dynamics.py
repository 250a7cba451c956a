"""The dynamics half of BioSim for one sequence: GRF -> ID -> SO -> quality filter -> smoothing.

Reads ``scaled.osim``, ``ik.mot`` and ``ik_report.json`` from the sequence folder
(:mod:`builder.layout`) and writes ``grf.mot``/``grf.xml``/``grf_contact.sto``, ``id.sto``, ``so_activations.sto``,
``activations.sto`` (kept sequences only) and, last, ``record.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from builder import layout
from builder.biosim.grf import make_estimator
from builder.biosim.inverse_dynamics import run_inverse_dynamics
from builder.biosim.postprocess import (
    QualityThresholds,
    SmoothingSettings,
    postprocess_file,
    quality_check,
)
from builder.biosim.record import SequenceRecord
from builder.biosim.static_optimization import ReserveSpec, run_static_optimization

log = logging.getLogger(__name__)

SOLVERS = ("fast", "opensim")


@dataclass(frozen=True)
class DynamicsSettings:
    """Everything that shapes the labels of a sequence (stored in its record)."""

    grf_estimator: str = "contact"
    grf_options: dict = field(default_factory=dict)
    cutoff_hz: float = 6.0              # coordinate low-pass of ID and SO
    solver: str = "fast"                # "fast" (batched, ours) or "opensim" (StaticOptimization)
    reserves: ReserveSpec = field(default_factory=ReserveSpec)
    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    smoothing: SmoothingSettings = field(default_factory=SmoothingSettings)

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown SO solver {self.solver!r}; expected one of {SOLVERS}")


def process_sequence(seq_dir: str | Path, settings: DynamicsSettings | None = None) -> SequenceRecord:
    """Run the dynamics stages of one sequence folder; always writes ``record.json`` unless killed."""
    seq_dir = Path(seq_dir)
    settings = settings or DynamicsSettings()
    record = SequenceRecord(sequence_id=seq_dir.name, settings=dataclasses.asdict(settings))
    model, ik = seq_dir / layout.SCALED_MODEL, seq_dir / layout.IK_MOT
    record.sources = {"model": layout.SCALED_MODEL, "coordinates": layout.IK_MOT, "ik_report": layout.IK_REPORT}
    (seq_dir / layout.ACTIVATIONS).unlink(missing_ok=True)  # a stale label must not survive a rerun
    try:
        record.marker_error = _marker_error(seq_dir / layout.IK_REPORT)
        started = time.perf_counter()
        grf = make_estimator(settings.grf_estimator, **settings.grf_options).estimate(model, ik)
        grf.write(seq_dir / layout.GRF_MOT, seq_dir / layout.GRF_XML, seq_dir / layout.GRF_CONTACT)
        record.timings_s["grf"] = time.perf_counter() - started
        record.grf = {**grf.diagnostics, "body_weight_N": grf.body_weight,
                      "peak_vertical_bw": float(grf.force[:, :, 1].sum(axis=1).max() / grf.body_weight)}
        started = time.perf_counter()
        id_result = run_inverse_dynamics(model, ik, seq_dir / layout.ID_STO, seq_dir / layout.GRF_XML,
                                         cutoff_hz=settings.cutoff_hz)
        record.timings_s["inverse_dynamics"] = time.perf_counter() - started
        record.residuals = id_result.residuals
        started = time.perf_counter()
        if settings.solver == "fast":
            from builder.biosim.fast_so import run_fast_static_optimization

            so = run_fast_static_optimization(model, ik, seq_dir / layout.ID_STO, seq_dir / layout.SO_ACTIVATIONS,
                                              cutoff_hz=settings.cutoff_hz, reserves=settings.reserves)
        else:
            so = run_static_optimization(model, ik, seq_dir / layout.GRF_XML, seq_dir / layout.SO_ACTIVATIONS,
                                         cutoff_hz=settings.cutoff_hz, reserves=settings.reserves)
        record.timings_s["static_optimization"] = time.perf_counter() - started
        violation = float(np.max(so.constraint_violation)) if len(so.constraint_violation) else float("nan")
        record.static_optimization = {
            "solver": settings.solver, "frames": len(so.table.time), "muscles": len(so.table.labels),
            "constraint_violation_max": violation,
            "reserve_abs_max": {k: float(v) for k, v in zip(so.reserves.labels, np.abs(so.reserves.data).max(axis=0))},
        }
        record.outputs = {k: getattr(layout, k)
                          for k in ("GRF_MOT", "GRF_XML", "GRF_CONTACT", "ID_STO", "SO_ACTIVATIONS")}
        record.reasons = quality_check(record.marker_error.get("max_max_m"), violation, settings.thresholds)
        if record.reasons:
            record.status = "dropped"
        else:
            postprocess_file(seq_dir / layout.SO_ACTIVATIONS, seq_dir / layout.ACTIVATIONS, settings.smoothing)
            record.outputs["ACTIVATIONS"] = layout.ACTIVATIONS
            record.status = "kept"
    except Exception as exc:  # noqa: BLE001 - one bad sequence must not stop the rest: record why, go on
        record.status = "failed"
        record.error = f"{type(exc).__name__}: {exc}"
        log.warning("%s failed: %s", seq_dir.name, record.error)
        log.debug("%s", traceback.format_exc())
    record.write(seq_dir / layout.RECORD)
    return record


def _marker_error(report_path: Path) -> dict:
    """The IK report's summary figures (``max_max_m`` drives the quality filter)."""
    if not report_path.is_file():
        raise ValueError(f"{report_path}: IK report missing (run IK first)")
    try:
        report = json.loads(report_path.read_text())
    except ValueError as exc:
        raise ValueError(f"{report_path}: unreadable IK report ({exc})") from exc
    return {k: report[k] for k in ("rms_mean_m", "rms_max_m", "max_max_m") if k in report}
