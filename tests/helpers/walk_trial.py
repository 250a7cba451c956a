"""The real walking trial of the Rajagopal2016 pipeline, prepared once per session for the dynamics tests.

Imported by tests/biosim/test_grf.py, test_dynamics.py, test_fast_so.py and test_runner.py; each step is
cached by ``functools.cache`` (keyed by the session's temp folder) so it runs once per session.
Subject mass: the trial's body weight is not given, so it is the mean measured vertical GRF over
the one step fully on the force plates (left heel strike to the next right heel strike) / g; the
generic model's segment masses are scaled to it (ScaleTool, mass distribution preserved) and its
markers placed on the static trial.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

from builder.biosim import reference_trials
from builder.biosim.reference_trials import GRAVITY, ReferenceTrial, trial_mass
from helpers.paths import RAJAGOPAL_MODEL, require_reference
from helpers.paths import RAJAGOPAL_PIPELINE as PIPELINE

MEASURED_GRF = PIPELINE / "ExpData" / "grf_walk.mot"
MEASURED_WINDOW = reference_trials.WALK_WINDOW


Walk = ReferenceTrial   # the dynamics tests' name for a prepared trial


def measured_events(threshold: float = 20.0) -> dict[str, list[tuple[float, float]]]:
    """Contact intervals of each foot on the walk's plates (vertical force above ``threshold`` N)."""
    from builder.biosim.grf_validation import read_force_plates

    return read_force_plates(MEASURED_GRF).contact_intervals(threshold)


def subject_mass() -> float:
    return trial_mass(MEASURED_GRF, treadmill=False)


@functools.cache
def prepare_walk(root: Path) -> Walk:
    """Marker placement + mass scaling of Rajagopal2016, then IK of the whole walking trial."""
    require_reference(PIPELINE)
    from builder.biosim.opensim_model import opensim, quiet_stdout

    osim = opensim()
    root.mkdir(parents=True, exist_ok=True)
    mass = subject_mass()
    def rel(path: Path) -> str:  # ScaleTool prefixes every path with the setup file's folder
        return os.path.relpath(path, root)

    setup = (PIPELINE / "Scale" / "scale_setup_walk.xml").read_text()
    setup = setup.replace("<model_file>subject_scaled_walk.osim</model_file>",
                          f"<model_file>{rel(RAJAGOPAL_MODEL)}</model_file>")
    setup = re.sub(r"<marker_set_file>.*?</marker_set_file>",
                   f"<marker_set_file>{rel(PIPELINE / 'Scale' / 'markerset_walk_preScale.xml')}"
                   "</marker_set_file>", setup)
    setup = setup.replace("<mass>0</mass>", f"<mass>{mass:.4f}</mass>")
    setup = setup.replace("../ExpData/static_walk_2.trc", rel(PIPELINE / "ExpData" / "static_walk_1.trc"))
    setup = setup.replace("<preserve_mass_distribution>false", "<preserve_mass_distribution>true")
    model = root / "subject_walk.osim"
    setup = setup.replace("<output_model_file>subject_scaled_walk.osim", f"<output_model_file>{model.name}")
    setup = setup.replace("<output_motion_file>scale_output_walk.mot", "<output_motion_file>scale.mot")
    setup = setup.replace("<output_marker_file>subject_scaled_walk_markerset.xml", "<output_marker_file>Unassigned")
    (root / "scale_setup.xml").write_text(setup)
    with quiet_stdout():
        osim.ScaleTool(str(root / "scale_setup.xml")).run()
    ik = root / "ik_walk.mot"
    tool = osim.InverseKinematicsTool(str(PIPELINE / "IK" / "ik_setup_walk.xml"))
    tool.set_model_file(str(model))
    tool.setMarkerDataFileName(str(PIPELINE / "ExpData" / "motion_capture_walk.trc"))
    tool.setOutputMotionFileName(str(ik))
    tool.setResultsDir(str(root))
    tool.set_report_errors(True)
    with quiet_stdout():
        tool.run()
    measured_xml = _measured_loads_xml(ik, root / "grf_measured.xml")
    return Walk(root, model, ik, measured_xml, mass, measured_events(), MEASURED_GRF, MEASURED_WINDOW)


