"""Each video-bearing source end to end on synthetic files in its layout: the motion reader
(builder.sources) finds the frames, video_sources aligns and exports them."""

import json
import pickle

import numpy as np
from PIL import Image

from builder import layout
from builder.sources.bedlam import read_bedlam
from builder.sources.emdb import read_emdb
from builder.sources.h36m import read_h36m
from builder.sources.motionpro import read_motionpro
from builder.sources.pw3d import read_3dpw
from builder.sources.video_sources import export_source_video
from builder.video import check_frame_count, read_video, write_video

W, H = 32, 24


def frame(index: int) -> np.ndarray:
    return np.full((H, W, 3), 20 + 9 * index, np.uint8)


def shown(seq_dir) -> list[int]:
    frames, _ = read_video(seq_dir / layout.VIDEO)
    return np.round((frames.reshape(len(frames), -1).mean(1) - 20) / 9).astype(int).tolist()


def images(folder, names):
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        Image.fromarray(frame(i)).save(folder / name, quality=95)
    return folder


def camera_4x4(n):
    extrinsics = np.tile(np.eye(4), (n, 1, 1))
    extrinsics[:, 2, 3] = 4.0
    return extrinsics


def test_3dpw(tmp_path):
    n, name = 8, "downtown_walking_00"
    images(tmp_path / "imageFiles" / name, [f"image_{i:05d}.jpg" for i in range(n)])
    keypoints = np.zeros((n, 3, 18))
    keypoints[:, 0, :2], keypoints[:, 1, :2], keypoints[:, 2, :2] = [4, 20], [3, 21], 1.0
    keypoints[5, 2] = 0.0  # no confident keypoint in frame 5
    data = {"sequence": name, "genders": ["m"], "poses": [np.zeros((n, 72))], "trans": [np.zeros((n, 3))],
            "betas": [np.zeros(10)], "cam_poses": camera_4x4(n), "cam_intrinsics": np.eye(3),
            "campose_valid": [np.ones(n, bool)], "poses2d": [keypoints]}
    pkl = tmp_path / "sequenceFiles" / "test" / f"{name}.pkl"
    pkl.parent.mkdir(parents=True)
    pkl.write_bytes(pickle.dumps(data, protocol=2))
    (sequence,) = read_3dpw(pkl, up_axis="y", allow_pickle=True)
    export_source_video(sequence, tmp_path / "out")
    assert shown(tmp_path / "out") == list(range(n))
    visible = np.load(tmp_path / "out" / layout.BOX_VISIBLE)
    assert visible.tolist() == [True] * 5 + [False] + [True] * 2
    np.testing.assert_allclose(np.load(tmp_path / "out" / layout.BOXES)[0], [4, 3, 20, 21])


def test_emdb(tmp_path):
    n = 6
    folder = tmp_path / "P3" / "29_outdoor_stairs_up"
    images(folder / "images", [f"{i:05d}.jpg" for i in range(n)])
    data = {"gender": "female", "name": "P3_29_outdoor_stairs_up", "n_frames": n, "good_frames_mask": np.ones(n, bool),
            "smpl": {"poses_root": np.zeros((n, 3)), "poses_body": np.zeros((n, 69)), "trans": np.zeros((n, 3)),
                     "betas": np.zeros(10)},
            "camera": {"intrinsics": np.eye(3), "extrinsics": camera_4x4(n), "width": W, "height": H},
            "bboxes": {"bboxes": np.tile([2.0, 2.0, 12.0, 20.0], (n, 1)), "invalid_idxs": np.array([2])}}
    (folder / "P3_29_outdoor_stairs_up_data.pkl").write_bytes(pickle.dumps(data))
    (sequence,) = read_emdb(folder / "P3_29_outdoor_stairs_up_data.pkl", allow_pickle=True)
    export_source_video(sequence, tmp_path / "out")
    assert shown(tmp_path / "out") == list(range(n))
    assert np.load(tmp_path / "out" / layout.BOX_VISIBLE).tolist() == [True, True, False, True, True, True]
    with np.load(tmp_path / "out" / layout.CAMERA) as camera:
        assert camera["R"].shape == (n, 3, 3) and camera["t"][0, 2] == 4.0


