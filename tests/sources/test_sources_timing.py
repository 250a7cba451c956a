"""Resampling (slerp / linear) and cutting at invalid frames."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from builder.sources import MotionSequence, embedded_motion, read_deepmimic, read_motion, resample, split_valid


@pytest.fixture()
def walk():
    return read_deepmimic(embedded_motion("walk"))[0]


def _angle_deg(a, b):
    relative = Rotation.from_rotvec(a.reshape(-1, 3)).inv() * Rotation.from_rotvec(b.reshape(-1, 3))
    return np.degrees(relative.magnitude())


def test_upsampling_keeps_frames_and_slerps_between(walk):
    fast = resample(walk, 60.0)
    assert fast.fps == 60.0 and fast.num_frames == 2 * walk.num_frames - 1
    np.testing.assert_allclose(fast.times[-1], walk.times[-1])
    assert _angle_deg(fast.poses[::2], walk.poses).max() < 1e-4
    np.testing.assert_allclose(fast.trans[::2], walk.trans, atol=1e-6)
    # A slerp midpoint lies halfway along the geodesic between its neighbours, for every joint.
    mid, before, after = fast.poses[1::2], walk.poses[:-1], walk.poses[1:]
    np.testing.assert_allclose(_angle_deg(before, mid), 0.5 * _angle_deg(before, after), atol=1e-3)
    np.testing.assert_allclose(_angle_deg(mid, after), 0.5 * _angle_deg(before, after), atol=1e-3)
    np.testing.assert_allclose(fast.trans[1::2], 0.5 * (walk.trans[:-1] + walk.trans[1:]), atol=1e-6)


def test_downsampling_and_video_alignment(walk):
    n = walk.num_frames
    walk.video_path = "clip.mp4"
    walk.boxes = np.column_stack([np.arange(n), np.zeros(n), np.arange(n) + 10.0, np.full(n, 5.0)])
    R = Rotation.from_euler("y", np.arange(n)[:, None], degrees=True).as_matrix()
    walk.camera = {"K": np.eye(3), "R": R, "t": np.column_stack([np.arange(n), np.zeros(n), np.zeros(n)])}
    slow = resample(walk, 20.0)
    assert slow.fps == 20.0 and slow.num_frames == int(np.floor((n - 1) / 30 * 20)) + 1
    np.testing.assert_allclose(slow.boxes[1], [1.5, 0, 11.5, 5])  # t = 0.05 s = frame 1.5
    np.testing.assert_allclose(Rotation.from_matrix(slow.camera["R"][1]).magnitude(), np.radians(1.5), atol=1e-9)
    np.testing.assert_allclose(slow.camera["t"][1], [1.5, 0, 0])
    # Each new frame shows the nearest video frame.
    np.testing.assert_array_equal(slow.video_frames[::2], 3 * np.arange(len(slow.video_frames[::2])))
    assert (np.abs(slow.video_frames / 30.0 - slow.times) <= 1 / 60 + 1e-9).all()
    np.testing.assert_array_equal(slow.camera["K"], np.eye(3))
    assert resample(walk, 30.0) is walk
    with pytest.raises(ValueError, match="positive"):
        resample(walk, 0.0)


def test_invalid_frames_cut_sequences_into_parts(walk):
    walk.video_path = "frames/"
    walk.frame_valid[[0, 5, 6, 20]] = False
    walk.poses[30, 7] = np.nan
    walk.boxes = np.arange(walk.num_frames * 4, dtype=float).reshape(-1, 4)
    parts = split_valid(walk)
    assert [p.sequence_id for p in parts] == [f"deepmimic_walk_part{k}" for k in range(4)]
    assert [p.num_frames for p in parts] == [4, 13, 9, 8]
    np.testing.assert_array_equal(parts[1].video_frames, np.arange(7, 20))
    np.testing.assert_array_equal(parts[1].boxes, walk.boxes[7:20])
    assert all(np.isfinite(p.poses).all() and p.frame_valid.all() for p in parts)
    # Runs shorter than min_frames are dropped.
    assert [p.num_frames for p in split_valid(walk, min_frames=5)] == [13, 9, 8]


def test_read_motion_resamples_each_part(tmp_path, walk):
    path = tmp_path / "walk.npz"
    from builder.sources import save_motion
    walk.frame_valid[19] = False
    save_motion(walk, path)
    parts = read_motion(path, fps=60.0)
    assert [p.fps for p in parts] == [60.0, 60.0]
    assert [p.num_frames for p in parts] == [2 * 19 - 1, 2 * 19 - 1]


def test_all_valid_sequence_is_returned_unchanged(walk):
    assert split_valid(walk) == [walk]
    assert isinstance(split_valid(walk)[0], MotionSequence)
