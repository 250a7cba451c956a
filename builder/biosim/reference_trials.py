"""The real walk and treadmill run of the Rajagopal2016 pipeline, prepared as a user's motion would be.

ULBS-112 is scaled to the trial's subject (static trial, 1.80 m, mass from the plates), the trial's markers
are renamed to our landmarks and tracked by IK; the trial's force plates and ExternalLoads file then give
the reference that GRF estimates are compared with (``scripts/bench_grf.py``, tests/biosim/test_grf_*.py).
The pipeline folder is ``opensim-models/Pipelines/Rajagopal`` of the shared reference data.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

GRAVITY = 9.80665   # m/s^2


@dataclass(frozen=True, eq=False)
class ReferenceTrial:
    root: Path                  # working folder of the prepared trial
    model: Path                 # scaled model
    ik: Path                    # IK coordinates of the trial
    measured_xml: Path          # the trial's ExternalLoads, pointing at its plates and at ``ik``
    mass: float                 # kg
    events: dict[str, list[tuple[float, float]]]   # measured (heel strike, toe off) per foot "r"/"l"
    grf: Path                   # the force-plate data
    window: tuple[float, float]  # s: the span compared with the plates


@dataclass(frozen=True)
class TrialSpec:
    """One trial of the Rajagopal pipeline as ULBS-112 sees it."""

    static: str                         # ExpData file names
    motion: str
    grf: str
    loads: str                          # the trial's ExternalLoads file in ID/
    markers: dict[str, str]             # trial marker -> ULBS-112 landmark
    clusters: dict[str, str]            # trial marker -> body it is added to after scaling
    window: tuple[float, float]         # s: compared with the force plates over this span
    ik_range: tuple[float, float] | None = None    # s: IK only here (None: whole trial)
    treadmill: bool = False
    height: float = 1.80                # m (the scale setups' 1800 mm)


WALK_WINDOW = (0.45, 1.8)   # s: both feet's stances inside it are on force plates (the trial's ID range)


def trial_specs() -> dict[str, TrialSpec]:
    """The walk and the run, by name."""
    from builder.musculoskeletal.reference_markers import (
        RAJAGOPAL_RUN_CLUSTERS,
        RAJAGOPAL_RUN_TO_ULBS,
        RAJAGOPAL_TO_ULBS,
    )

    return {
        "walk": TrialSpec("static_walk_1.trc", "motion_capture_walk.trc", "grf_walk.mot", "grf_walk.xml",
                          RAJAGOPAL_TO_ULBS, {}, WALK_WINDOW),
        # treadmill run at ~3.8 m/s: two right strides (heel strikes 0.868, 1.552, 2.230 s) with
        # 0.25 s of kinematics either side for the filters
        "run": TrialSpec("static_run.trc", "motion_capture_run.trc", "grf_run.mot", "grf_run.xml",
                         RAJAGOPAL_RUN_TO_ULBS, RAJAGOPAL_RUN_CLUSTERS, (0.86, 2.24), ik_range=(0.6, 2.5),
                         treadmill=True),
    }


def trial_mass(grf_path: Path, treadmill: bool) -> float:
    """Subject mass (kg): mean measured vertical GRF / g over whole strides on the plates (treadmill:
    first to last right heel strike; overground: the one step fully on the plates, left heel strike
    to the next right heel strike)."""
    from builder.biosim.grf_validation import read_force_plates

    plates = read_force_plates(grf_path)
    vertical = plates.force[:, :, 1].sum(axis=1)
    events = plates.contact_intervals(threshold=20.0)
    strikes = {side: [s for s, _ in events[side]] for side in "rl"}
    if treadmill:
        start, end = strikes["r"][0], strikes["r"][-1]
    else:
        start = strikes["l"][0]
        end = min(s for s in strikes["r"] if s > start)
    keep = (plates.time >= start) & (plates.time < end)
    return float(vertical[keep].mean() / GRAVITY)


def _renamed_trc(source: Path, out: Path, names: dict[str, str]) -> Path:
    lines = source.read_text().splitlines()
    lines[3] = "\t".join(names.get(token.strip(), token) for token in lines[3].split("\t"))
    out.write_text("\n".join(lines) + "\n")
    return out


def _add_clusters(model_path: Path, static: Path, static_range: tuple[float, float], clusters: dict[str, str],
                  root: Path) -> None:
    """Fix the ``clusters`` markers to their bodies where the scaled model's static pose puts them."""
    from builder.biosim.ik import run_ik
    from builder.biosim.opensim_model import opensim, read_coordinates
    from builder.trc import read_trc

    osim = opensim()
    pose = root / "static_pose.mot"
    run_ik(model_path, static, pose, time_range=static_range)
    model = osim.Model(str(model_path))
    _, q = read_coordinates(model, pose)
    state = model.initSystem()
    coords = model.getCoordinateSet()
    for j in range(coords.getSize()):
        coords.get(j).setValue(state, float(q.mean(axis=0)[j]), False)
    model.realizePosition(state)
    trc = read_trc(static)
    keep = (trc.times >= static_range[0]) & (trc.times <= static_range[1])
    local = {name: model.getGround().findStationLocationInAnotherFrame(
        state, osim.Vec3(*trc.data[keep, trc.names.index(name)].mean(axis=0)), model.getBodySet().get(body))
        for name, body in clusters.items()}
    for name, body in clusters.items():
        model.addMarker(osim.Marker(name, model.getBodySet().get(body), local[name]))
    model.finalizeConnections()
    model.printToXML(str(model_path))


