"""ULBS-112: generated model loads, has the vocabulary's muscles and the landmark markers, and is anatomical."""

import json
import math

import numpy as np
import pytest
from helpers.paths import RAJAGOPAL_MODEL, require_reference

from biohuman10m.vocabulary import MUSCLE_NAMES
from builder.markers import LANDMARKS
from builder.musculoskeletal import build_model, default_model_path, tables
from builder.musculoskeletal.anatomy import moment_arms, path_lengths

REQUIRED_COORDINATES = (
    "pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz",
    *(f"{c}_{s}" for s in "rl" for c in ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle",
                                          "ankle_angle", "subtalar_angle", "mtp_angle", "arm_flex", "arm_add",
                                          "arm_rot", "elbow_flex", "pro_sup", "wrist_flex", "wrist_dev")),
    "lumbar_extension", "lumbar_bending", "lumbar_rotation", "neck_extension", "neck_bending", "neck_rotation",
)
HEAD_LANDMARKS = ("head_top", "glabella", "inion", "mentum", "tragus_r", "tragus_l")


@pytest.fixture(scope="module")
def model_and_state(tmp_path_factory):
    from builder.biosim.opensim_model import opensim

    path = build_model(tmp_path_factory.mktemp("ulbs") / "ULBS-112.osim")
    model = opensim().Model(str(path))
    return model, model.initSystem()


def test_model_has_vocabulary_muscles_in_order(model_and_state):
    model, _ = model_and_state
    muscles = model.getMuscles()
    assert [muscles.get(i).getName() for i in range(muscles.getSize())] == list(MUSCLE_NAMES)
    classes = {muscles.get(i).getConcreteClassName() for i in range(muscles.getSize())}
    assert classes == {"Millard2012EquilibriumMuscle"}
    assert model.getConstraintSet().getSize() == 0  # no patella couplers: every coordinate is independent


def test_coordinates_exist_with_sane_ranges(model_and_state):
    model, _ = model_and_state
    coords = {c.getName(): c for c in model.getCoordinateSet()}
    assert set(REQUIRED_COORDINATES) <= set(coords)
    for name in REQUIRED_COORDINATES:
        lo, hi = coords[name].getRangeMin(), coords[name].getRangeMax()
        assert lo < hi, name
        if not name.startswith("pelvis_t"):
            assert -math.pi - 1e-6 <= lo and hi <= math.pi + 1e-6, name
        assert not coords[name].get_locked(), name
    knee = coords["knee_angle_r"]
    assert knee.getRangeMin() == pytest.approx(0) and math.degrees(knee.getRangeMax()) == pytest.approx(120, abs=1)


def test_markers_are_the_landmarks_on_their_bodies(model_and_state):
    model, state = model_and_state
    markers = model.getMarkerSet()
    found = {markers.get(i).getName(): markers.get(i).getParentFrame().getName() for i in range(markers.getSize())}
    assert found == {lm.name: lm.body for lm in LANDMARKS}
    ground = {n: markers.get(n).getLocationInGround(state).to_numpy() for n in ("head_top", "heel_r", "heel_l",
                                                                                  "asis_r", "asis_l", "acromion_r")}
    assert 1.6 < ground["head_top"][1] - ground["heel_r"][1] < 1.9        # an adult's stature
    assert ground["asis_r"][2] > 0 > ground["asis_l"][2]                    # right is +z
    assert ground["heel_r"][1] == pytest.approx(ground["heel_l"][1], abs=1e-9)
    total_mass = model.getTotalMass(state)
    assert 70 < total_mass < 80


