"""builder.render: silhouettes agree with the saved camera, boxes and visibility at the image edges."""

import os
import sys

import numpy as np
import pytest
from PIL import Image

from builder import layout
from builder.render import Camera, CameraConfig, box_from_mask, box_iou, boxes_from_projection, clip_boxes
from builder.render.appearance import make_background, sample_appearance
from builder.render.camera import look_at, sample_camera
from builder.render.renderer import BodyRenderer


def test_rendered_silhouette_matches_mesh_projected_through_saved_camera(rendered_walk):
    result, (vertices, faces, fps) = rendered_walk
    camera = Camera.load(result.out_dir / layout.CAMERA)
    assert camera.num_frames == len(vertices)
    uv, depth = camera.project(vertices)
    mesh_boxes, visible = boxes_from_projection(uv, depth, camera.width, camera.height)
    iou = box_iou(mesh_boxes, result.mask_boxes)
    print(f"mesh-box vs mask-box IoU: min {iou.min():.4f} mean {iou.mean():.4f}")
    assert visible.all() and iou.min() >= 0.9
    np.testing.assert_allclose(np.load(result.out_dir / layout.BOXES), mesh_boxes, atol=1e-3)
    np.testing.assert_array_equal(np.load(result.out_dir / layout.BOX_VISIBLE), visible)
    with np.load(result.out_dir / layout.CAMERA) as saved:
        assert float(saved["fps"]) == fps
        np.testing.assert_allclose(saved["times"], np.arange(len(vertices)) / fps)


def test_camera_and_looks_are_seeded_per_sequence(walking_body):
    vertices, _, fps = walking_body

    def draw(seed):
        rng = np.random.default_rng(seed)
        return sample_camera(vertices, fps, 256, 256, rng), sample_appearance(rng, 256, 256)

    (cam_a, look_a), (cam_b, look_b), (cam_c, _) = draw(3), draw(3), draw(4)
    np.testing.assert_array_equal(cam_a.R, cam_b.R)
    np.testing.assert_array_equal(look_a.background, look_b.background)
    assert not np.allclose(cam_a.t, cam_c.t)
    # the camera looks at the body: every frame's body centre projects near the image centre
    centre = (vertices.min(1) + vertices.max(1))[:, None] / 2
    uv, depth = cam_a.project(centre)
    assert (depth > 0).all() and np.abs(uv[:, 0] - 127.5).max() < 40


def _frontal_camera(num_frames, offset_x):
    """A camera 4 m in front of the body, shifted sideways by ``offset_x`` metres per frame."""
    position = np.stack([np.asarray(offset_x, float), np.full(num_frames, 1.0), np.full(num_frames, 4.0)], -1)
    target = position - np.array([0.0, 0.0, 1.0])
    R = look_at(position, target)
    K = np.array([[300.0, 0, 63.5], [0, 300.0, 63.5], [0, 0, 1]])
    return Camera(K, R, -np.einsum("tij,tj->ti", R, position), 128, 128)


def test_body_partly_out_of_frame_is_clipped_and_masked(walking_body):
    vertices, faces, _ = walking_body
    body = np.repeat(vertices[:1] - [[[0.0, 0.0, vertices[0, :, 2].mean()]]], 4, axis=0)
    camera = _frontal_camera(4, [0.0, 0.3, 0.9, 50.0])  # centred, edge, mostly out, far away
    uv, depth = camera.project(body)
    boxes, visible = boxes_from_projection(uv, depth, camera.width, camera.height, min_visible=0.5)
    inside = ((uv >= -0.5) & (uv <= 127.5)).all(-1).mean(1)
    assert visible.tolist() == [True, True, False, False], inside
    assert np.isnan(boxes[3]).all()  # nothing in the image: no box at all
    assert boxes[2, 0] == -0.5 and boxes[2, 2] > 0  # clipped at the left edge, still drawn
    with BodyRenderer(128, 128) as renderer:
        appearance = sample_appearance(np.random.default_rng(0), 128, 128)
        masks = [mask for _, mask in renderer.render(body, faces, camera, appearance)]
    mask_boxes = np.stack([box_from_mask(mask) for mask in masks])
    assert box_iou(boxes[:3], mask_boxes[:3]).min() >= 0.9
    assert not masks[3].any()


def test_zero_area_and_invalid_boxes_are_masked():
    boxes = clip_boxes([[10, 10, 10, 50], [5, 5, 3, 9], [np.nan, 0, 4, 4], [-30, 2, -10, 9], [2, 3, 40, 60]],
                       width=32, height=32)
    assert np.isnan(boxes[:4]).all()
    np.testing.assert_array_equal(boxes[4], [2, 3, 31.5, 31.5])
    uv = np.zeros((1, 5, 2)) + [[[7.0, 1.0]]]  # every point projects onto one pixel
    line_boxes, visible = boxes_from_projection(uv, np.ones((1, 5)), 32, 32)
    assert np.isnan(line_boxes).all() and not visible.any()
    behind_boxes, behind = boxes_from_projection(uv + 5, -np.ones((1, 5)), 32, 32)
    assert np.isnan(behind_boxes).all() and not behind.any()


def test_backgrounds_plain_gradient_and_user_image(tmp_path):
    rng = np.random.default_rng(0)
    plain = make_background("plain", 40, 30, rng)
    assert plain.shape == (30, 40, 3) and len(np.unique(plain.reshape(-1, 3), axis=0)) == 1
    gradient = make_background("gradient", 40, 30, rng)
    assert len(np.unique(gradient.reshape(-1, 3), axis=0)) > 5
    picture = (np.arange(60 * 80 * 3) % 251).astype(np.uint8).reshape(60, 80, 3)
    Image.fromarray(picture).save(tmp_path / "bg.png")
    from_image = make_background("image", 40, 30, rng, [tmp_path / "bg.png"])
    assert from_image.shape == (30, 40, 3) and from_image.std() > 10
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.png"):
        make_background("image", 40, 30, rng, [tmp_path / "broken.png"])
    with pytest.raises(ValueError, match="unknown background"):
        make_background("stripes", 40, 30, rng)


def test_renderer_rejects_bad_meshes(walking_body):
    vertices, faces, fps = walking_body
    camera = sample_camera(vertices[:2], fps, 64, 64, np.random.default_rng(0), CameraConfig())
    looks = sample_appearance(np.random.default_rng(0), 64, 64)
    with BodyRenderer(64, 64) as renderer:
        with pytest.raises(ValueError, match="triangles"):
            next(renderer.render(vertices[:2], np.zeros((4, 4), int), camera, looks))
        with pytest.raises(ValueError, match="faces index"):
            next(renderer.render(vertices[:2], faces + vertices.shape[1], camera, looks))
        with pytest.raises(ValueError, match="camera has 2 frames"):
            next(renderer.render(vertices[:3], faces, camera, looks))


def test_no_working_gl_platform_is_a_clear_error(monkeypatch):
    from builder.render import gl

    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.delitem(sys.modules, "OpenGL.platform", raising=False)
    monkeypatch.setattr(gl, "PLATFORMS", ("no-such-platform",))
    with pytest.raises(RuntimeError, match="apt-get install libegl1"):
        gl.ensure_gl_platform()
    assert "PYOPENGL_PLATFORM" not in os.environ
