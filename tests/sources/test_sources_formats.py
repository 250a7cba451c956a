"""Dataset readers on small files written in each release format (the datasets themselves are licensed)."""

import json
import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from builder.sources import (
    MotionSourceError,
    detect_format,
    embedded_motion,
    load_motion,
    read_deepmimic,
    read_motion,
    save_motion,
    split_valid,
)
from builder.sources.bedlam import read_bedlam
from builder.sources.h36m import read_h36m

J0 = SMPL_NEUTRAL_REST_JOINTS[0]
Z_UP = Rotation.from_euler("x", 90, degrees=True)    # SMPL Y-up body -> upright in a Z-up world
Y_DOWN = Rotation.from_euler("x", 180, degrees=True)  # SMPL Y-up body -> upright in a Y-down world


@pytest.fixture(scope="module")
def walk():
    return read_deepmimic(embedded_motion("walk"))[0]


def in_world(sequence, rotation):
    """Poses and trans of ``sequence`` in a world rotated by ``rotation`` (vertex_new = rotation @ vertex)."""
    poses = sequence.poses.astype(np.float64).copy()
    poses[:, :3] = (rotation * Rotation.from_rotvec(poses[:, :3])).as_rotvec()
    trans = rotation.apply(sequence.trans + J0) - J0
    return poses, trans


def body_up(sequence):
    """Mean world direction of the body's up axis."""
    return Rotation.from_rotvec(sequence.poses[:, :3]).apply([0.0, 1.0, 0.0]).mean(axis=0)


def project(points, camera):
    """Pixels (T, 2) of world points (T, 3) with K, world-to-camera R (T, 3, 3) and t (T, 3)."""
    cam = np.einsum("tij,tj->ti", np.broadcast_to(camera["R"], (len(points), 3, 3)), points) + camera["t"]
    uv = cam @ np.asarray(camera["K"]).T
    return uv[:, :2] / uv[:, 2:]


def a_camera(num_frames):
    """A camera 4 m in front of the origin looking back at it (world-to-camera), slowly panning."""
    R = Rotation.from_euler("y", np.linspace(170, 190, num_frames)[:, None], degrees=True).as_matrix()
    R = np.diag([1.0, -1.0, 1.0]) @ R  # image y down
    t = np.tile([0.0, 0.0, 4.0], (num_frames, 1))
    K = np.array([[1000.0, 0, 960], [0, 1000.0, 540], [0, 0, 1]])
    return K, R, t


def test_amass_smplh_npz_is_turned_from_z_up_to_y_up(tmp_path, walk):
    poses, trans = in_world(walk, Z_UP)
    full = np.concatenate([poses, np.zeros((len(poses), 156 - 72))], axis=1)
    full[:, 66:72] = 0.3  # SMPL+H finger joints, not SMPL hands
    path = tmp_path / "CMU" / "01" / "01_01_poses.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, poses=full, trans=trans, betas=np.arange(16) / 10, gender=np.array("female"),
             mocap_framerate=np.array(120.0), dmpls=np.zeros((len(poses), 8)))
    assert detect_format(path) == "amass"
    sequence = read_motion(path)[0]
    assert sequence.sequence_id == "amass_CMU_01_01_01_poses" and sequence.subject == "01"
    assert sequence.fps == 120.0 and sequence.gender == "female" and sequence.betas.shape == (16,)
    np.testing.assert_allclose(sequence.poses[:, 3:66], walk.poses[:, 3:66], atol=1e-6)
    assert not sequence.poses[:, 66:].any()
    np.testing.assert_allclose(sequence.trans, walk.trans, atol=1e-5)
    assert body_up(sequence)[1] > 0.95


def test_amass_pelvis_follows_the_documented_axis_change(tmp_path):
    """Independent check: an upright body in a Z-up world stands upright in Y-up, pelvis at (x, z, -y)."""
    path = tmp_path / "upright.npz"
    np.savez(path, poses=np.tile(np.r_[np.pi / 2, 0, 0, np.zeros(69)], (2, 1)), trans=np.tile([1.0, 2.0, 0.9], (2, 1)),
             betas=np.zeros(10), gender="male", mocap_framerate=60)
    sequence = read_motion(path)[0]
    np.testing.assert_allclose(sequence.poses[:, :3], 0, atol=1e-7)
    pelvis_zup = np.array([1.0, 2.0, 0.9]) + J0
    np.testing.assert_allclose(sequence.trans[0] + J0, [pelvis_zup[0], pelvis_zup[2], -pelvis_zup[1]], atol=1e-6)


