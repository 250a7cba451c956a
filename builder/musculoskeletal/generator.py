"""Emit ULBS-112 (``.osim``) from the declarative tables through the OpenSim Python API."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from biohuman10m.vocabulary import MUSCLE_NAMES
from builder.biosim.opensim_model import opensim
from builder.io import atomic_path
from builder.markers import LANDMARKS
from builder.musculoskeletal import tables

MODEL_NAME = "ULBS-112"
GRAVITY = (0.0, -9.80665, 0.0)
logger = logging.getLogger(__name__)


def _vec3(osim: ModuleType, xyz: Sequence[float]) -> Any:
    return osim.Vec3(float(xyz[0]), float(xyz[1]), float(xyz[2]))


def _function(osim, spec: dict):
    kind = spec["type"]
    if kind == "linear":
        return osim.LinearFunction(spec["slope"], spec["intercept"])
    if kind == "constant":
        return osim.Constant(spec["value"])
    if kind == "spline":
        spline = osim.SimmSpline()
        for x, y in zip(spec["x"], spec["y"], strict=True):
            spline.addPoint(x, y)
        return spline
    raise tables.TableError(f"skeleton.yaml: unknown function type {kind!r}")


def _frame(model, name: str):
    return model.getGround() if name == "ground" else model.getBodySet().get(name)


def _add_bodies(osim, model) -> None:
    for spec in tables.skeleton()["bodies"]:
        ixx, iyy, izz, ixy, ixz, iyz = spec["inertia"]
        body = osim.Body(spec["name"], spec["mass"], _vec3(osim, spec["mass_center"]),
                         osim.Inertia(ixx, iyy, izz, ixy, ixz, iyz))
        model.addBody(body)


def _spatial_transform(osim, axes: list[dict]):
    transform = osim.SpatialTransform()
    for i, spec in enumerate(axes):
        axis = transform.updTransformAxis(i)
        axis.setAxis(_vec3(osim, spec["axis"]))
        names = osim.ArrayStr()
        for name in spec["coordinates"]:
            names.append(name)
        axis.setCoordinateNames(names)
        axis.set_function(_function(osim, spec["function"]))
    return transform


def _add_joints(osim, model) -> None:
    for spec in tables.skeleton()["joints"]:
        parent, child = spec["parent"], spec["child"]
        frames = (_frame(model, parent["body"]), _vec3(osim, parent["translation"]),
                  _vec3(osim, parent["orientation"]), _frame(model, child["body"]),
                  _vec3(osim, child["translation"]), _vec3(osim, child["orientation"]))
        kind = spec["type"]
        if kind == "CustomJoint":
            joint = osim.CustomJoint(spec["name"], *frames, _spatial_transform(osim, spec["spatial_transform"]))
        elif kind in ("PinJoint", "UniversalJoint", "WeldJoint"):
            joint = getattr(osim, kind)(spec["name"], *frames)
        else:
            raise tables.TableError(f"skeleton.yaml joint {spec['name']}: unsupported type {kind}")
        joint.finalizeFromProperties()  # creates a CustomJoint's coordinates from its transform axes
        by_name = {joint.get_coordinates(i).getName(): joint.upd_coordinates(i) for i in range(joint.numCoordinates())}
        if kind != "CustomJoint":  # Pin/Universal joints name their coordinates generically
            by_name = {c["name"]: joint.upd_coordinates(i) for i, c in enumerate(spec["coordinates"])}
        for c in spec["coordinates"]:
            coord = by_name[c["name"]]
            coord.setName(c["name"])
            coord.setRangeMin(c["range"][0])
            coord.setRangeMax(c["range"][1])
            coord.setDefaultValue(c["default"])
            coord.set_clamped(c["clamped"])
            coord.set_locked(c.get("locked", False))
        model.addJoint(joint)


def _add_wrap_objects(osim, model) -> None:
    for spec in tables.wrap_objects().values():
        for side in tables.SIDES:
            if spec["type"] == "cylinder":
                wrap = osim.WrapCylinder()
                wrap.set_radius(spec["radius"])
                wrap.set_length(spec["length"])
            elif spec["type"] == "ellipsoid":
                wrap = osim.WrapEllipsoid()
                wrap.set_dimensions(_vec3(osim, spec["dimensions"]))
            else:
                raise tables.TableError(f"wrap object {spec['name']}: unsupported type {spec['type']}")
            wrap.setName(f"{spec['name']}_{side}")
            wrap.set_translation(_vec3(osim, tables.mirror_point(spec["translation"], side)))
            wrap.set_xyz_body_rotation(_vec3(osim, tables.mirror_rotation(spec["xyz_body_rotation"], side)))
            wrap.set_quadrant(tables.mirror_quadrant(spec.get("quadrant", "all"), side))
            model.updBodySet().get(tables.sided_body(spec["body"], side)).addWrapObject(wrap)


def _moving_point(osim, model, name: str, body, spec: dict, side: str):
    point = osim.MovingPathPoint()
    point.setName(name)
    point.setParentFrame(body)
    coordinate = model.getCoordinateSet().get(f"{spec['coordinate']}_{side}")
    z = [-v for v in spec["z"]] if side == "l" else spec["z"]
    for axis, values in (("x", spec["x"]), ("y", spec["y"]), ("z", z)):
        getattr(point, f"set_{axis}_location")(_function(osim, {"type": "spline", "x": spec["knots"], "y": values}))
        getattr(point, f"connectSocket_{axis}_coordinate")(coordinate)
    return point


def _muscle(osim, model, name: str, spec: dict, shared: dict):
    side = name.rsplit("_", 1)[1]
    muscle = getattr(osim, shared["class"])(name, spec["max_isometric_force"], spec["optimal_fiber_length"],
                                           spec["tendon_slack_length"], spec["pennation_angle"])
    muscle.set_ignore_tendon_compliance(bool(spec.get("ignore_tendon_compliance", False)))
    muscle.set_fiber_damping(shared["fiber_damping"])
    muscle.set_default_activation(shared["default_activation"])
    muscle.set_minimum_activation(shared["minimum_activation"])
    muscle.set_max_contraction_velocity(shared["max_contraction_velocity"])
    for prop, curve_name, getter in (("active_force_length", "ActiveForceLengthCurve", "upd_ActiveForceLengthCurve"),
                                     ("force_velocity", "ForceVelocityCurve", "upd_ForceVelocityCurve"),
                                     ("fiber_force_length", "FiberForceLengthCurve", "upd_FiberForceLengthCurve")):
        curve = getattr(muscle, getter)()
        for key, value in shared[prop].items():
            getattr(curve, f"set_{key}")(value)
    path = muscle.updGeometryPath()
    for i, point in enumerate(spec["path"], start=1):
        body = model.getBodySet().get(tables.sided_body(point["body"], side))
        point_name = f"{name}-P{i}"
        if "moving" in point:
            path.updPathPointSet().adoptAndAppend(_moving_point(osim, model, point_name, body, point["moving"], side))
        else:
            muscle.addNewPathPoint(point_name, body, _vec3(osim, tables.mirror_point(point["location"], side)))
    for i, wrap in enumerate(spec.get("wrap", [])):
        # a wrap is a wrap-object name, or {object: name, range: [first, last]} (1-based path points)
        wrap_name, span = (wrap, None) if isinstance(wrap, str) else (wrap["object"], wrap["range"])
        body_name = tables.sided_body(tables.wrap_objects()[wrap_name]["body"], side)
        path.addPathWrap(model.getBodySet().get(body_name).getWrapObject(f"{wrap_name}_{side}"))
        path_wrap = path.updWrapSet().get(i)
        path_wrap.setName(f"pathwrap_{wrap_name}")
        if span is not None:
            path_wrap.set_range(0, int(span[0]))
            path_wrap.set_range(1, int(span[1]))
    return muscle


def _add_muscles(osim, model) -> None:
    specs, shared = tables.muscles(), tables.muscle_model()
    unknown = set(specs) - {n.rsplit("_", 1)[0] for n in MUSCLE_NAMES}
    if unknown:
        raise tables.TableError(f"muscle tables define muscles outside the vocabulary: {sorted(unknown)}")
    for name in MUSCLE_NAMES:
        base = name.rsplit("_", 1)[0]
        if base not in specs:
            raise tables.TableError(f"muscle tables lack {base!r} (vocabulary muscle {name})")
        model.addForce(_muscle(osim, model, name, specs[base], shared))


def _add_markers(osim, model) -> None:
    locations = tables.markers()
    for landmark in LANDMARKS:
        side = landmark.name[-1] if landmark.name.endswith(("_r", "_l")) else "r"
        base = landmark.name[:-2] if landmark.name.endswith(("_r", "_l")) else landmark.name
        if base not in locations:
            raise tables.TableError(f"markers.yaml lacks landmark {base!r}")
        xyz = tables.mirror_point(locations[base]["location"], side)
        model.addMarker(osim.Marker(landmark.name, model.getBodySet().get(landmark.body), _vec3(osim, xyz)))


def build_model(out_path: str | os.PathLike) -> Path:
    """Generate ULBS-112 from the tables, check that it initialises, write it atomically."""
    osim = opensim()
    model = osim.Model()
    model.setName(MODEL_NAME)
    model.set_credits("BioHuman project; skeleton and lower-limb muscles from Rajagopal et al. 2016")
    model.setGravity(_vec3(osim, GRAVITY))
    _add_bodies(osim, model)
    _add_joints(osim, model)
    _add_wrap_objects(osim, model)
    _add_muscles(osim, model)
    _add_markers(osim, model)
    model.finalizeConnections()
    model.initSystem()
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        if not model.printToXML(str(tmp)):
            raise OSError(f"OpenSim could not write {tmp}")
    logger.info("wrote %s (%d muscles, %d coordinates, %d markers)", out_path,
                model.getMuscles().getSize(), model.getCoordinateSet().getSize(), model.getMarkerSet().getSize())
    return out_path
