"""OpenSim ScaleTool and IK wrappers on ULBS-112: proportional scaling, and IK on a real walking trial."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.paths import RAJAGOPAL_PIPELINE, require_reference

from builder.biosim.ik import run_ik
from builder.biosim.opensim_model import opensim
from builder.biosim.scale import (
    ANATOMICAL_STATIC_POSE,
    lower_limb_muscle_volume_cm3,
    model_stature,
    path_lengths,
    scale_model,
)
from builder.musculoskeletal import build_model
from builder.musculoskeletal.reference_markers import RAJAGOPAL_TO_ULBS
from builder.trc import MarkerTrajectories, write_trc

EXP_DATA = RAJAGOPAL_PIPELINE / "ExpData"


@pytest.fixture(scope="module")
def generic_model(tmp_path_factory):
    return build_model(tmp_path_factory.mktemp("ulbs") / "ULBS-112.osim")


def _static_trc(model_path: Path, factor: float, out: Path, pose: dict | None = None) -> Path:
    """A static standing trial of a subject ``factor`` times the model's size (all 87 markers),
    the model in its default pose or with ``pose``'s coordinates set."""
    model = opensim().Model(str(model_path))
    state = model.initSystem()
    for name, value in (pose or {}).items():
        coord = model.getCoordinateSet().get(name)
        coord.setValue(state, min(max(value, coord.getRangeMin()), coord.getRangeMax()), False)
    model.realizePosition(state)
    markers = model.getMarkerSet()
    names = [markers.get(i).getName() for i in range(markers.getSize())]
    xyz = np.array([markers.get(n).getLocationInGround(state).to_numpy() for n in names]) * factor
    write_trc(out, MarkerTrajectories(times=np.arange(5) / 100.0, names=names, data=np.repeat(xyz[None], 5, axis=0)))
    return out


def _segment_lengths(model) -> dict[str, float]:
    state = model.initSystem()
    bodies = model.getBodySet()

    def distance(a, b):
        return float(np.linalg.norm(bodies.get(a).getPositionInGround(state).to_numpy()
                                    - bodies.get(b).getPositionInGround(state).to_numpy()))

    return {"thigh": distance("femur_r", "tibia_r"), "shank": distance("tibia_r", "talus_r"),
            "upper_arm": distance("humerus_l", "ulna_l"), "forearm": distance("radius_l", "hand_l"),
            "trunk": distance("torso", "humerus_r")}


@pytest.mark.parametrize("height,mass", [(1.60, 55.0), (1.90, 95.0)])
def test_scaling_gives_proportionate_subject(generic_model, tmp_path, height, mass):
    osim = opensim()
    generic = osim.Model(str(generic_model))
    factor = height / model_stature(generic)
    static = _static_trc(generic_model, factor, tmp_path / "static.trc")
    scaled_path = scale_model(generic_model, static, height, mass, tmp_path / "subject.osim")
    scaled = osim.Model(str(scaled_path))
    state = scaled.initSystem()
    assert scaled.getTotalMass(state) == pytest.approx(mass, rel=1e-6)
    assert model_stature(scaled) == pytest.approx(height, rel=0.03)
    before, after = _segment_lengths(generic), _segment_lengths(scaled)
    for segment, length in before.items():
        assert after[segment] / length == pytest.approx(factor, rel=0.03), segment
    assert scaled.getMarkerSet().getSize() == 87
    generic_muscles, muscles = generic.getMuscles(), scaled.getMuscles()
    assert muscles.getSize() == 112
    for i in range(muscles.getSize()):
        m, g = muscles.get(i), generic_muscles.get(i)
        slack, path = m.getTendonSlackLength(), m.getLength(state)
        assert 0 < slack < path, m.getName()
        assert slack / g.getTendonSlackLength() == pytest.approx(factor, rel=0.1), m.getName()
        assert m.getOptimalFiberLength() / g.getOptimalFiberLength() == pytest.approx(factor, rel=0.1), m.getName()
    # OpenSim's rule in the generic default pose: fibre and tendon follow the path; F_max by muscle volume
    ratio = {name: length / before for (name, length), before in zip(path_lengths(scaled).items(),
                                                                       path_lengths(generic).values())}
    volume = lower_limb_muscle_volume_cm3(mass, height) / lower_limb_muscle_volume_cm3(
        generic.getTotalMass(generic.initSystem()), model_stature(generic))
    for i in range(muscles.getSize()):
        m, g = muscles.get(i), generic_muscles.get(i)
        assert m.getOptimalFiberLength() == pytest.approx(g.getOptimalFiberLength() * ratio[m.getName()], rel=1e-9)
        assert m.getTendonSlackLength() == pytest.approx(g.getTendonSlackLength() * ratio[m.getName()], rel=1e-9)
        assert m.getMaxIsometricForce() == pytest.approx(g.getMaxIsometricForce() * volume / ratio[m.getName()],
                                                         rel=1e-9)