def _measured_loads_xml(ik: Path, out: Path) -> Path:
    """The trial's ExternalLoads (plates -> calcn_r/calcn_l) pointing at its data and ``ik``."""
    loads = (PIPELINE / "ID" / "grf_walk.xml").read_text()
    out.write_text(loads.replace("../ExpData/grf_walk.mot", str(MEASURED_GRF)).replace(
        "../IK/results_walk/ik_output_walk.mot", str(ik)))
    return out


@functools.cache
def prepare_ulbs_trial(root: Path, trial: str = "walk") -> Walk:
    """``reference_trials.prepare_ulbs_trial`` on the shared reference data, once per session (skips without it)."""
    return reference_trials.prepare_ulbs_trial(require_reference(PIPELINE), root, trial)


def prepare_ulbs_walk(root: Path) -> Walk:
    """ULBS-112 scaled to the walking subject and IK of the whole walking trial."""
    return prepare_ulbs_trial(root, "walk")


@dataclass(frozen=True)
class WalkDynamics:
    grf: object                # GroundReactions from the default estimator
    grf_mot: Path
    grf_xml: Path
    id_estimated: object       # InverseDynamicsResult, whole trial, estimated GRF
    id_estimated_window: object    # over the trial's window (its ``window``)
    id_measured_window: object
    activations: object       # StaticOptimizationResult of the fast solver over the whole trial


@functools.cache
def walk_dynamics(walk: Walk) -> WalkDynamics:
    """GRF from the default estimator, ID with estimated and measured GRF, fast SO over the whole trial."""
    from builder.biosim.dynamics import DynamicsSettings
    from builder.biosim.fast_so import run_fast_static_optimization
    from builder.biosim.grf import make_estimator
    from builder.biosim.inverse_dynamics import run_inverse_dynamics

    out = walk.root / "dynamics"
    grf = make_estimator(DynamicsSettings().grf_estimator).estimate(walk.model, walk.ik)
    grf.write(out / "grf.mot", out / "grf.xml")
    id_est = run_inverse_dynamics(walk.model, walk.ik, out / "id.sto", out / "grf.xml")
    id_est_w = run_inverse_dynamics(walk.model, walk.ik, out / "id_window.sto", out / "grf.xml",
                                    time_range=walk.window)
    id_meas_w = run_inverse_dynamics(walk.model, walk.ik, out / "id_measured.sto", walk.measured_xml,
                                     time_range=walk.window)
    so = run_fast_static_optimization(walk.model, walk.ik, out / "id.sto", out / "so_activations.sto")
    return WalkDynamics(grf, out / "grf.mot", out / "grf.xml", id_est, id_est_w, id_meas_w, so)


@dataclass(frozen=True)
class PlateComparison:
    grf: object                # GroundReactions of the default estimator
    agreement: dict            # grf_validation.score_against_plates over the trial's window
    moment_rmse: dict          # N m/kg: sagittal moments of ID with the estimate vs ID with the plates
    id_estimated: object       # InverseDynamicsResult over the window
    contact_file: Path         # the estimate's grf_contact.sto
    band: dict                 # the same scores of the plates low-passed at the kinematics' cut-off