def test_neck_joint_carries_the_head(model_and_state):
    """A 3-DOF neck at C7/T1 between torso and head: head landmarks ride on the head, nothing else does,
    no muscle crosses it, and its ranges cover adults' active cervical range of motion."""
    model, state = model_and_state
    neck = model.getJointSet().get("neck")
    assert (neck.getParentFrame().findBaseFrame().getName(), neck.getChildFrame().findBaseFrame().getName()) == (
        "torso", "head")
    coords = {neck.get_coordinates(i).getName(): neck.get_coordinates(i) for i in range(neck.numCoordinates())}
    assert set(coords) == {"neck_extension", "neck_bending", "neck_rotation"}
    ranges = {name: np.degrees([c.getRangeMin(), c.getRangeMax()]) for name, c in coords.items()}
    assert all(c.get_clamped() for c in coords.values())
    # healthy young adults, active (Youdas 1992): ~65 flexion, ~85 extension, ~45 lateral flexion, ~75 rotation
    assert ranges["neck_extension"][0] <= -60 and 80 <= ranges["neck_extension"][1] <= 95
    assert ranges["neck_bending"][0] <= -45 and ranges["neck_bending"][1] >= 45
    assert ranges["neck_rotation"][0] <= -75 and ranges["neck_rotation"][1] >= 75
    markers = model.getMarkerSet()
    on_head = {markers.get(i).getName() for i in range(markers.getSize())
               if markers.get(i).getParentFrame().getName() == "head"}
    assert on_head == set(HEAD_LANDMARKS)
    for c in coords.values():  # no muscle spans the neck
        assert all(abs(m.computeMomentArm(state, c)) < 1e-9 for m in model.getMuscles()), c.getName()
    # extension tips the face up (+x anterior -> +y) and moves the head, not the trunk's C7
    before = {n: markers.get(n).getLocationInGround(state).to_numpy() for n in ("glabella", "c7")}
    coords["neck_extension"].setValue(state, math.radians(30))
    model.realizePosition(state)
    after = {n: markers.get(n).getLocationInGround(state).to_numpy() for n in ("glabella", "c7")}
    coords["neck_extension"].setValue(state, 0.0)
    model.realizePosition(state)
    assert after["glabella"][1] - before["glabella"][1] > 0.03
    assert np.linalg.norm(after["c7"] - before["c7"]) < 1e-12
    head = model.getBodySet().get("head")
    assert 0.06 < head.getMass() / model.getTotalMass(state) < 0.08  # de Leva 1996: head+neck 6.9% (male)


# (muscle, coordinate, value or None for default, lower, upper) in cm; OpenSim sign: + drives the coordinate +.
PHYSIOLOGICAL_MOMENT_ARMS = [
    ("soleus_r", "ankle_angle_r", None, -6.0, -3.0),        # plantarflexor (ankle_angle + = dorsiflexion)
    ("gasmed_r", "ankle_angle_r", None, -6.0, -3.0),
    ("tibant_r", "ankle_angle_r", None, 2.5, 6.0),          # dorsiflexor
    ("vaslat_r", "knee_angle_r", None, -6.0, -2.5),         # knee extensors (knee_angle + = flexion)
    ("vasmed_r", "knee_angle_r", None, -6.0, -2.5),
    ("vasint_r", "knee_angle_r", 0.5, -6.0, -2.5),
    ("recfem_r", "knee_angle_r", None, -6.0, -2.5),
    ("bflh_r", "knee_angle_r", None, 1.5, 5.0),             # hamstring flexes the knee
    ("glmax2_r", "hip_flexion_r", None, -9.0, -3.0),        # hip extensor
    ("iliacus_r", "hip_flexion_r", None, 2.0, 6.0),         # hip flexor
    ("ercspn_r", "lumbar_extension", None, 3.0, 7.0),       # trunk extensor
    ("rectabd_r", "lumbar_extension", None, -12.0, -6.0),   # trunk flexor
    ("biclong_r", "elbow_flex_r", None, 0.2, 3.0),          # elbow flexors, extended elbow
    ("biclong_r", "elbow_flex_r", math.pi / 2, 3.0, 6.0),   # ... and at 90 degrees
    ("brachialis_r", "elbow_flex_r", math.pi / 2, 1.0, 4.0),
    ("brachiorad_r", "elbow_flex_r", math.pi / 2, 3.0, 8.0),
    ("trilong_r", "elbow_flex_r", None, -4.0, -1.5),        # elbow extensor
    ("deltmid_r", "arm_add_r", None, -4.0, -1.5),           # abducts (arm_add + = adduction)
    ("deltant_r", "arm_flex_r", None, 0.5, 4.0),            # flexes the shoulder
    ("deltpost_r", "arm_flex_r", None, -4.0, -0.5),         # extends the shoulder
    ("pecmaj_r", "arm_add_r", None, 1.5, 6.0),              # adducts
    ("latdors_r", "arm_flex_r", None, -6.0, -1.5),          # extends
]