def prepare_ulbs_trial(pipeline: Path, root: Path, trial: str = "walk") -> ReferenceTrial:
    """ULBS-112 scaled to the subject of a Rajagopal trial (``"walk"`` or ``"run"``) and IK of the trial, in
    ``root``; ``pipeline`` is the reference data's ``Pipelines/Rajagopal`` folder."""
    from builder.biosim.grf_validation import read_force_plates
    from builder.biosim.ik import run_ik
    from builder.biosim.scale import scale_model
    from builder.musculoskeletal.cache import default_model_path

    if not (pipeline / "ExpData").is_dir():
        raise FileNotFoundError(f"{pipeline}: not the Rajagopal pipeline folder (no ExpData inside)")
    spec = trial_specs()[trial]
    root.mkdir(parents=True, exist_ok=True)
    static = _renamed_trc(pipeline / "ExpData" / spec.static, root / spec.static, spec.markers)
    motion = _renamed_trc(pipeline / "ExpData" / spec.motion, root / spec.motion, spec.markers)
    grf = pipeline / "ExpData" / spec.grf
    mass = trial_mass(grf, spec.treadmill)
    static_range = (0.5, 1.0)
    model = scale_model(default_model_path(), static, spec.height, mass, root / "subject_ulbs.osim",
                        time_range=static_range)
    if spec.clusters:
        _add_clusters(model, static, static_range, spec.clusters, root)
    ik = root / f"ik_{trial}.mot"
    report = run_ik(model, motion, ik, time_range=spec.ik_range)
    (root / f"ik_{trial}_report.json").write_text(json.dumps(report))
    loads = (pipeline / "ID" / spec.loads).read_text()
    loads = re.sub(r"<datafile>.*?</datafile>", f"<datafile>{grf}</datafile>", loads)
    loads = re.sub(r"<external_loads_model_kinematics_file>.*?</external_loads_model_kinematics_file>",
                   f"<external_loads_model_kinematics_file>{ik}</external_loads_model_kinematics_file>", loads)
    (root / "grf_measured.xml").write_text(loads)
    plates = read_force_plates(grf)
    return ReferenceTrial(root, model, ik, root / "grf_measured.xml", mass, plates.contact_intervals(threshold=20.0),
                          grf, spec.window)


def reference_sequence_folder(trial: ReferenceTrial, loads_xml: Path, folder: Path):
    """Lay ``trial`` out as a BioSim sequence folder (scaled model, IK and its report, ID with the external
    loads of ``loads_xml`` over the trial's window, raw fast SO) in ``folder`` and return its validity audit
    (:func:`builder.biosim.dynamics.audit_folder`): the same figures as every built sequence, on real data."""
    from builder import layout
    from builder.biosim.dynamics import DynamicsSettings, audit_folder
    from builder.biosim.fast_so import run_fast_static_optimization
    from builder.biosim.inverse_dynamics import run_inverse_dynamics

    settings = DynamicsSettings()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trial.model, folder / layout.SCALED_MODEL)
    shutil.copyfile(trial.ik, folder / layout.IK_MOT)
    shutil.copyfile(trial.ik.with_name(f"{trial.ik.stem}_report.json"), folder / layout.IK_REPORT)
    run_inverse_dynamics(folder / layout.SCALED_MODEL, folder / layout.IK_MOT, folder / layout.ID_STO, loads_xml,
                         time_range=trial.window, cutoff_hz=settings.cutoff_hz)
    run_fast_static_optimization(folder / layout.SCALED_MODEL, folder / layout.IK_MOT, folder / layout.ID_STO,
                                 folder / layout.SO_ACTIVATIONS, cutoff_hz=settings.cutoff_hz,
                                 reserves=settings.reserves, tendon_compliance=settings.tendon_compliance)
    return audit_folder(folder, settings)