def test_amass_smplx_and_bedlam_motion_files(tmp_path, walk):
    poses, trans = in_world(walk, Z_UP)
    smplx = tmp_path / "stageii.npz"
    np.savez(smplx, root_orient=poses[:, :3], pose_body=poses[:, 3:66], trans=trans, betas=np.zeros(16),
             gender="neutral", mocap_frame_rate=30.0, surface_model_type="smplx")
    sequence = read_motion(smplx)[0]
    np.testing.assert_allclose(sequence.poses[:, :66], walk.poses[:, :66], atol=1e-6)
    bedlam = tmp_path / "rp_aaron_posed_002_0000.npz"  # BEDLAM ground-truth motion: Y up, has motion_info
    np.savez(bedlam, poses=np.concatenate([walk.poses, np.zeros((len(poses), 93))], axis=1), trans=walk.trans,
             betas=np.zeros(11), gender="male", mocap_frame_rate=30.0, motion_info=np.array(["walk"]))
    sequence = read_motion(bedlam)[0]
    assert sequence.source == "bedlam"
    np.testing.assert_allclose(sequence.trans, walk.trans, atol=1e-6)


def test_3dpw_sequence_pickle_two_actors_with_camera(tmp_path, walk):
    root = tmp_path / "3DPW"
    path = root / "sequenceFiles" / "test" / "downtown_walking_00.pkl"
    path.parent.mkdir(parents=True)
    (root / "imageFiles" / "downtown_walking_00").mkdir(parents=True)
    n = walk.num_frames
    K, R, t = a_camera(n)
    cam_poses = np.tile(np.eye(4), (n, 1, 1))
    cam_poses[:, :3, :3], cam_poses[:, :3, 3] = R, t
    keypoints = np.zeros((n, 3, 18))
    keypoints[:, 0, :] = np.linspace(100, 300, 18)
    keypoints[:, 1, :] = np.linspace(200, 700, 18)
    keypoints[:, 2, :] = 0.9
    keypoints[:, 2, 0] = 0.1  # a low-confidence keypoint outside the others' extent
    keypoints[:, 0, 0] = 5.0
    valid = np.ones(n, bool)
    valid[10:12] = False
    data = {"sequence": "downtown_walking_00", "betas": [np.full(10, 0.5), np.zeros(10)],
            "poses": [walk.poses, walk.poses], "trans": [walk.trans, walk.trans + [1.0, 0, 0]],
            "genders": ["m", "f"], "cam_poses": cam_poses, "cam_intrinsics": K,
            "campose_valid": [valid, np.ones(n, bool)], "poses2d": [keypoints, keypoints], "img_frame_ids": np.arange(n)}
    path.write_bytes(pickle.dumps(data, protocol=2))
    assert detect_format(path) == "3dpw"
    sequences = read_motion(path, allow_pickle=True)
    assert [s.sequence_id for s in sequences] == ["3dpw_downtown_walking_00_actor0_part0",
                                                  "3dpw_downtown_walking_00_actor0_part1", "3dpw_downtown_walking_00_actor1"]
    first, second, other = sequences
    assert first.gender == "male" and other.gender == "female" and first.fps == 30.0
    assert (first.num_frames, second.num_frames) == (10, n - 12)
    np.testing.assert_array_equal(second.video_frames, np.arange(12, n))
    assert first.video_path == root / "imageFiles" / "downtown_walking_00"
    np.testing.assert_allclose(first.boxes[0], [100 + 200 / 17, 200 + 500 / 17, 300, 700], atol=1e-4)
    # The walk is upright in Y: the detected up axis keeps the world; the camera still sees the same pixels.
    np.testing.assert_allclose(other.trans, walk.trans + [1.0, 0, 0], atol=1e-5)
    np.testing.assert_allclose(project(other.trans + J0, other.camera), project(walk.trans + [1.0, 0, 0] + J0,
                               {"K": K, "R": R, "t": t}), atol=1e-3)


def test_3dpw_world_up_is_detected_from_the_poses(tmp_path, walk):
    poses, trans = in_world(walk, Z_UP)
    n = walk.num_frames
    K, R, t = a_camera(n)
    R_zup = R @ Z_UP.as_matrix().T  # the same physical camera, in the Z-up world
    cam_poses = np.tile(np.eye(4), (n, 1, 1))
    cam_poses[:, :3, :3], cam_poses[:, :3, 3] = R_zup, t
    path = tmp_path / "seq.pkl"
    path.write_bytes(pickle.dumps({"sequence": "seq", "betas": [np.zeros(10)], "poses": [poses], "trans": [trans],
                                   "genders": ["f"], "cam_poses": cam_poses, "cam_intrinsics": K,
                                   "campose_valid": [np.ones(n, bool)]}))
    sequence = read_motion(path, allow_pickle=True)[0]
    assert body_up(sequence)[1] > 0.95
    np.testing.assert_allclose(project(sequence.trans + J0, sequence.camera), project(walk.trans + J0,
                               {"K": K, "R": R, "t": t}), atol=1e-3)