@pytest.mark.parametrize("muscle,coordinate,value,lower,upper", PHYSIOLOGICAL_MOMENT_ARMS)
def test_moment_arm_sign_and_magnitude(model_and_state, muscle, coordinate, value, lower, upper):
    model, state = model_and_state
    default = model.getCoordinateSet().get(coordinate).getDefaultValue()
    pose = np.array([default if value is None else value])
    arm_cm = 100 * moment_arms(model, state, (muscle,), coordinate, pose)[0, 0]
    assert lower <= arm_cm <= upper, f"{muscle} about {coordinate}: {arm_cm:.2f} cm"
    left = muscle[:-2] + "_l"
    left_coord = coordinate[:-2] + "_l" if coordinate.endswith("_r") else coordinate
    left_cm = 100 * moment_arms(model, state, (left,), left_coord, pose)[0, 0]
    assert left_cm == pytest.approx(arm_cm, abs=0.05)  # the left side mirrors the right


def test_path_lengths_positive_and_finite_over_ranges(model_and_state):
    model, state = model_and_state
    for c in model.getCoordinateSet():
        if c.getMotionType() != 1:  # translations do not change muscle paths
            continue
        lengths = path_lengths(model, state, c.getName(), np.linspace(c.getRangeMin(), c.getRangeMax(), 5))
        assert np.isfinite(lengths).all(), c.getName()
        assert lengths.min() > 0.02, f"{c.getName()}: shortest path {lengths.min():.4f} m"
        slack = np.array([model.getMuscles().get(i).getTendonSlackLength() for i in range(lengths.shape[1])])
        assert (slack > 0).all() and (slack < lengths.max(axis=0)).all()


def test_default_model_path_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOHUMAN_CACHE", str(tmp_path))
    first = default_model_path()
    stamp = first.stat().st_mtime_ns
    assert first.parent.parent == tmp_path and first.suffix == ".osim"
    assert default_model_path() == first and first.stat().st_mtime_ns == stamp
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temporary left over


def test_missing_table_names_the_file():
    with pytest.raises(tables.TableError, match="no_such_table.yaml"):
        tables.load_table("no_such_table.yaml")