def test_human36m(tmp_path):
    mosh = tmp_path / "neutrSMPL_H3.6" / "S9" / "Walking 1.pkl"
    mosh.parent.mkdir(parents=True)
    mosh.write_bytes(pickle.dumps({"poses": np.zeros((40, 72)), "trans": np.zeros((40, 3)), "betas": np.zeros(10)}))
    cameras = tmp_path / "cameras.json"
    extrinsic = {"R": np.eye(3).tolist(), "t": [[0], [0], [4000]]}
    cameras.write_text(json.dumps({"intrinsics": {"54138969": {"calibration_matrix": np.eye(3).tolist()}},
                                   "extrinsics": {"S9": {"54138969": extrinsic}}}))
    video = tmp_path / "videos" / "S9" / "Videos" / "Walking 1.54138969.mp4"
    video.parent.mkdir(parents=True)
    write_video(video, [frame(i) for i in range(10)], 50)
    (sequence,) = read_h36m(mosh, cameras=cameras, camera_id="54138969", video_root=tmp_path / "videos",
                            allow_pickle=True)
    export_source_video(sequence, tmp_path / "out")  # 200 Hz MoSh motion over a 50 fps video
    check_frame_count(tmp_path / "out" / layout.VIDEO, 40)
    assert shown(tmp_path / "out") == [i // 4 for i in range(40)]
    assert not np.load(tmp_path / "out" / layout.BOX_VISIBLE).any()  # no boxes, no body given: masked


def test_bedlam(tmp_path):
    scene = "20221019_3_250_highbmihand"
    images(tmp_path / "images" / scene / "png" / "seq_000003", [f"seq_000003_{i:04d}.png" for i in range(20)])
    rows = [0, 5, 15]  # labels every 5th image; image 10 has no label (person out of view)
    labels = tmp_path / f"{scene}.npz"
    np.savez(labels, imgname=np.array([f"seq_000003/seq_000003_{i:04d}.png" for i in rows]),
             pose_world=np.zeros((3, 72)), trans_world=np.zeros((3, 3)), shape=np.zeros((3, 10)),
             gender=np.array(["male"] * 3), cam_int=np.tile(np.eye(3), (3, 1, 1)),
             cam_ext=np.tile(np.eye(4), (3, 1, 1)),
             center=np.tile([12.0, 10.0], (3, 1)), scale=np.full(3, 0.05), sub=np.array(["rp_aaron"] * 3))
    (sequence,) = read_bedlam(labels, image_root=tmp_path / "images")
    export_source_video(sequence, tmp_path / "out", on_missing="error")
    assert shown(tmp_path / "out") == [0, 5, 10, 15]
    assert np.load(tmp_path / "out" / layout.BOX_VISIBLE).tolist() == [True, True, False, True]
    np.testing.assert_allclose(np.load(tmp_path / "out" / layout.BOXES)[0], [7, 5, 17, 15])
    assert sequence.num_frames == 4


def test_motionpro(tmp_path):
    n = 5
    folder = tmp_path / "20240508" / "S07" / "walking_01"
    images(folder / "color", [f"{i + 1:06d}.png" for i in range(n)])
    np.save(folder / "smpl.npy", {"global_orient": np.zeros((n, 3)), "body_pose": np.zeros((n, 69)),
                                  "transl": np.zeros((n, 3)), "betas": np.zeros(10)}, allow_pickle=True)
    detections = np.zeros((n, 6))
    detections[:, 0], detections[:, 1:5], detections[:, 5] = np.arange(n), [1, 2, 30, 22], 0.9
    np.save(folder / "bbox.npy", detections)
    (sequence,) = read_motionpro(folder, allow_pickle=True)
    export_source_video(sequence, tmp_path / "out")
    assert shown(tmp_path / "out") == list(range(n))
    assert np.load(tmp_path / "out" / layout.BOX_VISIBLE).all()