def test_static_pose_is_held_while_markers_are_placed(generic_model, tmp_path):
    osim = opensim()
    pose = dict(ANATOMICAL_STATIC_POSE)
    static = _static_trc(generic_model, 1.0, tmp_path / "static.trc", pose)
    scaled = osim.Model(str(scale_model(generic_model, static, model_stature(osim.Model(str(generic_model))), 75.0,
                                        tmp_path / "subject.osim", static_pose=pose)))
    generic = osim.Model(str(generic_model))
    for i in range(generic.getMarkerSet().getSize()):  # the trial matches the held pose: nothing moves
        marker = generic.getMarkerSet().get(i)
        placed = scaled.getMarkerSet().get(marker.getName())
        moved = placed.get_location().to_numpy() - marker.get_location().to_numpy()
        assert np.linalg.norm(moved) < 0.005, marker.getName()
    for name in pose:  # the written model keeps the generic defaults and locks
        coord = scaled.getCoordinateSet().get(name)
        assert coord.getDefaultValue() == 0 and not coord.get_locked()
    with pytest.raises(ValueError, match="no_such_coordinate"):
        scale_model(generic_model, static, 1.7, 75.0, tmp_path / "x.osim", static_pose={"no_such_coordinate": 0.0})


def test_scale_rejects_bad_input(generic_model, tmp_path):
    with pytest.raises(ValueError, match="missing.trc"):
        scale_model(generic_model, tmp_path / "missing.trc", 1.7, 70, tmp_path / "out.osim")
    with pytest.raises(ValueError, match="height"):
        scale_model(generic_model, tmp_path / "missing.trc", 170, 70, tmp_path / "out.osim")


def _renamed_trc(source: Path, out: Path) -> Path:
    lines = source.read_text().splitlines()
    lines[3] = "\t".join(RAJAGOPAL_TO_ULBS.get(token.strip(), token) for token in lines[3].split("\t"))
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.slow
def test_ik_on_real_walking_trial(generic_model, tmp_path):
    require_reference(EXP_DATA)
    static = _renamed_trc(EXP_DATA / "static_walk_1.trc", tmp_path / "static.trc")
    walk = _renamed_trc(EXP_DATA / "motion_capture_walk.trc", tmp_path / "walk.trc")
    subject = scale_model(generic_model, static, 1.80, 75.0, tmp_path / "subject.osim", time_range=(0.5, 1.0))
    report = run_ik(subject, walk, tmp_path / "out" / "walk_ik.mot")
    json.dumps(report)  # JSON-serialisable
    assert report["frames"] == 238 and len(report["rms_m"]) == 238
    assert set(report["markers"]) == set(RAJAGOPAL_TO_ULBS.values()) - {
        "knee_medial_r", "knee_medial_l", "ankle_medial_r", "ankle_medial_l"}  # static-only markers
    assert report["rms_mean_m"] < 0.02 and report["rms_max_m"] < 0.02, report["rms_mean_m"]
    motion = opensim().TimeSeriesTable(str(tmp_path / "out" / "walk_ik.mot"))
    knee = motion.getDependentColumn("knee_angle_r").to_numpy()
    assert knee.max() - knee.min() > 40  # a gait cycle's knee flexion swing (degrees)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_ik_rejects_bad_input(generic_model, tmp_path):
    with pytest.raises(ValueError, match="nowhere.trc"):
        run_ik(generic_model, tmp_path / "nowhere.trc", tmp_path / "x.mot")
    static = _static_trc(generic_model, 1.0, tmp_path / "static.trc")
    with pytest.raises(ValueError, match="not_a_marker"):
        run_ik(generic_model, static, tmp_path / "x.mot", marker_weights={"not_a_marker": 1.0})
