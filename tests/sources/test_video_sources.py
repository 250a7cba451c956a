"""builder.sources.video_sources on small synthetic files in each dataset's layout."""

import numpy as np
import pytest
from PIL import Image

from builder import layout
from builder.render.camera import Camera, look_at
from builder.sources.motion import MotionSequence
from builder.sources.video_sources import export_source_video, open_frames, synchronise
from builder.video import check_frame_count, read_video, write_video


def level(index: int) -> int:
    """Grey level that identifies video frame ``index`` after lossy coding."""
    return 20 + 9 * index


def frame(index: int, width: int = 32, height: int = 24) -> np.ndarray:
    return np.full((height, width, 3), level(index), np.uint8)


def write_images(folder, names, width=32, height=24, fmt="JPEG"):
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        Image.fromarray(frame(i, width, height)).save(folder / name, format=fmt, quality=95)
    return folder


def motion(num_frames, fps, video_path, **fields):
    return MotionSequence("seq", "test", "s1", np.zeros((num_frames, 72)), np.zeros((num_frames, 3)), fps,
                          video_path=video_path, **fields)


def shown_frames(seq_dir):
    """The video frame index each exported frame shows (decoded from its grey level)."""
    frames, _ = read_video(seq_dir / layout.VIDEO)
    return np.round((frames.reshape(len(frames), -1).mean(1) - 20) / 9).astype(int)


def test_human36m_video_at_50_fps_converted_to_the_motion_rate(tmp_path):
    video = tmp_path / "S1" / "Videos" / "Walking 1.54138969.mp4"
    video.parent.mkdir(parents=True)
    write_video(video, [frame(i) for i in range(25)], 50)
    # a 30 fps motion over the same 0.5 s, no video_frames: nearest video frame in time
    position = np.array([[0.0, 1.0, 4.0]] * 15)
    R = look_at(position, np.tile([0.0, 1.0, 0.0], (15, 1)))
    camera = {"K": np.array([[40.0, 0, 15.5], [0, 40.0, 11.5], [0, 0, 1]]), "R": R,
              "t": -np.einsum("tij,tj->ti", R, position)}
    body = np.random.default_rng(0).uniform(-0.3, 0.3, (15, 50, 3)) + [0.0, 1.0, 0.0]
    sequence = motion(15, 30, video, camera=camera)
    synced = export_source_video(sequence, tmp_path / "out", vertices=body)
    check_frame_count(tmp_path / "out" / layout.VIDEO, 15)
    np.testing.assert_array_equal(synced.video_index, np.round(np.arange(15) * 50 / 30))
    np.testing.assert_array_equal(shown_frames(tmp_path / "out"), synced.video_index)
    # no official boxes: the body projected through the sequence's camera gives them
    uv, _ = Camera.load(tmp_path / "out" / layout.CAMERA).project(body)
    np.testing.assert_allclose(np.load(tmp_path / "out" / layout.BOXES)[:, :2], uv.min(1), atol=1e-4)
    assert np.load(tmp_path / "out" / layout.BOX_VISIBLE).all()


def test_human36m_mosh_rate_with_reader_given_video_frames(tmp_path):
    video = tmp_path / "S5" / "Videos" / "Sitting.55011271.mp4"
    video.parent.mkdir(parents=True)
    write_video(video, [frame(i) for i in range(10)], 50)
    index = np.floor(np.arange(40) * 50 / 200).astype(int)  # 200 Hz motion, as the reader maps it
    synced = synchronise(motion(40, 200, video, video_frames=index))
    np.testing.assert_array_equal(synced.video_index, index)
    assert not synced.visible.any() and np.isnan(synced.boxes).all()  # no boxes, no body: all masked


def test_3dpw_image_folder_with_bad_boxes_masked(tmp_path):
    images = write_images(tmp_path / "imageFiles" / "courtyard_basketball_00",
                          [f"image_{i:05d}.jpg" for i in range(12)])
    boxes = np.tile([4.0, 2.0, 20.0, 22.0], (12, 1))
    boxes[3] = [10, 5, 10, 15]       # zero width
    boxes[4] = np.nan                # not annotated
    boxes[5] = [-40, -40, -10, -5]   # entirely outside the image
    boxes[6] = [20, 10, 60, 30]      # partly outside: clipped
    R = np.tile(np.eye(3), (12, 1, 1))
    camera = {"K": np.eye(3), "R": R, "t": np.zeros((12, 3))}
    export_source_video(motion(12, 30, images, boxes=boxes, camera=camera), tmp_path / "out")
    assert shown_frames(tmp_path / "out").tolist() == list(range(12))
    saved, visible = np.load(tmp_path / "out" / layout.BOXES), np.load(tmp_path / "out" / layout.BOX_VISIBLE)
    assert visible.tolist() == [True] * 3 + [False] * 3 + [True] * 6
    assert np.isnan(saved[3:6]).all()
    np.testing.assert_allclose(saved[6], [20, 10, 31.5, 23.5])
    with np.load(tmp_path / "out" / layout.CAMERA) as cam:
        assert cam["R"].shape == (12, 3, 3) and int(cam["width"]) == 32
        assert cam["video_frames"].tolist() == list(range(12))


