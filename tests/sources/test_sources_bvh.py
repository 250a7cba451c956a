"""BVH parsing and retargeting to SMPL, on BVH files the tests write."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from biohuman10m.metrics import smpl_forward_kinematics
from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import SMPL_JOINT_NAMES, SMPL_JOINT_PARENTS
from builder.body.skeleton import world_rotations
from builder.sources import MotionSourceError, embedded_motion, read_bvh, read_deepmimic, read_motion
from builder.sources.bvh import forward_kinematics, parse_bvh

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
CMU_NAMES = {
    "pelvis": "Hips", "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg", "spine1": "LowerBack",
    "left_knee": "LeftLeg", "right_knee": "RightLeg", "spine2": "Spine", "left_ankle": "LeftFoot",
    "right_ankle": "RightFoot", "spine3": "Spine1", "left_foot": "LeftToeBase", "right_foot": "RightToeBase",
    "neck": "Neck", "left_collar": "LeftShoulder", "right_collar": "RightShoulder", "head": "Head",
    "left_shoulder": "LeftArm", "right_shoulder": "RightArm", "left_elbow": "LeftForeArm",
    "right_elbow": "RightForeArm", "left_wrist": "LeftHand", "right_wrist": "RightHand",
    "left_hand": "LeftFingerBase", "right_hand": "RightFingerBase",
}
MIXAMO_NAMES = {**{k: "mixamorig:" + v for k, v in CMU_NAMES.items()},
                "spine1": "mixamorig:Spine", "spine2": "mixamorig:Spine1", "spine3": "mixamorig:Spine2",
                "left_hand": "mixamorig:LeftHandIndex1", "right_hand": "mixamorig:RightHandIndex1"}
LEAVES = {"head": (0, 0.12, 0), "left_foot": (0, -0.03, 0.05), "right_foot": (0, -0.03, 0.05),
          "left_hand": (0.08, 0, 0), "right_hand": (-0.08, 0, 0)}


def write_bvh(path, rest, local, root_position, fps, world=np.eye(3), units=1.0, names=CMU_NAMES):
    """A CMU-named BVH of SMPL's tree: rest joints (24, 3), local rotations (T, 24, 3, 3), root (T, 3).

    ``world`` re-expresses SMPL axes in the file's axes; ``units`` file units per metre.
    """
    children = {j: [c for c, p in enumerate(SMPL_JOINT_PARENTS) if p == j] for j in range(24)}
    lines = ["HIERARCHY"]
    order = []

    def emit(j, depth):
        order.append(j)
        pad = "  " * depth
        name = SMPL_JOINT_NAMES[j]
        offset = (rest[j] - (rest[SMPL_JOINT_PARENTS[j]] if j else 0 * rest[j])) if j else np.zeros(3)
        offset = world @ offset * units
        channels = ("6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if j == 0
                    else "3 Zrotation Xrotation Yrotation")
        lines.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {names[name]}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        lines.append(f"{pad}  CHANNELS {channels}")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            end = world @ np.array(LEAVES[name]) * units
            lines.append(f"{pad}  End Site\n{pad}  {{\n"
                         f"{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}\n{pad}  }}")
        lines.append(pad + "}")

    emit(0, 0)
    file_local = np.einsum("ij,tkjl,ml->tkim", world, local, world)
    euler = Rotation.from_matrix(file_local.reshape(-1, 3, 3)).as_euler("ZXY", degrees=True).reshape(len(local), 24, 3)
    position = root_position @ world.T * units
    lines += ["MOTION", f"Frames: {len(local)}", f"Frame Time: {1 / fps:.8f}"]
    for t in range(len(local)):
        lines.append(" ".join(f"{v:.6f}" for v in np.concatenate([position[t], euler[t, order].reshape(-1)])))
    path.write_text("\n".join(lines) + "\n")
    return path


def _geodesic_deg(a, b):
    relative = Rotation.from_rotvec(a.reshape(-1, 3)).inv() * Rotation.from_rotvec(b.reshape(-1, 3))
    return np.degrees(relative.magnitude())


@pytest.fixture(scope="module")
def walk():
    return read_deepmimic(embedded_motion("walk"))[0]


def _local(poses):
    return Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(len(poses), 24, 3, 3)


def test_cmu_style_bvh_with_smpl_rest_reproduces_the_smpl_motion(tmp_path, walk):
    pelvis = walk.trans + SMPL_NEUTRAL_REST_JOINTS[0]
    path = write_bvh(tmp_path / "01_01.bvh", SMPL_NEUTRAL_REST_JOINTS, _local(walk.poses), pelvis, 30.0,
                     units=100 / 2.54)
    sequence = read_motion(path)[0]
    assert sequence.sequence_id == "bvh_01_01" and sequence.source == "bvh" and sequence.fps == 30.0
    assert _geodesic_deg(sequence.poses, walk.poses).max() < 1e-3
    # With the file's units given the translation is exact; by default the skeleton is scaled to 1.70 m.
    exact = read_bvh(path, scale=2.54 / 100)[0]
    np.testing.assert_allclose(exact.trans, walk.trans, atol=1e-5)
    default = read_bvh(path)[0]
    span = np.ptp(np.concatenate([SMPL_NEUTRAL_REST_JOINTS, SMPL_NEUTRAL_REST_JOINTS[[15]] + LEAVES["head"],
                                  SMPL_NEUTRAL_REST_JOINTS[[10]] + LEAVES["left_foot"]])[:, 1])
    step = np.linalg.norm(default.trans[-1] - default.trans[0]) / np.linalg.norm(walk.trans[-1] - walk.trans[0])
    assert step == pytest.approx(1.70 / span, rel=0.02)


def test_z_up_a_pose_bvh_retargets_by_bone_directions(tmp_path, walk):
    """A Mixamo-named file in Z-up axes facing -Y, in centimetres, whose rest pose has the arms hanging down."""
    to_file = Rotation.from_euler("x", 90, degrees=True).as_matrix()   # SMPL Y (up) -> Z, Z (forward) -> -Y
    lower = {}
    for side, sign in (("left", -1), ("right", 1)):
        for name in ("shoulder", "elbow", "wrist", "hand"):
            lower[J[f"{side}_{name}"]] = Rotation.from_euler("z", sign * 70, degrees=True).as_matrix()
    rest = SMPL_NEUTRAL_REST_JOINTS.copy()
    for side in ("left", "right"):
        root = J[f"{side}_shoulder"]
        for name in ("elbow", "wrist", "hand"):
            joint = J[f"{side}_{name}"]
            rest[joint] = rest[root] + lower[root] @ (SMPL_NEUTRAL_REST_JOINTS[joint] - rest[root])
    smpl_world = world_rotations(walk.poses)
    source_world = smpl_world.copy()
    for joint, turn in lower.items():
        source_world[:, joint] = smpl_world[:, joint] @ turn.T
    local = np.empty_like(source_world)
    for j, p in enumerate(SMPL_JOINT_PARENTS):
        local[:, j] = source_world[:, j] if p < 0 else np.swapaxes(source_world[:, p], 1, 2) @ source_world[:, j]
    path = write_bvh(tmp_path / "apose.bvh", rest, local, walk.trans + SMPL_NEUTRAL_REST_JOINTS[0], 30.0,
                     world=to_file, units=100.0, names=MIXAMO_NAMES)
    sequence = read_bvh(path, scale=0.01)[0]
    expected = smpl_forward_kinematics(walk.poses, SMPL_NEUTRAL_REST_JOINTS)
    got = smpl_forward_kinematics(sequence.poses, SMPL_NEUTRAL_REST_JOINTS)
    for joint, child in ((J["left_shoulder"], J["left_elbow"]), (J["right_elbow"], J["right_wrist"]),
                         (J["left_hip"], J["left_knee"]), (J["right_knee"], J["right_ankle"]), (0, J["spine1"])):
        a, b = got[:, child] - got[:, joint], expected[:, child] - expected[:, joint]
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cos.min() > 1 - 1e-6, SMPL_JOINT_NAMES[joint]
    np.testing.assert_allclose(sequence.trans, walk.trans, atol=1e-4)


def test_parser_reads_channels_and_end_sites(tmp_path, walk):
    pelvis = walk.trans[:3] + SMPL_NEUTRAL_REST_JOINTS[0]
    path = write_bvh(tmp_path / "a.bvh", SMPL_NEUTRAL_REST_JOINTS, _local(walk.poses[:3]), pelvis, 120.0)
    motion = parse_bvh(path)
    assert motion.skeleton.names[0] == "Hips" and len(motion.skeleton.names) == 24
    assert motion.frame_time == pytest.approx(1 / 120) and motion.values.shape == (3, 6 + 23 * 3)
    assert set(motion.skeleton.end_sites) == {motion.skeleton.index(CMU_NAMES[n]) for n in LEAVES}
    rotations, positions = forward_kinematics(motion)
    expected = smpl_forward_kinematics(walk.poses[:3], SMPL_NEUTRAL_REST_JOINTS) + walk.trans[:3, None]
    order = [motion.skeleton.index(CMU_NAMES[name]) for name in SMPL_JOINT_NAMES]
    np.testing.assert_allclose(positions[:, order], expected, atol=2e-4)


@pytest.mark.parametrize("text, problem", [
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n", "no MOTION section"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n}\nMOTION\nFrames: 0\nFrame Time: 0.1\n", "OFFSET of Hips"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Wrotation\n}\nMOTION\nFrames: 0\nFrame Time: 0.1\n",
     "unknown channels"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 3\nFrame Time: 0.1\n1\n2\n",
     "header says 3 frames but 2 rows"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n1\n2\n",
     "no BVH joints for SMPL"),
])
def test_bad_bvh_files_name_the_problem(tmp_path, text, problem):
    path = tmp_path / "bad.bvh"
    path.write_text(text)
    with pytest.raises(MotionSourceError, match=f"bad.bvh: .*{problem}"):
        read_motion(path)
