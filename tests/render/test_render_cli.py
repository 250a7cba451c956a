"""`biohuman render` and `biohuman preview` end to end on a posed mesh."""

import json

import numpy as np
import pytest
from PIL import Image

from builder import layout
from builder.cli import main
from builder.render.preview import contact_sheet
from builder.render.sequence import sequence_seed
from builder.video import check_frame_count


def test_render_then_preview_contact_sheet(walking_body, tmp_path, capsys):
    vertices, faces, fps = walking_body
    mesh = tmp_path / "walk_mesh.npz"
    np.savez(mesh, vertices=vertices[:10], faces=faces, fps=fps)
    seq_dir = tmp_path / "sequences" / "walk_cli"
    assert main(["render", str(seq_dir), "--mesh", str(mesh), "--size", "128", "96", "--seed", "5"]) == 0
    check_frame_count(seq_dir / layout.VIDEO, 10)
    boxes, visible = np.load(seq_dir / layout.BOXES), np.load(seq_dir / layout.BOX_VISIBLE)
    assert boxes.shape == (10, 4) and visible.dtype == bool and visible.all()
    assert (boxes[:, 0] >= -0.5).all() and (boxes[:, 2] <= 127.5).all() and (boxes[:, 3] <= 95.5).all()
    video_time = (seq_dir / layout.VIDEO).stat().st_mtime_ns
    argv = ["render", str(seq_dir), "--mesh", str(mesh), "--size", "128", "96"]
    assert main([*argv, "--seed", "5"]) == 0  # done with these settings and this mesh: skipped
    assert (seq_dir / layout.VIDEO).stat().st_mtime_ns == video_time
    assert main([*argv, "--seed", "6"]) == 0  # another seed: rendered again (it used to be skipped)
    assert json.loads((seq_dir / layout.RENDER_SETTINGS).read_text())["settings"]["seed"] == 6
    video_time = (seq_dir / layout.VIDEO).stat().st_mtime_ns
    np.savez(mesh, vertices=vertices[10:20], faces=faces, fps=fps)   # the input changed
    assert main([*argv, "--seed", "5"]) == 0
    assert (seq_dir / layout.VIDEO).stat().st_mtime_ns != video_time
    camera = np.load(seq_dir / layout.CAMERA)
    assert int(camera["seed"]) == sequence_seed(5, seq_dir.name)

    assert main(["preview", str(seq_dir), "--frames", "6", "--columns", "3", "--tile-width", "128"]) == 0
    sheet = Image.open(seq_dir / "preview.png")
    assert sheet.size == (3 * 128, 2 * 96)
    pixels = np.asarray(sheet.convert("RGB")).reshape(-1, 3)
    assert (np.abs(pixels.astype(int) - (40, 220, 60)).sum(1) < 30).sum() > 200  # green boxes drawn


def test_preview_marks_masked_frames_red(tmp_path):
    from builder.render.boxes import save_boxes
    from builder.video import write_video

    write_video(tmp_path / layout.VIDEO, [np.full((48, 64, 3), 90, np.uint8)] * 4, 30)
    boxes = np.array([[5, 5, 40, 40], [5, 5, 40, 40], [np.nan] * 4, [10, 10, 30, 30]], np.float32)
    save_boxes(tmp_path, boxes, np.array([True, False, False, True]))
    sheet = np.asarray(contact_sheet(tmp_path, num_frames=4, columns=4, tile_width=64))
    tiles = [sheet[:, 64 * i:64 * (i + 1)].reshape(-1, 3).astype(int) for i in range(4)]
    red = [(np.abs(t - (230, 40, 40)).sum(1) < 30).sum() for t in tiles]
    green = [(np.abs(t - (40, 220, 60)).sum(1) < 30).sum() for t in tiles]
    assert green[0] > 50 and red[0] == 0 and red[1] > 50 and red[2] == green[2] == 0 and green[3] > 50


def test_render_command_renders_motion_or_aligns_source_video(tmp_path):
    from helpers.synthetic_motion import smpl_walk

    from builder.sources.motion_file import save_motion
    from builder.video import read_video, write_video

    walk_dir, video_dir = tmp_path / "sequences" / "walk", tmp_path / "sequences" / "filmed"
    save_motion(smpl_walk(8, 30.0), walk_dir / layout.MOTION)
    filmed = smpl_walk(6, 30.0)
    filmed.video_path = tmp_path / "source.mp4"
    filmed.boxes = np.tile([2.0, 2.0, 20.0, 20.0], (6, 1))
    write_video(filmed.video_path, [np.full((24, 32, 3), 30 * i, np.uint8) for i in range(5)], 30.0)
    save_motion(filmed, video_dir / layout.MOTION)

    assert main(["render", str(walk_dir), "--size", "64", "64"]) == 0  # no video: the Anny body is rendered
    check_frame_count(walk_dir / layout.VIDEO, 8)
    assert np.load(walk_dir / layout.BOX_VISIBLE).all()
    with pytest.raises(ValueError, match="source.mp4: has 5 frames but motion frame 5 of 6"):
        main(["render", str(video_dir)])  # the source video is one frame short of its motion
    assert main(["render", str(video_dir), "--on-missing", "mask"]) == 0
    frames, _ = read_video(video_dir / layout.VIDEO)
    assert len(frames) == 6 and abs(frames[4].mean() - 120) < 3 and frames[5].max() <= 3
    assert np.load(video_dir / layout.BOX_VISIBLE).tolist() == [True] * 5 + [False]
