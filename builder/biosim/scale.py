"""Scale ULBS-112 to a subject: OpenSim ScaleTool configured from the model's marker pairs.

Segments with marker pairs in the static trial are scaled by measurement (uniformly in X, Y, Z);
segments without are scaled by the stature ratio ``height_m / model stature``. Masses are set to the
subject's total mass (mass distribution follows the segment volumes). Markers are then moved onto the
static pose (MarkerPlacer) unless ``place_markers=False``.

Muscles follow the subject (:func:`scale_muscles`):

* lengths: OpenSim's scaling rule, each muscle's optimal fibre length and tendon slack length times
  the ratio of its path length in the scaled model to the generic model's, both in the generic
  model's default pose. Every later step that moves joints, attachments or wrap objects applies the
  same rule to its own change (:func:`follow_path_lengths`), so fibres keep their force-length
  operating range (measured on the embedded walk, Anny subject: median active-force capacity at the
  IK poses 0.95, generic model 0.93; without it 0.71).
* strength: maximum isometric force by muscle volume (Handsfield et al. 2014, J Biomech 47:631: total
  lower-limb muscle volume ``47.05 * mass_kg * height_m + 1289.6`` cm^3), each muscle's volume taking
  the subject/generic ratio of that total, and F_max = specific tension x volume / optimal fibre
  length, i.e. ``F_generic * volume_ratio / l_opt_ratio`` (the Rajagopal et al. 2016 pipeline's rule).
  The trunk and arm muscles take the same ratio: muscle volume is distributed in nearly fixed
  proportions across adult bodies (Holzbaur et al. 2007, J Biomech 40:742, upper limb; Handsfield et
  al. 2014, lower limb), and no regression of comparable quality exists for the trunk.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from builder.biosim.opensim_model import opensim
from builder.markers import MARKER_NAMES
from builder.musculoskeletal import tables

logger = logging.getLogger(__name__)
MIN_HEIGHT_M, MAX_HEIGHT_M = 0.5, 2.6
MIN_MASS_KG, MAX_MASS_KG = 5.0, 400.0


def lower_limb_muscle_volume_cm3(mass_kg: float, height_m: float) -> float:
    """Total lower-limb muscle volume (cm^3) of an adult, Handsfield et al. (2014) regression."""
    return 47.05 * mass_kg * height_m + 1289.6


def _muscles(model) -> list:
    muscles = model.getMuscles()
    return [muscles.get(i) for i in range(muscles.getSize())]


def path_lengths(model) -> dict[str, float]:
    """Muscle-tendon path length (m) of every muscle of ``model`` in its default pose."""
    state = model.initSystem()
    return {m.getName(): m.getGeometryPath().getLength(state) for m in _muscles(model)}


def follow_path_lengths(model, lengths_before: Mapping[str, float]) -> dict[str, float]:
    """Apply OpenSim's muscle-scaling rule to a geometric change of ``model`` (in place).

    ``lengths_before`` are the default-pose path lengths before the change (:func:`path_lengths`).
    Each muscle's optimal fibre length and tendon slack length are multiplied by its path-length
    ratio after/before; its maximum isometric force is divided by it, keeping the muscle's volume
    (F_max is proportional to volume / optimal fibre length). Returns the ratios by muscle.
    """
    after = path_lengths(model)
    ratios = {}
    for muscle in _muscles(model):
        ratio = after[muscle.getName()] / lengths_before[muscle.getName()]
        muscle.setOptimalFiberLength(muscle.getOptimalFiberLength() * ratio)
        muscle.setTendonSlackLength(muscle.getTendonSlackLength() * ratio)
        muscle.setMaxIsometricForce(muscle.getMaxIsometricForce() / ratio)
        ratios[muscle.getName()] = ratio
    return ratios


def scale_muscles(model, generic, height_m: float, mass_kg: float) -> dict:
    """Set the muscles of scaled ``model`` from the ``generic`` model's (in place): lengths by the
    path-length ratio in the generic default pose, F_max by muscle volume (module docstring).
    ``generic`` must be unscaled with its own coordinate defaults. Returns a summary for records."""
    generic_lengths = path_lengths(generic)
    state = generic.initSystem()
    volume_ratio = (lower_limb_muscle_volume_cm3(mass_kg, height_m)
                    / lower_limb_muscle_volume_cm3(generic.getTotalMass(state), model_stature(generic)))
    for muscle in _muscles(model):
        source = generic.getMuscles().get(muscle.getName())
        muscle.setOptimalFiberLength(source.getOptimalFiberLength())
        muscle.setTendonSlackLength(source.getTendonSlackLength())
        muscle.setMaxIsometricForce(source.getMaxIsometricForce() * volume_ratio)
    ratios = follow_path_lengths(model, generic_lengths)
    values = np.array(list(ratios.values()))
    return {"muscle_volume_ratio": float(volume_ratio), "path_length_ratio_min": float(values.min()),
            "path_length_ratio_max": float(values.max())}


def _anatomical_static_pose() -> dict[str, float]:
    pose = {c["name"]: 0.0 for joint in tables.skeleton()["joints"] if joint["parent"]["body"] != "ground"
            for c in joint["coordinates"] if not c["name"].startswith("hip_adduction")}
    for side in ("r", "l"):
        pose[f"arm_add_{side}"] = -math.radians(15.0)  # arms 75 deg down from SMPL's T-pose
        pose[f"pro_sup_{side}"] = math.radians(90.0)   # palms facing the thighs
    return pose


ANATOMICAL_STATIC_POSE: dict[str, float] = _anatomical_static_pose()
"""ULBS-112 coordinates (rad) of a body in ``builder.body.NEUTRAL_POSE`` (SMPL's zero pose with the
arms lowered 75 deg): every joint at zero except 15 deg shoulder abduction and forearms pronated so
the palms face the thighs. Holding them while markers are placed makes SMPL's neutral pose the
model's anatomical zero, whatever small differences its surface landmarks have from the model's.
Hip adduction (stance width) and the pelvis (root) are left to the marker fit."""


def trc_marker_names(trc_path: str | os.PathLike) -> list[str]:
    """Marker names in a .trc file (read by OpenSim); ValueError naming the file if unreadable."""
    osim = opensim()
    path = Path(trc_path)
    if not path.is_file():
        raise ValueError(f"{path}: marker file not found")
    try:
        table = osim.TimeSeriesTableVec3(str(path))
    except Exception as exc:
        raise ValueError(f"{path}: OpenSim cannot read it as a .trc marker file ({exc})") from exc
    return list(table.getColumnLabels())


def _sided(name: str, side: str) -> str:
    return f"{name}_{side}" if f"{name}_{side}" in MARKER_NAMES else name


def measurement_set(available: set[str]) -> dict[str, dict]:
    """Measurements (name -> {pairs, bodies}) restricted to marker pairs present in ``available``."""
    out: dict[str, dict] = {}
    for name, spec in tables.scale_measurements().items():
        for side in ("r", "l") if spec.get("sided") else ("",):
            pairs = [(_sided(a, side), _sided(b, side)) if side else (a, b) for a, b in spec["pairs"]]
            pairs = [p for p in pairs if p[0] in available and p[1] in available]
            if pairs:
                bodies = [tables.sided_body(b, side) if side else b for b in spec["bodies"]]
                out[f"{name}_{side}" if side else name] = {"pairs": pairs, "bodies": bodies}
    return out


def model_stature(model) -> float:
    """Standing height of a model (m): ``head_top`` marker above the calcaneus origin, default pose."""
    state = model.initSystem()
    head = model.getMarkerSet().get("head_top").getLocationInGround(state).get(1)
    sole = min(model.getBodySet().get(f"calcn_{s}").getPositionInGround(state).get(1) for s in ("r", "l"))
    return float(head - sole)


def _measurement(osim, name: str, spec: dict):
    measurement = osim.Measurement()
    measurement.setName(name)
    measurement.setApply(True)
    for a, b in spec["pairs"]:
        measurement.getMarkerPairSet().cloneAndAppend(osim.MarkerPair(a, b))
    for body in spec["bodies"]:
        scale = osim.BodyScale()
        scale.setName(body)
        axes = osim.ArrayStr()
        for axis in ("X", "Y", "Z"):
            axes.append(axis)
        scale.setAxisNames(axes)
        measurement.getBodyScaleSet().cloneAndAppend(scale)
    return measurement


def _time_range(osim, trc: Path, time_range: tuple[float, float] | None):
    table = osim.TimeSeriesTableVec3(str(trc))
    times = np.asarray(table.getIndependentColumn())
    start, end = (times[0], times[-1]) if time_range is None else time_range
    out = osim.ArrayDouble()
    out.append(float(start))
    out.append(float(end))
    return out


def scale_model(model_path: str | os.PathLike, static_trc: str | os.PathLike, height_m: float, mass_kg: float,
                out_path: str | os.PathLike, *, time_range: tuple[float, float] | None = None,
                marker_weights: dict[str, float] | None = None, place_markers: bool = True,
                static_pose: Mapping[str, float] | None = None) -> Path:
    """Scale ``model_path`` to a subject from a static .trc, stature and mass; write ``out_path``.

    ``time_range`` (s) selects the static frames to average (default: the whole file);
    ``marker_weights`` weights markers in the static-pose fit (default 1 each). ``static_pose``
    (coordinate -> value, rad or m) holds those coordinates at the subject's known static pose while
    the markers are placed (e.g. :data:`ANATOMICAL_STATIC_POSE` for a body posed in
    ``builder.body.NEUTRAL_POSE``); unlisted coordinates are solved. The written model keeps the
    generic model's coordinate defaults and locks. Returns ``out_path``.
    """
    osim = opensim()
    model_path, static_trc, out_path = Path(model_path).resolve(), Path(static_trc).resolve(), Path(out_path).resolve()
    if not MIN_HEIGHT_M <= height_m <= MAX_HEIGHT_M:
        raise ValueError(f"height {height_m} m outside [{MIN_HEIGHT_M}, {MAX_HEIGHT_M}] (give metres)")
    if not MIN_MASS_KG <= mass_kg <= MAX_MASS_KG:
        raise ValueError(f"mass {mass_kg} kg outside [{MIN_MASS_KG}, {MAX_MASS_KG}]")
    if not model_path.is_file():
        raise ValueError(f"{model_path}: model file not found")
    generic = osim.Model(str(model_path))
    model_markers = {generic.getMarkerSet().get(i).getName() for i in range(generic.getMarkerSet().getSize())}
    available = model_markers & set(trc_marker_names(static_trc))
    if len(available) < 3:
        raise ValueError(f"{static_trc}: only {len(available)} of its markers are on the model {model_path.name}")
    measurements = measurement_set(available)
    stature_ratio = height_m / model_stature(generic)
    static_range = _time_range(osim, static_trc, time_range)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".scale.") as work:
        work = Path(work)
        posed = work / "generic_in_static_pose.osim"
        _hold_static_pose(osim, model_path, static_pose or {}, posed)
        tool = _scale_tool(osim, posed, static_trc, static_range, height_m, mass_kg, measurements, stature_ratio)
        placer = tool.getMarkerPlacer()
        placer.setApply(place_markers)
        placer.setStaticPoseFileName(str(static_trc))
        placer.setTimeRange(static_range)
        weights = marker_weights or {}
        for name in sorted(available):
            task = osim.IKMarkerTask()
            task.setName(name)
            task.setWeight(float(weights.get(name, 1.0)))
            placer.getIKTaskSet().cloneAndAppend(task)
        scaled, placed = work / "scaled.osim", work / "placed.osim"
        tool.getModelScaler().setOutputModelFileName(str(scaled))
        placer.setOutputModelFileName(str(placed))
        placer.setOutputMotionFileName(str(work / "static_pose.mot"))
        logger.info("scaling %s to %.2f m, %.1f kg from %s (%d measurements, %d markers, %d coordinates held)",
                    model_path.name, height_m, mass_kg, static_trc.name, len(measurements), len(available),
                    len(static_pose or {}))
        ok = tool.run()  # also False when the marker placer is switched off: judge by the files
        if not scaled.is_file() or (place_markers and not (ok and placed.is_file())):
            raise RuntimeError(f"OpenSim ScaleTool failed on {static_trc} with {model_path}")
        _finish(osim, scaled, placed if place_markers else None, generic, height_m, mass_kg)
        os.replace(scaled, out_path)
    return out_path


def _hold_static_pose(osim, model_path: Path, pose: Mapping[str, float], out: Path) -> None:
    """Copy of the generic model with the ``pose`` coordinates locked at their static values."""
    model = osim.Model(str(model_path))
    coords = model.updCoordinateSet()
    unknown = [name for name in pose if not coords.contains(name)]
    if unknown:
        raise ValueError(f"static_pose names coordinates that {model_path.name} lacks: {unknown[:5]}")
    for name, value in pose.items():
        coord = coords.get(name)
        coord.setDefaultValue(min(max(float(value), coord.getRangeMin()), coord.getRangeMax()))
        coord.set_locked(True)
    model.finalizeConnections()
    model.printToXML(str(out))


def _scale_tool(osim, generic: Path, static_trc: Path, static_range, height_m: float, mass_kg: float,
                measurements: dict[str, dict], stature_ratio: float):
    """A ScaleTool whose ModelScaler scales by ``measurements``, other bodies by ``stature_ratio``."""
    tool = osim.ScaleTool()
    tool.setSubjectMass(mass_kg)
    tool.setSubjectHeight(height_m * 1000.0)  # informational, in mm
    tool.getGenericModelMaker().setModelFileName(str(generic))
    scaler = tool.getModelScaler()
    scaler.setApply(True)
    order = osim.ArrayStr()
    order.append("manualScale")
    order.append("measurements")
    scaler.setScalingOrder(order)
    measured = {body for spec in measurements.values() for body in spec["bodies"]}
    bodies = osim.Model(str(generic)).getBodySet()
    for body in (bodies.get(i).getName() for i in range(bodies.getSize())):
        if body not in measured:
            scale = osim.Scale()
            scale.setSegmentName(body)
            scale.setScaleFactors(osim.Vec3(stature_ratio, stature_ratio, stature_ratio))
            scale.setApply(True)
            scaler.getScaleSet().cloneAndAppend(scale)
    for name, spec in measurements.items():
        scaler.addMeasurement(_measurement(osim, name, spec))
    scaler.setMarkerFileName(str(static_trc))
    scaler.setTimeRange(static_range)
    scaler.setPreserveMassDist(False)
    return tool


def _finish(osim, scaled: Path, placed: Path | None, generic, height_m: float, mass_kg: float) -> None:
    """Give the scaled model the generic model's coordinate defaults and locks, its muscles scaled by
    :func:`scale_muscles` and, when markers were placed, the placed marker locations (MarkerPlacer's
    own output drops the markers absent from the static trial, so the placed locations go back into
    the full model)."""
    model = osim.Model(str(scaled))
    coords, generic_coords = model.updCoordinateSet(), generic.getCoordinateSet()
    for i in range(coords.getSize()):
        source = generic_coords.get(coords.get(i).getName())
        coords.get(i).setDefaultValue(source.getDefaultValue())
        coords.get(i).set_locked(source.get_locked())
    if placed is not None:
        placed_model = osim.Model(str(placed))
        placed_markers, markers = placed_model.getMarkerSet(), model.updMarkerSet()
        for i in range(placed_markers.getSize()):
            marker = placed_markers.get(i)
            markers.get(marker.getName()).set_location(marker.get_location())
    model.finalizeConnections()
    summary = scale_muscles(model, generic, height_m, mass_kg)
    logger.info("muscles: volume x%.3f, path lengths x%.3f to x%.3f", summary["muscle_volume_ratio"],
                summary["path_length_ratio_min"], summary["path_length_ratio_max"])
    if not model.printToXML(str(scaled)):
        raise OSError(f"OpenSim could not write {scaled}")
