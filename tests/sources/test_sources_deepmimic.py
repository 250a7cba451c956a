"""DeepMimic clips of the pybullet wheel retargeted to SMPL: geometry, left/right, gait physiology."""

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import find_peaks

from biohuman10m.metrics import smpl_forward_kinematics
from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import SMPL_JOINT_NAMES
from builder.body.skeleton import world_rotations
from builder.sources import (
    MotionSourceError,
    deepmimic,
    embedded_motion,
    embedded_motions,
    read_deepmimic,
    read_motion,
)

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def _joints(sequence):
    """World joint positions (T, 24, 3) of an SMPL sequence on the neutral rest skeleton."""
    return smpl_forward_kinematics(sequence.poses, SMPL_NEUTRAL_REST_JOINTS) + sequence.trans[:, None]


def _knee_flexion(joints, side):
    hip, knee, ankle = (joints[:, J[f"{side}_{name}"]] for name in ("hip", "knee", "ankle"))
    thigh, shank = knee - hip, ankle - knee
    cos = (thigh * shank).sum(1) / np.linalg.norm(thigh, axis=1) / np.linalg.norm(shank, axis=1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_embedded_motions_are_the_pybullet_clips():
    clips = embedded_motions()
    assert {"walk", "run", "jump", "kick", "backflip", "cartwheel"} <= set(clips)
    assert all(path.is_file() and path.name == f"humanoid3d_{name}.txt" for name, path in clips.items())
    with pytest.raises(MotionSourceError, match="no embedded motion 'moonwalk'"):
        embedded_motion("moonwalk")


def test_humanoid_table_matches_the_urdf_in_the_wheel():
    urdf = deepmimic.motions_dir().parents[1] / "humanoid" / "humanoid.urdf"
    root = ET.fromstring(urdf.read_bytes().replace(b"\x00", b""))  # the shipped file ends in NUL bytes
    origins = {joint.get("name"): np.array(joint.find("origin").get("xyz").split(), float)
               for joint in root.iter("joint")}
    for name, offset in deepmimic.HUMANOID_OFFSETS.items():
        np.testing.assert_allclose(offset, origins[name] * deepmimic.URDF_SCALE, atol=1e-9, err_msg=name)
    assert 1.55 < deepmimic.HUMANOID_HEIGHT < 1.70


@pytest.mark.parametrize("clip", ["walk", "run", "cartwheel"])
def test_smpl_bones_point_where_the_humanoid_bones_point(clip):
    frames, _ = deepmimic._frames(embedded_motion(clip))
    humanoid = deepmimic.humanoid_world_rotations(frames)
    sequence = read_deepmimic(embedded_motion(clip))[0]
    smpl = world_rotations(sequence.poses)
    to_smpl = deepmimic.SPEC.to_smpl
    down = np.array([0.0, -1.0, 0.0])
    pairs = [("left_hip", "left_knee", "left_hip", down), ("right_knee", "right_ankle", "right_knee", down),
             ("left_ankle", "left_foot", "left_ankle", deepmimic.FOOT_CENTRE),
             ("left_shoulder", "left_elbow", "left_shoulder", down), ("right_elbow", "right_wrist", "right_elbow", down)]
    for joint, child, segment, rest_direction in pairs:
        smpl_bone = smpl[:, J[joint]] @ (SMPL_NEUTRAL_REST_JOINTS[J[child]] - SMPL_NEUTRAL_REST_JOINTS[J[joint]])
        source_bone = to_smpl @ humanoid[:, deepmimic.SEGMENTS.index(segment)] @ rest_direction
        cos = (smpl_bone * source_bone).sum(1) / np.linalg.norm(smpl_bone, axis=1) / np.linalg.norm(source_bone, axis=1)
        assert cos.min() > 1 - 1e-6, (clip, joint)
    # The whole chest rotation reaches spine3; the neck's reaches the head.
    np.testing.assert_allclose(smpl[:, J["spine3"]], np.einsum("ij,tjk,lk->til", to_smpl,
                               humanoid[:, deepmimic.SEGMENTS.index("chest")], to_smpl), atol=1e-6)


def test_walk_gait_is_physiological_and_left_right_are_not_swapped():
    sequence = read_motion(embedded_motion("walk"))[0]
    assert sequence.fps == 30.0 and sequence.num_frames == 39 and sequence.source == "deepmimic"
    joints = _joints(sequence)
    # The humanoid walks along its +X, i.e. SMPL's forward +Z, at a human speed (scaled to 1.70 m).
    travel = sequence.trans[-1] - sequence.trans[0]
    speed = np.linalg.norm(travel) / (sequence.times[-1])
    assert travel[2] > 0.95 * np.linalg.norm(travel) and 0.8 < speed < 1.4
    # SMPL joint 1 is the left hip and SMPL +X is the body's left: facing +Z, the left hip is at +X.
    assert (joints[:, J["left_hip"], 0] > joints[:, J["right_hip"], 0] + 0.1).all()
    assert (joints[:, J["left_shoulder"], 0] > joints[:, J["right_shoulder"], 0]).all()
    # Feet stay near the floor (y = 0) and the pelvis at a standing height.
    feet = joints[:, [J["left_ankle"], J["right_ankle"]], 1]
    assert 0.0 < feet.min() < 0.15 and 0.85 < joints[:, 0, 1].mean() < 1.1
    for side in ("left", "right"):
        flexion = _knee_flexion(joints, side)
        # The walk clip is one stride: a loading-response peak and a swing peak per leg.
        peaks, _ = find_peaks(np.concatenate([flexion, flexion[1:]]), prominence=5)
        heights = sorted(np.concatenate([flexion, flexion[1:]])[peaks[peaks < len(flexion)]])
        assert len(heights) == 2, (side, heights)
        assert 10 < heights[0] < 30 and 55 < heights[1] < 80, (side, heights)
        assert flexion.min() < 8
    # Swing of one leg happens while the other is in stance: peaks half a stride apart.
    left_peak = np.argmax(_knee_flexion(joints, "left"))
    right_peak = np.argmax(_knee_flexion(joints, "right"))
    phase = ((right_peak - left_peak) % 38) / 38
    assert 0.4 < phase < 0.6
    # The left swing ends with the left knee straight at heel strike: left foot in front, right behind.
    left = _knee_flexion(joints, "left")
    strike = left_peak + int(np.argmin(left[left_peak:left_peak + 15]))
    pelvis_z = joints[strike, 0, 2]
    assert joints[strike, J["left_ankle"], 2] > pelvis_z + 0.1 > joints[strike, J["right_ankle"], 2] + 0.2


def test_run_has_flight_and_deep_swing():
    sequence = read_motion(embedded_motion("run"))[0]
    joints = _joints(sequence)
    assert 80 < _knee_flexion(joints, "left").max() < 120
    speed = np.linalg.norm(sequence.trans[-1, [0, 2]] - sequence.trans[0, [0, 2]]) / sequence.times[-1]
    assert 2.5 < speed < 4.5


def test_cycles_continue_the_walk_without_jumps():
    one = read_deepmimic(embedded_motion("walk"))[0]
    three = read_deepmimic(embedded_motion("walk"), cycles=3)[0]
    assert three.num_frames == 3 * (one.num_frames - 1) + 1
    steps = np.linalg.norm(np.diff(three.trans, axis=0), axis=1)
    assert steps.max() < 2.0 * np.median(steps)
    np.testing.assert_allclose(three.poses[38:76, 3:], one.poses[:38, 3:], atol=1e-5)
    np.testing.assert_allclose(three.poses[:38], one.poses[:38], atol=1e-6)
    assert three.trans[-1, 2] - three.trans[0, 2] == pytest.approx(3 * (one.trans[-1, 2] - one.trans[0, 2]), rel=0.02)
    with pytest.raises(MotionSourceError, match="does not loop"):
        read_deepmimic(embedded_motion("kick"), cycles=2)


def test_height_scales_translation(tmp_path):
    tall = read_deepmimic(embedded_motion("walk"), height=1.9)[0]
    normal = read_deepmimic(embedded_motion("walk"))[0]
    np.testing.assert_allclose(tall.poses, normal.poses, atol=1e-6)
    ratio = np.linalg.norm(tall.trans[-1] - tall.trans[0]) / np.linalg.norm(normal.trans[-1] - normal.trans[0])
    assert ratio == pytest.approx(1.9 / 1.7, rel=1e-2)


def test_bad_deepmimic_clip_names_the_problem(tmp_path):
    broken = tmp_path / "broken.txt"
    broken.write_text('{"Loop": "wrap", "Frames": [[0.03, 1, 2]')
    with pytest.raises(MotionSourceError, match="broken.txt: not a readable DeepMimic clip"):
        read_deepmimic(broken)
    short = tmp_path / "short.txt"
    short.write_text('{"Loop": "none", "Frames": [[0.03, 1, 2, 3]]}')
    with pytest.raises(MotionSourceError, match=r"\(T, 44\)"):
        read_deepmimic(short)
    one = Path(tmp_path / "one.txt")
    frame = [0.0, 0, 0.9, 0, 1, 0, 0, 0] + [1, 0, 0, 0] * 2 + ([1, 0, 0, 0, 0.0, 1, 0, 0, 0, 1, 0, 0, 0, 0.0] * 2)
    one.write_text('{"Loop": "none", "Frames": [%s]}' % frame)
    with pytest.raises(MotionSourceError, match="1 frame"):
        read_deepmimic(one)


def test_preview_curves_and_png(tmp_path):
    from builder.sources.preview import plot_sequence, sagittal_angles

    sequence = read_deepmimic(embedded_motion("walk"))[0]
    curves = sagittal_angles(sequence)
    np.testing.assert_allclose(curves["knee_flexion_l"], _knee_flexion(_joints(sequence), "left"), atol=1e-6)
    # Hip flexion swings between about 10 deg extension and 35 deg flexion, legs in opposition.
    for tag in ("l", "r"):
        assert -15 < curves[f"hip_flexion_{tag}"].min() < 0 < 25 < curves[f"hip_flexion_{tag}"].max() < 40
    assert np.corrcoef(curves["hip_flexion_l"], curves["hip_flexion_r"])[0, 1] < -0.5
    png = plot_sequence(sequence, tmp_path / "walk.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