def test_model_command_writes_report(tmp_path):
    from builder.cli import main

    assert main(["model", "-o", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["muscle_count"] == 112 and report["muscles"] == list(MUSCLE_NAMES)
    assert {c["name"] for c in report["coordinates"]} >= set(REQUIRED_COORDINATES)
    assert 70 < report["total_mass_kg"] < 80 and report["marker_count"] == 87
    png = (tmp_path / "report" / "moment_arms.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert (tmp_path / "report" / "ULBS-112.osim").is_file()


def _set_pose(model, state, pose: dict[str, float]) -> None:
    for name, value in pose.items():
        if model.getCoordinateSet().contains(name):
            model.getCoordinateSet().get(name).setValue(state, value, False)
    model.realizePosition(state)


def test_lower_limb_matches_the_reference_model(model_and_state):
    """The transcribed legs (patella replaced by knee-angle splines) reproduce Rajagopal2016's
    muscle lengths at random poses and its knee-extensor moment arms over the knee's range."""
    require_reference(RAJAGOPAL_MODEL)
    from builder.biosim.opensim_model import opensim

    model, state = model_and_state
    reference = opensim().Model(str(RAJAGOPAL_MODEL))
    ref_state = reference.initSystem()
    rng = np.random.default_rng(0)
    # the reference locks subtalar, MTP and wrist coordinates: leave them at zero
    free = [c.getName() for c in model.getCoordinateSet() if c.getMotionType() == 1
            and not c.getName().startswith(("pelvis", "subtalar", "mtp", "wrist"))]
    lower = MUSCLE_NAMES[:80]
    for _ in range(10):
        pose = {n: rng.uniform(model.getCoordinateSet().get(n).getRangeMin(),
                               model.getCoordinateSet().get(n).getRangeMax()) for n in free}
        pose.update({f"knee_angle_{s}_beta": pose[f"knee_angle_{s}"] for s in "rl"})
        _set_pose(model, state, pose)
        _set_pose(reference, ref_state, pose)
        ours = np.array([model.getMuscles().get(n).getLength(state) for n in lower])
        theirs = np.array([reference.getMuscles().get(n).getLength(ref_state) for n in lower])
        assert np.abs(ours - theirs).max() < 1e-4  # 0.1 mm
    knee = np.radians([5.0, 30.0, 60.0, 90.0])
    for name in ("vaslat_r", "vasmed_r", "vasint_r", "recfem_r"):
        ours = moment_arms(model, state, (name,), "knee_angle_r", knee)[:, 0]
        theirs = []
        for q in knee:
            _set_pose(reference, ref_state, {c.getName(): c.getDefaultValue() for c in reference.getCoordinateSet()})
            _set_pose(reference, ref_state, {"knee_angle_r": q, "knee_angle_r_beta": q})
            theirs.append(reference.getMuscles().get(name).computeMomentArm(
                ref_state, reference.getCoordinateSet().get("knee_angle_r")))
        np.testing.assert_allclose(ours, theirs, rtol=0.15, err_msg=name)


def test_torso_and_head_keep_the_reference_trunk(model_and_state):
    """Splitting the head off Rajagopal2016's torso keeps that torso's mass, mass centre and inertia
    (about its mass centre) for torso + head together in the default pose."""
    require_reference(RAJAGOPAL_MODEL)
    from builder.biosim.opensim_model import opensim

    model, state = model_and_state
    reference = opensim().Model(str(RAJAGOPAL_MODEL))
    ref_state = reference.initSystem()
    reference.realizePosition(ref_state)
    model.realizePosition(state)
    ref_torso = reference.getBodySet().get("torso")
    parts = [model.getBodySet().get(name) for name in ("torso", "head")]
    mass = sum(b.getMass() for b in parts)
    com = {b.getName(): b.findStationLocationInGround(state, b.getMassCenter()).to_numpy() for b in parts}
    whole_com = sum(b.getMass() * com[b.getName()] for b in parts) / mass
    inertia = np.zeros((3, 3))
    for b in parts:  # bodies are not rotated in the default pose: body axes are ground axes
        i = b.getInertia()
        (ixx, iyy, izz), (ixy, ixz, iyz) = i.getMoments().to_numpy(), i.getProducts().to_numpy()
        d = com[b.getName()] - whole_com
        inertia += np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]])
        inertia += b.getMass() * (d @ d * np.eye(3) - np.outer(d, d))
    ref_com = ref_torso.findStationLocationInGround(ref_state, ref_torso.getMassCenter()).to_numpy()
    assert mass == pytest.approx(ref_torso.getMass(), abs=1e-5)
    np.testing.assert_allclose(whole_com, ref_com, atol=1e-5)
    np.testing.assert_allclose(np.diag(inertia), ref_torso.getInertia().getMoments().to_numpy(), atol=1e-5)
    np.testing.assert_allclose(inertia[[0, 0, 1], [1, 2, 2]], 0.0, atol=1e-5)