@functools.cache
def compare_with_plates(walk: Walk) -> PlateComparison:
    """The default GRF estimator on a trial, against its force plates: the GRF itself and ID with it; and
    the plates themselves low-passed at the kinematics' cut-off (``inverse_dynamics.CUTOFF_HZ``)."""
    from builder.biosim.dynamics import DynamicsSettings
    from builder.biosim.grf import make_estimator
    from builder.biosim.grf_validation import (
        SAGITTAL_MOMENTS,
        read_force_plates,
        score_against_plates,
    )
    from builder.biosim.inverse_dynamics import CUTOFF_HZ, run_inverse_dynamics

    out = walk.root / "plates"
    plates = read_force_plates(walk.grf)
    measured = run_inverse_dynamics(walk.model, walk.ik, out / "id_plates.sto", walk.measured_xml,
                                    time_range=walk.window)
    grf = make_estimator(DynamicsSettings().grf_estimator).estimate(walk.model, walk.ik)
    scores, estimated = score_against_plates(grf, plates, walk.model, walk.ik, measured, walk.window, walk.mass,
                                             out, "default")
    band, _ = score_against_plates(plates.lowpass(CUTOFF_HZ).reactions(walk.mass * GRAVITY), plates, walk.model,
                                   walk.ik, measured, walk.window, walk.mass, out, "band")
    return PlateComparison(grf, scores, {label: scores[label] for label in SAGITTAL_MOMENTS}, estimated,
                           out / "grf_default_contact.sto", band)


SO_CHECK_RANGE = (0.90, 0.99)   # 10 frames of push-off and double support: many muscles active


@functools.cache
def opensim_so(walk: Walk):
    """OpenSim's StaticOptimization on ``SO_CHECK_RANGE`` with the estimated GRF (~0.3 s/frame)."""
    from builder.biosim.static_optimization import run_static_optimization

    dyn = walk_dynamics(walk)
    return run_static_optimization(walk.model, walk.ik, dyn.grf_xml, walk.root / "dynamics" / "so_opensim.sto",
                                   time_range=SO_CHECK_RANGE)


def _physics_estimator():
    from builder.biosim.grf import PhysicsGRFEstimator

    return PhysicsGRFEstimator()


class FaultInjectingEstimator:
    """The physics GRF estimator, except in sequence folders holding a ``SEGFAULT`` or ``SIGKILL``
    file, where the worker process really dies that way, or ``HANG``, where it never returns
    (named ``helpers.walk_trial:FaultInjectingEstimator``)."""

    name = "fault_injecting"

    def estimate(self, model_path, coordinates_path):
        import ctypes
        import signal

        folder = Path(coordinates_path).parent
        if (folder / "SEGFAULT").exists():
            ctypes.string_at(0)  # a genuine segmentation fault
        if (folder / "SIGKILL").exists():
            os.kill(os.getpid(), signal.SIGKILL)
        if (folder / "HANG").exists():
            import time

            time.sleep(3600)
        return _physics_estimator().estimate(model_path, coordinates_path)


def cut_walk_sequence(walk: Walk, root: Path, name: str, span: tuple[float, float] = (0.45, 0.75),
                  muscle_strength: float = 1.0) -> Path:
    """A BioSim sequence folder (scaled.osim, ik.mot, ik_report.json) cut from the walking trial."""
    import json

    from builder import layout
    from builder.biosim.storage import read_storage, write_storage

    seq = root / "sequences" / name
    seq.mkdir(parents=True, exist_ok=True)
    model_text = walk.model.read_text()
    if muscle_strength != 1.0:
        model_text = re.sub(r"<max_isometric_force>([0-9.eE+-]+)</max_isometric_force>",
                            lambda m: "<max_isometric_force>"
                            f"{float(m.group(1)) * muscle_strength}</max_isometric_force>",
                            model_text)
    (seq / layout.SCALED_MODEL).write_text(model_text)
    write_storage(seq / layout.IK_MOT, read_storage(walk.ik).slice_time(*span))
    errors = read_storage(walk.root / "walk_ik_marker_errors.sto")
    (seq / layout.IK_REPORT).write_text(json.dumps({
        "rms_mean_m": float(errors.column("marker_error_RMS").mean()),
        "rms_max_m": float(errors.column("marker_error_RMS").max()),
        "max_max_m": float(errors.column("marker_error_max").max())}))
    return seq
