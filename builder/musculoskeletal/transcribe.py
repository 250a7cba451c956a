"""Authoring tool: transcribe Rajagopal et al. (2016) anatomical numbers into our tables.

Run once by a developer (``python -m builder.musculoskeletal.transcribe REFERENCE.osim``); it
rewrites ``data/skeleton.yaml``, ``data/muscles_lower_limb.yaml`` and ``data/wrap_objects_lower_limb.yaml``.
The generator never reads the reference model: it reads only the tables in ``data/``.

Changes to the reference made here, on purpose:
- the patella bodies, the patellofemoral joints and their coupler constraints are dropped;
  the quadriceps path points that rode on the patella become tibia-fixed moving path points
  whose location is a spline of the knee angle sampled from the reference kinematics, so the
  knee-extensor moment arms are kept without the extra ``knee_angle_*_beta`` coordinates;
- every coordinate is unlocked (the reference locks MTP and wrist; video motion moves them);
- the root (pelvis) coordinates are unclamped and its rotations span [-pi, pi] (a subject may face
  any direction in the lab);
- the shoulders reach overhead: ``arm_flex`` spans [-90, 180] deg and ``arm_add`` [-180, 90] deg
  (the reference stops at 90 deg flexion and 120 deg abduction; video motion raises the arms);
- ``arm_flex`` and ``arm_rot`` are not clamped: near gimbal lock of the shoulder's Z-X-Y angles (arm
  abducted about 90 deg) a small arm motion swings them together by up to 180 deg, and a clamp there
  traps inverse kinematics on the wrong branch for the rest of a motion (``arm_add`` stays clamped);
- the head and neck become their own body, ``head``, on a 3-DOF ``neck`` joint at C7/T1 (the reference
  carries them on the torso): head+neck segment of de Leva (1996, male, vertex-to-C7 endpoints: 6.94% of
  body mass, mass centre 50.02% of the 242.9 mm length below the vertex, radii of gyration 30.3/26.1/31.5%
  of it about the anteroposterior/longitudinal/mediolateral axes), the length scaled from de Leva's
  1.741 m to this model's 1.70 m stature; the torso keeps the rest, so total mass, whole-body mass centre and
  whole-body inertia in the default pose are the reference's. Neck ranges cover healthy young adults'
  active cervical range of motion (Youdas et al. 1992, Phys Ther 72(11): about 65 deg flexion,
  85 extension, 45 lateral flexion and 75 axial rotation to each side) with a margin;
- only the right leg's muscles are stored: the left leg is their mirror image (z -> -z).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

DATA_DIR = Path(__file__).with_name("data")
_KNEE_KNOTS = np.radians(np.arange(0.0, 121.0, 10.0))
_WIDENED_RANGES_DEG = {"arm_flex": (-90.0, 180.0), "arm_add": (-180.0, 90.0)}
_UNCLAMPED = ("arm_flex", "arm_rot")

NECK_JOINT_IN_TORSO = (-0.0195, 0.41, 0.0)
"""C7/T1 in the torso frame (m): midway between the jugular-notch and C7 landmarks of ``markers.yaml``."""
VERTEX_IN_TORSO = (0.0, 0.69, 0.0)
"""Vertex of the skull (the ``head_top`` landmark) in the torso frame (m)."""
HEAD_MASS_FRACTION = 0.0694
HEAD_LENGTH_M = 0.2429 * 1.70 / 1.741
HEAD_COM_FROM_VERTEX = 0.5002
HEAD_GYRATION = (0.303, 0.261, 0.315)  # fractions of the length: x anteroposterior, y longitudinal, z mediolateral
NECK_RANGES_DEG = {"neck_extension": (-70.0, 85.0), "neck_bending": (-50.0, 50.0), "neck_rotation": (-80.0, 80.0)}
"""Axes as the lumbar joint's: + extension (about z), + bending to the right (x), + rotation to the left (y)."""


def _r(x, nd=6):
    return [round(float(v), nd) for v in x]


def _vec(v) -> list[float]:
    return _r([v.get(i) for i in range(3)])


def _function(osim, f) -> dict:
    kind = f.getConcreteClassName()
    if kind == "LinearFunction":
        lf = osim.LinearFunction.safeDownCast(f)
        return {"type": "linear", "slope": float(lf.getSlope()), "intercept": float(lf.getIntercept())}
    if kind == "Constant":
        return {"type": "constant", "value": float(osim.Constant.safeDownCast(f).getValue())}
    if kind == "SimmSpline":
        sp = osim.SimmSpline.safeDownCast(f)
        n = sp.getSize()
        return {"type": "spline", "x": _r([sp.getX(i) for i in range(n)]), "y": _r([sp.getY(i) for i in range(n)])}
    raise ValueError(f"unsupported function {kind}")


def _offset(osim, frame) -> dict:
    pof = osim.PhysicalOffsetFrame.safeDownCast(frame)
    return {"body": pof.getParentFrame().getName(),
            "translation": _vec(pof.get_translation()), "orientation": _vec(pof.get_orientation())}


