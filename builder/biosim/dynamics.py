"""The dynamics half of BioSim for one sequence: GRF -> ID -> SO (smoothed) -> audit -> frame mask.

Reads ``scaled.osim``, ``ik.mot`` and ``ik_report.json`` from the sequence folder
(:mod:`builder.layout`) and writes ``grf.mot``/``grf.xml``/``grf_contact.sto`` (per-frame contacts and
residual), ``id.sto``, ``so_activations.sto`` (raw,
frame-wise SO), ``validity.sto`` (per-frame validity figures and the ``valid`` mask,
:mod:`builder.biosim.validity`), ``activations.sto`` (the published label; kept sequences only) and,
last, ``record.json`` (its ``validity`` entry summarises the audit).
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

from biohuman10m.errors import InputError, MissingInputError
from builder import layout
from builder.biosim.grf import make_estimator
from builder.biosim.inverse_dynamics import generalized_force_label, run_inverse_dynamics
from builder.biosim.opensim_model import load_model
from builder.biosim.postprocess import SmoothingSettings, smooth_activations
from builder.biosim.record import SequenceRecord, as_stored, describe_error, stage_error
from builder.biosim.root_reduction import reduce_root_residuals
from builder.biosim.static_optimization import ReserveSpec, run_static_optimization
from builder.biosim.storage import StorageTable, read_storage, write_storage
from builder.biosim.validity import ValidityThresholds, audit_sequence, drop_reasons
from builder.io import sha256_of
from builder.sources.plausibility import frame_rate_problem, root_speed_problem

log = logging.getLogger(__name__)

SOLVERS = ("fast", "opensim")
INFEASIBLE_N_M = 1e-2
"""SO constraint violation (N m) above which a frame counts as infeasible: the solvers reach 1e-14 to
1e-4 on frames they solve, frames the bounded actuators cannot meet miss by 0.1 N m and more."""


@dataclass(frozen=True)
class DynamicsSettings:
    """Everything that shapes the labels of a sequence (stored in its record)."""

    grf_estimator: str = "contact"
    grf_options: dict = field(default_factory=dict)
    cutoff_hz: float = 6.0              # coordinate low-pass of ID and SO
    root_reduction: bool = True         # shift the pelvis (<= 5 cm) so a floor explains the motion (root_reduction.py)
    solver: str = "fast"                # "fast" (batched, ours) or "opensim" (StaticOptimization)
    reserves: ReserveSpec = field(default_factory=ReserveSpec)
    tendon_compliance: bool = True      # fast SO: muscle forces with compliant tendons (compliant_active_force)
    thresholds: ValidityThresholds = field(default_factory=ValidityThresholds)
    smoothing: SmoothingSettings = field(default_factory=SmoothingSettings)

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown SO solver {self.solver!r}; expected one of {SOLVERS}")
        if self.solver == "opensim" and self.tendon_compliance:
            raise ValueError("OpenSim's StaticOptimization uses rigid tendons; tendon compliance needs the fast "
                             "solver (or set tendon_compliance=False)")
        if self.solver == "opensim" and self.smoothing.method == "sequence":
            raise ValueError("smoothing inside the optimisation needs the fast solver; "
                             "use the savgol smoothing method with the OpenSim solver")


def changed_settings(record: SequenceRecord, settings: DynamicsSettings) -> list[str]:
    """The settings (dotted names for nested ones) in which ``record`` was made differently from ``settings``.

    Empty when the record was made with ``settings``, or holds no settings (the record of a worker that
    crashed: such sequences rerun on request, ``retry_failed``). The dynamics resume reruns a sequence
    whose list is not empty.
    """
    if not record.settings:
        return []
    old, new = _flat(record.settings), _flat(as_stored(dataclasses.asdict(settings)))
    return sorted(name for name in {*old, *new} if old.get(name) != new.get(name))


def _flat(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        flat.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


ROOT_TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")
"""The IK coordinates of the root's position (metres)."""