def test_emdb_video_shorter_than_motion_errors_or_masks(tmp_path):
    images = write_images(tmp_path / "P1" / "14_outdoor_climb" / "images", [f"{i:05d}.jpg" for i in range(12)])
    boxes = np.tile([4.0, 2.0, 20.0, 22.0], (15, 1))
    sequence = motion(15, 30, images, boxes=boxes)
    with pytest.raises(ValueError, match=r"images: has 12 frames but motion frame 12 of 15 needs video frame 12"):
        export_source_video(sequence, tmp_path / "strict")
    assert not (tmp_path / "strict" / layout.VIDEO).exists()
    synced = export_source_video(sequence, tmp_path / "masked", on_missing="mask")
    check_frame_count(tmp_path / "masked" / layout.VIDEO, 15)
    assert synced.video_index.tolist() == list(range(12)) + [-1] * 3
    visible = np.load(tmp_path / "masked" / layout.BOX_VISIBLE)
    assert visible.tolist() == [True] * 12 + [False] * 3
    decoded, _ = read_video(tmp_path / "masked" / layout.VIDEO)
    assert decoded[12:].max() <= 3 and shown_frames(tmp_path / "masked")[:12].tolist() == list(range(12))


@pytest.mark.parametrize("stored_as", ["png", "mp4"])
def test_bedlam_labels_every_fifth_frame(tmp_path, stored_as):
    scene = tmp_path / "20221010_3_1000_batch01hand"
    if stored_as == "png":
        source = write_images(scene / "png" / "seq_000000", [f"seq_000000_{i:04d}.png" for i in range(20)], fmt="PNG")
    else:
        source = scene / "mp4" / "seq_000000.mp4"
        source.parent.mkdir(parents=True)
        write_video(source, [frame(i) for i in range(20)], 30)
    index = 2 + 5 * np.arange(4)
    export_source_video(motion(4, 6, source, video_frames=index, boxes=np.tile([1.0, 1, 9, 9], (4, 1))),
                        tmp_path / "out")
    assert shown_frames(tmp_path / "out").tolist() == index.tolist()


def test_motionpro_odd_sized_colour_frames_are_cropped_even(tmp_path):
    images = write_images(tmp_path / "20240101" / "S01" / "walk" / "color", [f"{i}.jpg" for i in range(1, 11)],
                          width=33, height=25)
    frames = open_frames(images)
    assert [p.name for p in frames.files[:3]] == ["1.jpg", "2.jpg", "3.jpg"]  # natural, not lexical, order
    synced = export_source_video(motion(10, 30, images, boxes=np.tile([2.0, 2, 40, 30], (10, 1))), tmp_path / "out")
    info = check_frame_count(tmp_path / "out" / layout.VIDEO, 10)
    assert (info.width, info.height) == (32, 24)
    np.testing.assert_allclose(synced.boxes[0], [2, 2, 31.5, 23.5])


def test_bad_video_inputs_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.mp4: video file or image folder not found"):
        synchronise(motion(3, 30, tmp_path / "nowhere.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no image files"):
        synchronise(motion(3, 30, tmp_path / "empty"))
    with pytest.raises(ValueError, match="has no video_path"):
        synchronise(motion(3, 30, None))
    write_video(tmp_path / "v.mp4", [frame(i) for i in range(4)], 30)
    with pytest.raises(ValueError, match="on_missing"):
        synchronise(motion(3, 30, tmp_path / "v.mp4"), on_missing="pad")
    with pytest.raises(ValueError, match="requested in order"):
        export_source_video(motion(3, 30, tmp_path / "v.mp4", video_frames=np.array([2, 1, 0])), tmp_path / "out")
    with pytest.raises(ValueError, match="camera has 2 rotations"):
        camera = {"K": np.eye(3), "R": np.tile(np.eye(3), (2, 1, 1)), "t": np.zeros(3)}
        export_source_video(motion(3, 30, tmp_path / "v.mp4", camera=camera), tmp_path / "out2")