def _skeleton(osim, model) -> dict:
    bodies = []
    for b in model.getBodySet():
        if b.getName().startswith("patella"):
            continue
        inertia = b.getInertia()
        moments, products = inertia.getMoments(), inertia.getProducts()
        bodies.append({"name": b.getName(), "mass": round(b.getMass(), 6),
                       "mass_center": _vec(b.getMassCenter()),
                       "inertia": _vec(moments) + _vec(products)})
    joints = []
    for j in model.getJointSet():
        if j.getName().startswith("patellofemoral"):
            continue
        kind = j.getConcreteClassName()
        coords = []
        for i in range(j.numCoordinates()):
            c = j.get_coordinates(i)
            coords.append({"name": c.getName(), "range": _r([c.getRangeMin(), c.getRangeMax()]),
                           "default": round(c.getDefaultValue(), 6), "clamped": bool(c.get_clamped())})
        entry = {"name": j.getName(), "type": kind,
                 "parent": _offset(osim, j.getParentFrame()), "child": _offset(osim, j.getChildFrame()),
                 "coordinates": coords}
        if kind == "CustomJoint":
            st = osim.CustomJoint.safeDownCast(j).getSpatialTransform()
            axes = []
            for i in range(6):
                ta = st.getTransformAxis(i)
                names = [ta.getCoordinateNamesInArray().get(k)
                         for k in range(ta.getCoordinateNamesInArray().getSize())]
                axes.append({"axis": _vec(ta.getAxis()), "coordinates": names,
                             "function": _function(osim, ta.get_function())})
            entry["spatial_transform"] = axes
        joints.append(entry)
    return {"bodies": bodies, "joints": joints}


def _steiner(mass: float, offset: np.ndarray) -> np.ndarray:
    """Inertia (3, 3) of a point mass at ``offset`` about the origin (parallel-axis term)."""
    return mass * (offset @ offset * np.eye(3) - np.outer(offset, offset))


def _inertia_matrix(values: list[float]) -> np.ndarray:
    ixx, iyy, izz, ixy, ixz, iyz = values
    return np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]])


def _split_head(skeleton: dict) -> None:
    """Move the head and neck off the torso onto a ``head`` body with a 3-DOF ``neck`` joint (in place)."""
    torso = next(b for b in skeleton["bodies"] if b["name"] == "torso")
    total = sum(b["mass"] for b in skeleton["bodies"])
    joint, vertex = np.array(NECK_JOINT_IN_TORSO), np.array(VERTEX_IN_TORSO)
    head_mass = HEAD_MASS_FRACTION * total
    head_com = vertex - np.array([0.0, HEAD_COM_FROM_VERTEX * HEAD_LENGTH_M, 0.0])  # torso frame
    head_inertia = head_mass * np.diag((np.array(HEAD_GYRATION) * HEAD_LENGTH_M) ** 2)
    both_mass, both_com = torso["mass"], np.array(torso["mass_center"])
    rest_mass = both_mass - head_mass
    rest_com = (both_mass * both_com - head_mass * head_com) / rest_mass
    rest_inertia = (_inertia_matrix(torso["inertia"]) - head_inertia
                    - _steiner(head_mass, head_com - both_com) - _steiner(rest_mass, rest_com - both_com))
    if np.linalg.eigvalsh(rest_inertia).min() <= 0:
        raise ValueError("the torso left after removing the head has no valid inertia")
    torso.update(mass=round(rest_mass, 6), mass_center=_r(rest_com),
                 inertia=_r(np.diag(rest_inertia)) + _r(rest_inertia[[0, 0, 1], [1, 2, 2]]))
    skeleton["bodies"].insert(skeleton["bodies"].index(torso) + 1, {
        "name": "head", "mass": round(head_mass, 6), "mass_center": _r(head_com - joint),
        "inertia": _r(np.diag(head_inertia)) + [0.0, 0.0, 0.0]})
    axes = [{"axis": axis, "coordinates": [name], "function": {"type": "linear", "slope": 1.0, "intercept": 0.0}}
            for axis, name in zip(([0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]), NECK_RANGES_DEG)]
    axes += [{"axis": axis, "coordinates": [], "function": {"type": "constant", "value": 0.0}}
             for axis in ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])]
    back = next(i for i, j in enumerate(skeleton["joints"]) if j["child"]["body"] == "torso")
    skeleton["joints"].insert(back + 1, {
        "name": "neck", "type": "CustomJoint",
        "parent": {"body": "torso", "translation": _r(joint), "orientation": [0.0, 0.0, 0.0]},
        "child": {"body": "head", "translation": [0.0, 0.0, 0.0], "orientation": [0.0, 0.0, 0.0]},
        "coordinates": [{"name": name, "range": _r(np.radians(rng)), "default": 0.0, "clamped": True}
                        for name, rng in NECK_RANGES_DEG.items()],
        "spatial_transform": axes})


def _side_free(name: str) -> str:
    return name[:-2] if name.endswith(("_r", "_l")) else name