def test_emdb_pickle_with_bad_frames_boxes_and_camera(tmp_path, walk):
    folder = tmp_path / "P3" / "31_outdoor_workout"
    (folder / "images").mkdir(parents=True)
    n = walk.num_frames
    K, R, t = a_camera(n)
    extrinsics = np.tile(np.eye(4), (n, 1, 1))
    extrinsics[:, :3, :3], extrinsics[:, :3, 3] = R, t
    good = np.ones(n, bool)
    good[20] = False
    boxes = np.tile([10.0, 20.0, 110.0, 320.0], (n, 1))
    data = {"gender": "male", "name": "P3_31_outdoor_workout", "emdb1": True, "emdb2": False, "n_frames": n,
            "good_frames_mask": good, "camera": {"intrinsics": K, "extrinsics": extrinsics, "width": 1920, "height": 1080},
            "smpl": {"poses_root": walk.poses[:, :3], "poses_body": walk.poses[:, 3:], "trans": walk.trans,
                     "betas": np.zeros(10)},
            "kp2d": np.zeros((n, 24, 2)), "bboxes": {"bboxes": boxes, "invalid_idxs": np.array([5, 20])}}
    path = folder / "P3_31_outdoor_workout_data.pkl"
    path.write_bytes(pickle.dumps(data))
    assert detect_format(path) == "emdb"
    first, second = read_motion(path, allow_pickle=True)
    assert first.sequence_id == "emdb_P3_31_outdoor_workout_part0" and first.subject == "P3"
    assert (first.num_frames, second.num_frames) == (20, n - 21) and first.video_path == folder / "images"
    assert np.isnan(first.boxes[5]).all() and np.isfinite(first.boxes[4]).all()
    np.testing.assert_allclose(second.trans, walk.trans[21:], atol=1e-6)
    np.testing.assert_allclose(project(second.trans + J0, second.camera),
                               project(walk.trans[21:] + J0, {"K": K, "R": R[21:], "t": t[21:]}), atol=1e-3)


def test_bedlam_scene_labels_group_by_sequence_and_subject(tmp_path, walk):
    poses, trans = in_world(walk, Y_DOWN)
    frames = np.array([0, 5, 10, 20, 25, 30])  # 6 fps labels; frame 15 missing (person not visible)
    rows = frames  # walk frame == image frame (30 fps source)
    K, R, t = a_camera(len(walk.poses))
    R_down = R @ Y_DOWN.as_matrix().T
    cam_ext = np.tile(np.eye(4), (len(rows), 1, 1))
    cam_ext[:, :3, :3], cam_ext[:, :3, 3] = R_down[rows], t[rows]
    names = [f"seq_000003/seq_000003_{f:04d}.png" for f in frames]
    path = tmp_path / "20221010_3_1000_batch01hand.npz"
    np.savez(path, imgname=np.array(names + ["seq_000004/seq_000004_0000.png", "seq_000004/seq_000004_0005.png"]),
             center=np.tile([640.0, 360.0], (8, 1)), scale=np.full(8, 2.0),
             pose_world=np.concatenate([np.concatenate([poses[rows], np.zeros((6, 93))], axis=1),
                                        np.zeros((2, 165))]),
             trans_world=np.concatenate([trans[rows], np.zeros((2, 3))]), shape=np.zeros((8, 11)),
             gender=np.array(["female"] * 8), cam_int=np.tile(K, (8, 1, 1)),
             cam_ext=np.concatenate([cam_ext, np.tile(np.eye(4), (2, 1, 1))]),
             sub=np.array(["rp_a"] * 6 + ["rp_b"] * 2), gtkps=np.zeros((8, 127, 3)))
    assert detect_format(path) == "bedlam"
    sequences = read_motion(path)
    ids = [s.sequence_id for s in sequences]
    assert ids == ["bedlam_20221010_3_1000_batch01hand_seq_000003_subrp_a_part0",
                   "bedlam_20221010_3_1000_batch01hand_seq_000003_subrp_a_part1",
                   "bedlam_20221010_3_1000_batch01hand_seq_000004_subrp_b"]
    first, second, _ = sequences
    assert first.fps == 6.0 and first.num_frames == 3 and second.num_frames == 3
    assert body_up(first)[1] > 0.95
    np.testing.assert_allclose(second.trans, walk.trans[[20, 25, 30]], atol=1e-5)
    np.testing.assert_allclose(project(second.trans + J0, second.camera),
                               project(walk.trans[[20, 25, 30]] + J0, {"K": K, "R": R[[20, 25, 30]], "t": t[[20, 25, 30]]}),
                               atol=1e-3)
    np.testing.assert_allclose(first.boxes[0], [440, 160, 840, 560])
    with_images = read_bedlam(path, image_root=tmp_path / "images")
    assert with_images[0].video_path == tmp_path / "images" / path.stem / "png" / "seq_000003"
    parts = [part for sequence in with_images for part in split_valid(sequence)]
    np.testing.assert_array_equal(parts[1].video_frames, [20, 25, 30])


