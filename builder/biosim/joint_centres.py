"""Move a scaled model's joint centres onto the body's own joint centres, then re-place its markers.

Marker-pair scaling sets segment lengths but leaves each joint where the generic model has it
relative to its landmarks. A body surface rotates its segments about its own joint centres; if the
model's differ, every rotation shows up as marker error. Given the static pose's joint centres on
the body (the same frame as the static .trc), this solves the model's static pose by IK, shifts
each joint's parent frame so the joint sits on the body's centre (proximal joints first), moves
every marker onto its static-trial location in that pose, and lets the muscles follow their new
path lengths (:func:`builder.biosim.scale.follow_path_lengths`: optimal fibre and tendon slack
lengths times the path-length ratio, volume kept), so no fibre leaves its force-length range.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from builder.biosim.opensim_model import opensim
from builder.biosim.scale import ANATOMICAL_STATIC_POSE, follow_path_lengths, path_lengths
from builder.io import atomic_path
from builder.trc import read_trc

ULBS_JOINT_CENTRES: tuple[dict[str, int], ...] = (
    {"hip_r": 2, "hip_l": 1, "acromial_r": 17, "acromial_l": 16},
    {"walker_knee_r": 5, "walker_knee_l": 4, "elbow_r": 19, "elbow_l": 18},
    {"ankle_r": 8, "ankle_l": 7, "radius_hand_r": 21, "radius_hand_l": 20},
)
"""ULBS-112 joints -> SMPL joint index, by depth in the tree (each level moves the next)."""


def _posed_state(model, coordinates: dict[str, float]):
    state = model.initSystem()
    for name, value in coordinates.items():
        model.getCoordinateSet().get(name).setValue(state, value, False)
    model.assemble(state)
    model.realizePosition(state)
    return state


HOLD_WEIGHT = 1e4
"""IK weight (per rad^2, against 1 per m^2 of marker error) holding the known static coordinates."""


def _static_pose_mot(model_path: Path, static_trc: Path, mot: Path, marker_weights: dict[str, float],
                     static_pose: Mapping[str, float]) -> None:
    """IK of the static trial holding the ``static_pose`` coordinates at their values."""
    osim = opensim()
    model = osim.Model(str(model_path))
    tool = osim.InverseKinematicsTool()
    tool.setModel(model)
    tool.setMarkerDataFileName(str(static_trc))
    static = read_trc(static_trc)
    for name in static.names:
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setWeight(float(marker_weights.get(name, 1.0)))
        tool.getIKTaskSet().cloneAndAppend(task)
    for name, value in static_pose.items():
        task = osim.IKCoordinateTask()
        task.setName(name)
        task.setValueType(osim.IKCoordinateTask.ManualValue)
        task.setValue(float(value))
        task.setWeight(HOLD_WEIGHT)
        tool.getIKTaskSet().cloneAndAppend(task)
    tool.setStartTime(float(static.times[0]))
    tool.setEndTime(float(static.times[-1]))
    tool.setResultsDir(str(mot.parent))
    tool.setOutputMotionFileName(str(mot))
    if not tool.run() or not mot.is_file():
        raise RuntimeError(f"OpenSim IK failed on the static trial {static_trc} with {model_path}")


def _static_coordinates(model, mot: Path) -> dict[str, float]:
    """Mean coordinate values of an IK .mot, rotations in radians."""
    osim = opensim()
    table = osim.TimeSeriesTable(str(mot))
    labels = list(table.getColumnLabels())
    values = table.getMatrix().to_numpy().mean(0)
    out = {}
    for label, value in zip(labels, values):
        coordinate = model.getCoordinateSet().get(label)
        rotational = coordinate.getMotionType() == osim.Coordinate.Rotational
        out[label] = float(np.radians(value) if rotational else value)
    return out


def align_joint_centres(model_path: str | os.PathLike, static_trc: str | os.PathLike, joint_centres: np.ndarray,
                        out_path: str | os.PathLike, marker_weights: dict[str, float] | None = None,
                        static_pose: Mapping[str, float] = ANATOMICAL_STATIC_POSE,
                        max_shift_m: float | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Write ``out_path``: ``model_path`` with its joints on ``joint_centres`` (24, 3; SMPL joint order,
    static-trial frame and units of metres), its markers on the static trial (the model held in
    ``static_pose``: coordinate -> rad or m; the others fitted) and its muscles following their path
    lengths. ``max_shift_m`` limits how far a joint moves towards the body's centre (the rest stays as
    marker error): a body model's joint centres are not anatomical (Anny's hips sit ~7 cm above and
    ~3 cm lateral to the hip centre ULBS-112's pelvis landmarks imply, its ankles ~6 cm off), and a
    joint moved that far strips muscles of their moment arms (gluteus medius 5.1 -> 2.6 cm, gluteus
    minimus to ~0: the hip abductors could then no longer hold the pelvis in single support).
    2 cm is about the error of predictive hip-centre methods (1.5-2.5 cm, Harrington et al. 2007, J Biomech 40:595).
    Returns ``(shifts, offsets)``: by joint, how far it moved and how far from the body's centre it
    stays (m)."""
    osim = opensim()
    model_path, static_trc, out_path = Path(model_path), Path(static_trc), Path(out_path)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".joints.") as work:
        _static_pose_mot(model_path, static_trc, Path(work) / "static_pose.mot", marker_weights or {}, static_pose)
        model = osim.Model(str(model_path))
        coordinates = _static_coordinates(model, Path(work) / "static_pose.mot")
    lengths_before = path_lengths(model)
    state = _posed_state(model, coordinates)
    ground = model.getGround()
    shifts = {}
    for level in ULBS_JOINT_CENTRES:
        for joint_name, smpl_joint in level.items():
            joint = model.getJointSet().get(joint_name)
            child_origin = joint.getChildFrame().getPositionInGround(state).to_numpy()
            delta = joint_centres[smpl_joint] - child_origin
            if max_shift_m is not None and np.linalg.norm(delta) > max_shift_m:
                delta *= max_shift_m / np.linalg.norm(delta)
            parent = osim.PhysicalOffsetFrame.safeDownCast(joint.upd_frames(0))
            if parent is None or parent.getName() != joint.getParentFrame().getName():
                raise ValueError(f"{model_path}: joint {joint_name} has no parent offset frame to move")
            local = ground.expressVectorInAnotherFrame(state, osim.Vec3(*delta), parent.getParentFrame()).to_numpy()
            parent.set_translation(osim.Vec3(*(parent.get_translation().to_numpy() + local)))
            shifts[joint_name] = float(np.linalg.norm(delta))
        state = _posed_state(model, coordinates)
    offsets = {name: float(np.linalg.norm(joint_centres[smpl_joint] - model.getJointSet().get(name).getChildFrame()
                                          .getPositionInGround(state).to_numpy()))
               for level in ULBS_JOINT_CENTRES for name, smpl_joint in level.items()}
    static = read_trc(static_trc)
    positions = dict(zip(static.names, np.nanmean(static.data, axis=0)))
    markers = model.updMarkerSet()
    for i in range(markers.getSize()):
        marker = markers.get(i)
        if marker.getName() in positions:
            location = ground.findStationLocationInAnotherFrame(state, osim.Vec3(*positions[marker.getName()]),
                                                                marker.getParentFrame())
            marker.set_location(location)
    model.finalizeConnections()
    follow_path_lengths(model, lengths_before)
    with atomic_path(out_path) as tmp:
        if not model.printToXML(str(tmp)):
            raise OSError(f"OpenSim could not write {out_path}")
    return shifts, offsets