def check_build_folder(out_dir: str | Path) -> None:
    """:class:`MissingInputError` unless ``<out_dir>/sequences`` holds a sequence with IK results."""
    root = Path(out_dir) / "sequences"
    if not root.is_dir():
        raise MissingInputError(out_dir, "no 'sequences' folder; run `biohuman kinematics -o` into it first")
    if not any((folder / layout.IK_MOT).is_file() for folder in root.iterdir()):
        raise MissingInputError(root, f"no sequence has IK results ({layout.IK_MOT}); run `biohuman kinematics` first")


def check_ik_motion(ik_path: Path) -> None:
    """:class:`InputError` naming ``ik_path`` unless its frame rate and root speed are a human's."""
    table = read_storage(ik_path)
    if len(table.time) < 2:
        return
    fps = 1.0 / float(np.median(np.diff(table.time)))
    problem = frame_rate_problem(fps) or root_speed_problem(table.columns(list(ROOT_TRANSLATIONS)), fps)
    if problem:
        raise InputError(ik_path, problem)


def process_sequence(seq_dir: str | Path, settings: DynamicsSettings | None = None) -> SequenceRecord:
    """Run the dynamics stages of one sequence folder; always writes ``record.json`` unless killed."""
    seq_dir = Path(seq_dir)
    settings = settings or DynamicsSettings()
    record = SequenceRecord(sequence_id=seq_dir.name, settings=dataclasses.asdict(settings))
    model, ik = seq_dir / layout.SCALED_MODEL, seq_dir / layout.IK_MOT
    record.sources = {"model": layout.SCALED_MODEL, "coordinates": layout.IK_MOT, "ik_report": layout.IK_REPORT}
    # a stale label, mask or reduced motion must not survive a rerun
    for stale in (layout.ACTIVATIONS, layout.VALIDITY, layout.IK_REDUCED):
        (seq_dir / stale).unlink(missing_ok=True)
    try:
        record.marker_error = _marker_error(seq_dir / layout.IK_REPORT)
        check_ik_motion(ik)
        started = time.perf_counter()
        estimator = make_estimator(settings.grf_estimator, **settings.grf_options)
        reduction = None
        if settings.root_reduction:
            reduction = reduce_root_residuals(model, ik, seq_dir / layout.IK_REDUCED, estimator, settings.cutoff_hz)
            ik = seq_dir / layout.IK_REDUCED if reduction["applied"] else ik
        grf = estimator.estimate(model, ik)
        grf.write(seq_dir / layout.GRF_MOT, seq_dir / layout.GRF_XML, seq_dir / layout.GRF_CONTACT)
        record.timings_s["grf"] = time.perf_counter() - started
        record.grf = {**grf.diagnostics, "body_weight_N": grf.body_weight,
                      "peak_vertical_bw": float(grf.force[:, :, 1].sum(axis=1).max() / grf.body_weight),
                      "root_reduction": reduction}
        started = time.perf_counter()
        id_result = run_inverse_dynamics(model, ik, seq_dir / layout.ID_STO, seq_dir / layout.GRF_XML,
                                         cutoff_hz=settings.cutoff_hz)
        record.timings_s["inverse_dynamics"] = time.perf_counter() - started
        record.residuals = id_result.residuals
        started = time.perf_counter()
        from builder.biosim.fast_so import muscle_geometry, run_fast_static_optimization

        smoothness = settings.smoothing.smoothness_s if settings.smoothing.method == "sequence" else 0.0
        if settings.solver == "fast":
            so = run_fast_static_optimization(model, ik, seq_dir / layout.ID_STO, seq_dir / layout.SO_ACTIVATIONS,
                                              cutoff_hz=settings.cutoff_hz, reserves=settings.reserves,
                                              smoothness_s=smoothness, tendon_compliance=settings.tendon_compliance)
            geometry, moments = so.geometry, so.moments.data
        else:
            so = run_static_optimization(model, ik, seq_dir / layout.GRF_XML, seq_dir / layout.SO_ACTIVATIONS,
                                         cutoff_hz=settings.cutoff_hz, reserves=settings.reserves)
            geometry = muscle_geometry(load_model(model), ik, so.table.time, settings.cutoff_hz)
            moments = _id_moments(model, seq_dir / layout.ID_STO, geometry)
        record.timings_s["static_optimization"] = time.perf_counter() - started
        violation = float(np.max(so.constraint_violation)) if len(so.constraint_violation) else float("nan")
        record.static_optimization = {
            "solver": settings.solver, "frames": len(so.table.time), "muscles": len(so.table.labels),
            "constraint_violation_max": violation,
            "infeasible_frames": int(np.sum(so.constraint_violation > INFEASIBLE_N_M)),
            "tendon_compliance": settings.tendon_compliance,
            "rigid_tendon_frames": int(np.sum(so.rigid_tendon_frames)) if so.rigid_tendon_frames is not None else 0,
            "reserve_abs_max": {k: float(v) for k, v in zip(so.reserves.labels, np.abs(so.reserves.data).max(axis=0))},
        }
        savgol = smooth_activations(so.table, settings.smoothing)
        raw_if_single_frame = so.smoothed if so.smoothed is not None else so.table
        published = raw_if_single_frame if settings.smoothing.method == "sequence" else savgol
        audit = _audit(seq_dir, model, so.table, published, savgol, geometry, moments, id_result.table,
                       settings.thresholds)
        write_storage(seq_dir / layout.VALIDITY, audit.frames)
        record.validity = audit.summary
        record.outputs = {k: getattr(layout, k)
                          for k in ("GRF_MOT", "GRF_XML", "GRF_CONTACT", "ID_STO", "SO_ACTIVATIONS", "VALIDITY")}
        if reduction and reduction["applied"]:
            record.outputs["IK_REDUCED"] = layout.IK_REDUCED
        record.reasons = drop_reasons(audit.summary, settings.thresholds)
        if record.reasons:
            record.status = "dropped"
        else:
            write_storage(seq_dir / layout.ACTIVATIONS, published)
            record.outputs["ACTIVATIONS"] = layout.ACTIVATIONS
            record.status = "kept"
    except Exception as exc:  # noqa: BLE001 - one bad sequence must not stop the rest: record why, go on
        record.status = "failed"
        record.error = stage_error("dynamics", exc)
        log.warning("%s failed: %s", seq_dir.name, describe_error(record.error))
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


