"""Body surface: Anny retargeting, SMPL via smplx, marker tables, height and mass."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import trimesh

from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from builder.body import NEUTRAL_POSE, SmplBody, marker_vertex_ids, measure_subject
from builder.body.anny_body import _JOINT_BONES
from builder.body.landmarks import DATA_DIR, find_landmarks, read_marker_table
from builder.body.measure import BODY_DENSITY, body_mass
from builder.body.skeleton import ANNY_TO_SMPL, posed_joints, world_rotations
from builder.markers import MARKER_NAMES

SEGMENTS = [(1, 4), (4, 7), (7, 10), (2, 5), (5, 8), (8, 11), (13, 16), (16, 18), (18, 20), (20, 22),
            (14, 17), (17, 19), (19, 21), (21, 23)]


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_anny_bones_follow_smpl_segment_directions(anny_body):
    rng = np.random.default_rng(0)
    poses = np.vstack([np.zeros(72), rng.normal(0, 0.5, (6, 72))])
    out = anny_body._forward(poses, np.zeros((len(poses), 3)))
    heads = out["bone_poses"][:, :, :3, 3].double().numpy() @ ANNY_TO_SMPL.T
    anny_joints = heads[:, [anny_body._bone_index[name] for name in _JOINT_BONES]]
    smpl_joints = posed_joints(world_rotations(poses), SMPL_NEUTRAL_REST_JOINTS, np.zeros((len(poses), 3)))
    for a, b in SEGMENTS:
        assert _angle_deg(anny_joints[:, b] - anny_joints[:, a], smpl_joints[:, b] - smpl_joints[:, a]).max() < 1.0


def test_anny_zero_pose_is_a_t_pose_and_trans_moves_the_body(anny_body):
    rest = anny_body.rest_body()
    arm = rest.joints[20] - rest.joints[16]              # left shoulder -> wrist
    assert _angle_deg(arm, np.array([1.0, 0, 0])) < 10   # straight out to the body's left (+X)
    head_over_feet = rest.joints[15] - rest.joints[[7, 8]].mean(0)
    assert _angle_deg(head_over_feet, np.array([0, 1.0, 0])) < 5
    shift = np.array([[0.3, -0.1, 2.0]])
    moved = anny_body.posed_vertices(np.zeros((1, 72)), shift)[0]
    np.testing.assert_allclose(moved - rest.vertices, np.broadcast_to(shift, moved.shape), atol=1e-5)


def test_shipped_anny_marker_table_matches_the_landmark_rules(anny_body):
    ids = read_marker_table(DATA_DIR / "markers_anny.csv")
    np.testing.assert_array_equal(ids, find_landmarks(anny_body.rest_body()))
    assert len(set(ids.tolist())) == len(MARKER_NAMES)


def test_markers_are_bilaterally_symmetric_and_on_their_side(anny_body):
    rest = anny_body.rest_body()
    pos = dict(zip(MARKER_NAMES, rest.vertices[marker_vertex_ids(anny_body)]))
    for name in MARKER_NAMES:
        if name.endswith("_l"):
            left, right = pos[name], pos[name[:-2] + "_r"]
            assert left[0] > 0 > right[0], name                       # +X is the body's left
            assert np.linalg.norm(left - right * [-1, 1, 1]) < 0.025, name
    assert pos["head_top"][1] > pos["glabella"][1] > pos["c7"][1] > pos["sacrum"][1] > pos["knee_lateral_l"][1]
    assert pos["heel_l"][2] < pos["ankle_lateral_l"][2] < pos["toe_l"][2]  # heel behind, toe ahead (+Z)


def test_height_and_mass_from_the_mesh(anny_body):
    subject = measure_subject(anny_body)
    assert 1.6 < subject.height < 2.0
    assert 50 < subject.mass < 100
    assert subject.static_markers.shape == (len(MARKER_NAMES), 3)
    wrist = subject.static_markers[MARKER_NAMES.index("wrist_radial_l")]
    hip = subject.static_markers[MARKER_NAMES.index("trochanter_l")]
    assert wrist[1] < hip[1] + 0.15  # arms down in the static pose
    box = trimesh.creation.box(extents=(0.1, 0.2, 0.5))
    assert body_mass(box.vertices, box.faces) == pytest.approx(0.01 * BODY_DENSITY)
    with pytest.raises(ValueError, match="not watertight"):
        body_mass(box.vertices, box.faces[:-1])


def test_procedural_smpl_model_runs_through_smplx(procedural_smpl_path, anny_body, tmp_path, monkeypatch):
    monkeypatch.setenv("BIOHUMAN_CACHE", str(tmp_path))
    body = SmplBody(procedural_smpl_path, betas=np.zeros(10))
    rng = np.random.default_rng(1)
    poses, trans = rng.normal(0, 0.3, (4, 72)), rng.normal(0, 1, (4, 3))
    smpl_verts = body.posed_vertices(poses, trans)
    assert smpl_verts.dtype == np.float32 and smpl_verts.shape == (4, anny_body.faces.max() + 1, 3)
    # same mesh and rig, two code paths (smplx LBS vs Anny's retargeted skinning): close surfaces
    assert np.median(np.abs(smpl_verts - anny_body.posed_vertices(poses, trans))) < 0.02
    tall = SmplBody(procedural_smpl_path, betas=np.array([2.0]))
    assert measure_subject(tall).height > 1.05 * measure_subject(body).height
    ids = marker_vertex_ids(body)  # derived from the rules for a topology without a shipped table
    assert len(set(ids.tolist())) > 80
    static = body.posed_vertices(NEUTRAL_POSE[None], np.zeros((1, 3)))[0, ids]
    assert np.isfinite(static).all()


def test_smpl_body_errors_name_the_file(tmp_path, procedural_smpl_path):
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        SmplBody(tmp_path / "missing.pkl")
    with pytest.raises(FileNotFoundError, match="SMPL_MALE.pkl"):
        SmplBody(tmp_path, gender="male")
    with pytest.raises(ValueError, match="unknown gender"):
        SmplBody(procedural_smpl_path, gender="robot")
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(procedural_smpl_path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="broken.pkl"):
        SmplBody(broken)
    incomplete = tmp_path / "incomplete.pkl"
    with open(incomplete, "wb") as f:
        pickle.dump({"v_template": np.zeros((10, 3))}, f)
    with pytest.raises(ValueError, match="incomplete.pkl"):
        SmplBody(incomplete)