def _patella_point_splines(osim, model, state, point, knee, beta, patella, tibia) -> dict:
    xyz = []
    for q in _KNEE_KNOTS:
        knee.setValue(state, q, False)
        beta.setValue(state, q, False)
        model.realizePosition(state)
        xyz.append(patella.findStationLocationInAnotherFrame(state, point, tibia).to_numpy())
    xyz = np.array(xyz)
    return {"coordinate": "knee_angle", "knots": _r(_KNEE_KNOTS),
            "x": _r(xyz[:, 0]), "y": _r(xyz[:, 1]), "z": _r(xyz[:, 2])}


def _muscles(osim, model) -> list[dict]:
    state = model.initSystem()
    coords = model.getCoordinateSet()
    knee, beta = coords.get("knee_angle_r"), coords.get("knee_angle_r_beta")
    patella, tibia = model.getBodySet().get("patella_r"), model.getBodySet().get("tibia_r")
    rows = []
    for m in model.getMuscles():
        if not m.getName().endswith("_r"):
            continue
        mill = osim.Millard2012EquilibriumMuscle.safeDownCast(m)
        path = m.getGeometryPath()
        points = []
        pps = path.getPathPointSet()
        for i in range(pps.getSize()):
            p = pps.get(i)
            body = p.getParentFrame().getName()
            loc = p.getLocation(state)
            if body == "patella_r":
                points.append({"body": "tibia", "moving": _patella_point_splines(
                    osim, model, state, loc, knee, beta, patella, tibia)})
            else:
                points.append({"body": _side_free(body), "location": _vec(loc)})
        wraps = []
        for i in range(path.getWrapSet().getSize()):
            pw = path.getWrapSet().get(i)
            name, span = _side_free(pw.getWrapObjectName()), [pw.get_range(0), pw.get_range(1)]
            wraps.append(name if span == [-1, -1] else {"object": name, "range": span})
        rows.append({"name": _side_free(m.getName()),
                     "max_isometric_force": round(m.getMaxIsometricForce(), 3),
                     "optimal_fiber_length": round(m.getOptimalFiberLength(), 6),
                     "tendon_slack_length": round(m.getTendonSlackLength(), 6),
                     "pennation_angle": round(m.getPennationAngleAtOptimalFiberLength(), 6),
                     "ignore_tendon_compliance": bool(mill.get_ignore_tendon_compliance()),
                     "path": points, "wrap": wraps})
    return rows


def _wrap_objects(osim, model) -> list[dict]:
    rows = []
    for b in model.getBodySet():
        ws = b.getWrapObjectSet()
        for i in range(ws.getSize()):
            w = ws.get(i)
            if not w.getName().endswith("_r"):
                continue
            cyl = osim.WrapCylinder.safeDownCast(w)
            rows.append({"name": _side_free(w.getName()), "body": _side_free(b.getName()),
                         "type": "cylinder", "radius": round(cyl.get_radius(), 6),
                         "length": round(cyl.get_length(), 6),
                         "translation": _vec(w.get_translation()),
                         "xyz_body_rotation": _vec(w.get_xyz_body_rotation()),
                         "quadrant": w.get_quadrant(), "source": "Rajagopal2016"})
    return rows


def _dump(path: Path, header: str, payload) -> None:
    text = yaml.safe_dump(payload, sort_keys=False, default_flow_style=None, width=120)
    path.write_text(header + text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="path to Rajagopal2016.osim")
    args = parser.parse_args(argv)
    import opensim as osim

    osim.Logger.setLevelString("error")
    model = osim.Model(str(args.reference))
    model.initSystem()
    header = ("# Transcribed from Rajagopal et al. (2016), IEEE TBME 63(10), by\n"
              "# builder/musculoskeletal/transcribe.py (see its docstring for the deliberate changes).\n")
    skeleton = _skeleton(osim, model)
    _split_head(skeleton)
    for joint in skeleton["joints"]:
        for c in joint["coordinates"]:
            c["locked"] = False
            widened = _WIDENED_RANGES_DEG.get(c["name"][:-2])
            if widened:
                c["range"] = _r(np.radians(widened))
            if c["name"][:-2] in _UNCLAMPED:
                c["clamped"] = False
            if joint["parent"]["body"] == "ground":
                c["clamped"] = False
                if c["name"] in ("pelvis_tilt", "pelvis_list", "pelvis_rotation"):
                    c["range"] = [round(-np.pi, 6), round(np.pi, 6)]
    _dump(DATA_DIR / "skeleton.yaml", header + "# Units: kg, m, kg m^2, rad. Body frames as in the reference.\n",
          skeleton)
    _dump(DATA_DIR / "muscles_lower_limb.yaml",
          header + "# Right leg; the left leg is mirrored (z -> -z). Lengths in m, forces in N, angles in rad.\n",
          {"muscles": _muscles(osim, model)})
    _dump(DATA_DIR / "wrap_objects_lower_limb.yaml", header + "# Right side; mirrored for the left.\n",
          {"wrap_objects": _wrap_objects(osim, model)})


if __name__ == "__main__":
    main()