def _id_moments(model_path: Path, id_path: Path, geometry) -> np.ndarray:
    """ID generalized forces (T, dofs) of ``geometry``'s free coordinates, coupled coordinates folded in."""
    model = load_model(model_path)
    table = read_storage(id_path)
    coords = model.getCoordinateSet()
    names = [coords.get(i).getName() for i in range(coords.getSize())]
    rows = np.searchsorted(table.time, geometry.time - 1e-9)
    tau = np.stack([table.column(generalized_force_label(model, n))[rows]
                    if generalized_force_label(model, n) in table.labels else np.zeros(len(rows)) for n in names], 1)
    return np.einsum("tdc,tc->td", geometry.coupling, tau)


def audit_folder(seq_dir: str | Path, settings: DynamicsSettings | None = None):
    """The validity audit (:class:`~builder.biosim.validity.SequenceAudit`) of a sequence folder that the
    dynamics stage already ran, from its files alone (e.g. one built by an older version): raw SO from
    ``so_activations.sto``, the label from ``activations.sto`` (raw SO where absent), muscle geometry
    recomputed from ``scaled.osim`` and the motion dynamics used (``ik_reduced.mot`` where the root reduction
    wrote one, else ``ik.mot``; with compliant tendons at the raw activations when ``settings.tendon_compliance``).
    Writes nothing."""
    from builder.biosim.fast_so import compliant_active_force, muscle_geometry

    seq_dir, settings = Path(seq_dir), settings or DynamicsSettings()
    model = seq_dir / layout.SCALED_MODEL
    raw = read_storage(seq_dir / layout.SO_ACTIVATIONS)
    published = read_storage(seq_dir / layout.ACTIVATIONS) if (seq_dir / layout.ACTIVATIONS).is_file() else raw
    geometry = muscle_geometry(load_model(model), layout.dynamics_coordinates(seq_dir), raw.time, settings.cutoff_hz)
    if settings.tendon_compliance:
        geometry.active_force, _ = compliant_active_force(model, geometry.states, raw.data, geometry.active_force)
    moments = _id_moments(model, seq_dir / layout.ID_STO, geometry)
    return _audit(seq_dir, model, raw, published, smooth_activations(raw, settings.smoothing), geometry, moments,
                  read_storage(seq_dir / layout.ID_STO), settings.thresholds)