def test_h36m_mosh_pickle_with_camera_and_video(tmp_path, walk):
    poses, trans = in_world(walk, Z_UP)
    path = tmp_path / "neutrSMPL_H3.6" / "S9" / "Walking 1.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"poses": poses, "betas": np.zeros(10), "trans": trans}, protocol=2))
    assert detect_format(path) == "h36m"
    sequence = read_motion(path, allow_pickle=True)[0]
    assert sequence.sequence_id == "h36m_S9_Walking_1" and sequence.fps == 200.0 and sequence.gender == "neutral"
    np.testing.assert_allclose(sequence.trans, walk.trans, atol=1e-5)
    K, R, t = a_camera(1)
    cameras = tmp_path / "camera-parameters.json"
    cameras.write_text(json.dumps({"intrinsics": {"54138969": {"calibration_matrix": K.tolist()}},
                                   "extrinsics": {"S9": {"54138969": {"R": (R[0] @ Z_UP.as_matrix().T).tolist(),
                                                                      "t": (t[0][:, None] * 1000).tolist()}}}}))
    with_camera = read_h36m(path, cameras=cameras, camera_id="54138969", video_root=tmp_path / "h36m",
                            allow_pickle=True)
    assert len(with_camera) == 1
    sequence = with_camera[0]
    assert sequence.video_path == tmp_path / "h36m" / "S9" / "Videos" / "Walking 1.54138969.mp4"
    np.testing.assert_array_equal(sequence.video_frames[:9], [0, 0, 0, 0, 1, 1, 1, 1, 2])
    np.testing.assert_allclose(project(sequence.trans + J0, sequence.camera),
                               project(walk.trans + J0, {"K": K, "R": R, "t": t}), atol=1e-3)
    aligned = path.parent / "Walking 1_cam0_aligned.pkl"
    aligned.write_bytes(pickle.dumps({"new_poses": poses, "betas": np.zeros(10)}))
    with pytest.raises(MotionSourceError, match="camera-aligned"):
        read_motion(aligned, allow_pickle=True)


def test_motionpro_smpl_npy_folder(tmp_path, walk):
    poses, trans = in_world(walk, Z_UP)
    folder = tmp_path / "MotionPRO" / "0729" / "csy" / "walk_01"
    (folder / "color").mkdir(parents=True)
    np.save(folder / "smpl.npy", {"betas": np.zeros(10), "body_pose": poses[:, 3:], "global_orient": poses[:, :3],
                                  "transl": trans}, allow_pickle=True)
    n = walk.num_frames
    np.save(folder / "bbox.npy", np.column_stack([np.arange(n), np.tile([1.0, 2, 30, 40, 0.9, 0.99, 0], (n, 1))]))
    assert detect_format(folder) == "motionpro" and detect_format(folder / "smpl.npy") == "motionpro"
    sequence = read_motion(folder, allow_pickle=True)[0]
    assert sequence.sequence_id == "motionpro_0729_csy_walk_01" and sequence.subject == "csy"
    assert sequence.fps == 30.0 and sequence.video_path == folder / "color"
    np.testing.assert_allclose(sequence.boxes[3], [1, 2, 30, 40])
    np.testing.assert_allclose(sequence.trans, walk.trans, atol=1e-5)
    assert body_up(sequence)[1] > 0.95


def test_biohuman_motion_file_round_trip(tmp_path, walk):
    n = walk.num_frames
    K, R, t = a_camera(n)
    walk_with_video = read_deepmimic(embedded_motion("walk"))[0]
    walk_with_video.video_path = tmp_path / "video.mp4"
    walk_with_video.boxes = np.tile([1.0, 2, 3, 4], (n, 1))
    walk_with_video.camera = {"K": K, "R": R, "t": t}
    walk_with_video.video_frames = np.arange(n) + 7
    path = tmp_path / "motion.npz"
    save_motion(walk_with_video, path)
    assert detect_format(path) == "biohuman"
    with np.load(path, allow_pickle=False) as archive:  # loads without pickle (sequence_files reads it so)
        assert str(archive["gender"]) == "neutral" and archive["poses"].shape == (n, 72)
    back = load_motion(path)[0]
    assert back.sequence_id == "deepmimic_walk" and back.fps == 30.0 and back.video_path == tmp_path / "video.mp4"
    np.testing.assert_allclose(back.poses, walk.poses, atol=1e-6)
    np.testing.assert_allclose(back.camera["R"], R, atol=1e-6)
    np.testing.assert_array_equal(back.video_frames, np.arange(n) + 7)
    assert not list(tmp_path.glob(".motion*"))  # atomic write left no temporary file
