"""builder.video: H.264 round trip of rendered frames, time stamps, frame-count checks, bad input."""

import numpy as np
import pytest

from builder import layout
from builder.render.renderer import BodyRenderer
from builder.video import check_frame_count, probe_video, read_video, write_video


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


def test_rendered_video_reads_back_frame_for_frame(rendered_walk):
    result, (vertices, faces, fps) = rendered_walk
    video = result.out_dir / layout.VIDEO
    info = check_frame_count(video, len(vertices))
    assert (info.width, info.height, info.fps) == (256, 256, fps)
    decoded, times = read_video(video)
    np.testing.assert_allclose(times, np.arange(len(vertices)) / fps, atol=1e-6)
    with BodyRenderer(256, 256) as renderer:  # same camera and looks: the frames that were encoded
        rendered = np.stack([rgb for rgb, _ in renderer.render(vertices, faces, result.camera, result.appearance)])
    quality = psnr(decoded, rendered)
    error = np.abs(decoded.astype(int) - rendered).mean()
    print(f"H.264 round trip: PSNR {quality:.1f} dB, mean abs error {error:.2f} / 255")
    assert decoded.shape == rendered.shape
    assert quality >= 30.0 and error <= 3.0  # JPEG-quality-like
    assert min(psnr(d, r) for d, r in zip(decoded, rendered)) >= 28.0


@pytest.mark.parametrize("fps", [25.0, 29.97, 50.0])
def test_time_stamps_follow_the_frame_rate(tmp_path, fps):
    frames = [np.full((16, 24, 3), 8 * i, np.uint8) for i in range(12)]
    assert write_video(tmp_path / "v.mp4", frames, fps) == 12
    info = probe_video(tmp_path / "v.mp4")
    assert info.num_frames == 12 and abs(info.fps - fps) < 1e-3
    picked, times = read_video(tmp_path / "v.mp4", [11, 3, 3])
    np.testing.assert_allclose(times, np.array([11, 3, 3]) / fps, atol=1e-4)
    assert abs(int(picked[0].mean()) - 88) <= 2 and abs(int(picked[1].mean()) - 24) <= 2


def test_video_shorter_than_motion_is_an_error(tmp_path):
    write_video(tmp_path / "short.mp4", [np.zeros((8, 8, 3), np.uint8)] * 5, 30)
    with pytest.raises(ValueError, match=r"short.mp4: video has 5 frames but its motion has 6"):
        check_frame_count(tmp_path / "short.mp4", 6)
    with pytest.raises(IndexError, match=r"short.mp4: has 5 frames, frame 5 requested"):
        read_video(tmp_path / "short.mp4", [0, 5])


def test_bad_input_gives_clear_errors_and_leaves_no_file(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="even width and height"):
        write_video(target, [np.zeros((9, 8, 3), np.uint8)], 30)
    with pytest.raises(ValueError, match="frame 1 is 10x8"):
        write_video(target, [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], 30)
    with pytest.raises(ValueError, match="uint8"):
        write_video(target, [np.zeros((8, 8, 3), np.float32)], 30)
    with pytest.raises(ValueError, match="no frames"):
        write_video(target, [], 30)
    with pytest.raises(ValueError, match="positive"):
        write_video(target, [np.zeros((8, 8, 3), np.uint8)], 0)

    def failing():
        yield np.zeros((8, 8, 3), np.uint8)
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_video(target, failing(), 30)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        probe_video(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="junk.mp4: not a readable video"):
        read_video(tmp_path / "junk.mp4")