def _audit(seq_dir: Path, model_path: Path, raw: StorageTable, published: StorageTable, savgol: StorageTable,
           geometry, moments: np.ndarray, id_table: StorageTable, thresholds: ValidityThresholds):
    """The validity audit of one sequence from its raw SO activations, ID table and IK report."""
    body = _model_body(model_path)
    f_max = np.array([body.max_isometric_force[name] for name in raw.labels])
    weight, height = body.weight_n, body.height_m
    rows = np.searchsorted(id_table.time, raw.time - 1e-9)
    pelvis = {axis: id_table.column(f"pelvis_t{axis}_force")[rows] for axis in "xyz"}
    residual_force = np.linalg.norm(np.stack(list(pelvis.values()), 1), axis=1) / weight
    rotations = [id_table.column(f"pelvis_{name}_moment")[rows] for name in ("tilt", "list", "rotation")]
    residual_moment = np.linalg.norm(np.stack(rotations, 1), axis=1) / (weight * height)
    report = json.loads((seq_dir / layout.IK_REPORT).read_text())
    marker_max = np.asarray(report.get("max_m") or [report["max_max_m"]] * len(rows), float)
    ik_times = np.asarray(report.get("time") or np.linspace(raw.time[0], raw.time[-1], len(marker_max)))
    marker_max = marker_max[np.abs(ik_times[None, :] - raw.time[:, None]).argmin(axis=1)]
    return audit_sequence(raw.time, geometry.dofs, moments, geometry.moment_arms, geometry.active_force, f_max,
                          raw.data, published.data, savgol.data, marker_max, residual_force, residual_moment,
                          thresholds)


@dataclass(frozen=True)
class _ModelBody:
    """What the audit needs of a scaled model: muscle strengths (N), body weight (N), standing height (m)."""

    max_isometric_force: dict[str, float]
    weight_n: float
    height_m: float


_MODEL_BODIES: dict[str, _ModelBody] = {}
"""By the model file's sha256: a subject's sequences share one scaled model (loading it costs ~0.1 s)."""


def _model_body(model_path: Path) -> _ModelBody:
    """The :class:`_ModelBody` of a model file (cached by content, so an edited file is read again)."""
    key = sha256_of(model_path)
    if key not in _MODEL_BODIES:
        from builder.biosim.scale import model_stature

        model = load_model(model_path)
        muscles = model.getMuscles()
        weight = model.getTotalMass(model.getWorkingState()) * float(np.linalg.norm(model.getGravity().to_numpy()))
        height = model_stature(model) if model.getMarkerSet().contains("head_top") else 1.7
        while len(_MODEL_BODIES) >= 16:   # a worker's recent subjects
            _MODEL_BODIES.pop(next(iter(_MODEL_BODIES)))
        _MODEL_BODIES[key] = _ModelBody({muscles.get(i).getName(): muscles.get(i).getMaxIsometricForce()
                                         for i in range(muscles.getSize())}, weight, height)
    return _MODEL_BODIES[key]
