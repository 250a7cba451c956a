"""BioHumanVideoProcessor: crops, affines, masked frames, save/load (against independent computations)."""

import numpy as np
import pytest
import torch

from modeling_biohuman import BioHumanVideoProcessor
from modeling_biohuman.image_processing_biohuman import IMAGENET_MEAN, IMAGENET_STD

H, W = 100, 80  # image
CH, CW = 64, 48  # crop (3:4 aspect)


def ramp_video(frames: int = 3) -> np.ndarray:
    """A float video whose colour is linear in the pixel position (bilinear sampling is then exact)."""
    ys, xs = np.meshgrid(np.arange(H) + 0.5, np.arange(W) + 0.5, indexing="ij")
    image = np.stack([xs / W, ys / H, np.full_like(xs, 0.5)], axis=-1)
    return np.repeat(image[None], frames, axis=0).astype(np.float32)


def independent_affine(box, enlarge: float) -> np.ndarray:
    """Affine from three corner correspondences of the aspect-fitted, enlarged crop rectangle."""
    x1, y1, x2, y2 = box
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    if w / h > CW / CH:
        h = w * CH / CW
    else:
        w = h * CW / CH
    w, h = w * enlarge, h * enlarge
    src = np.array([[cx - w / 2, cy - h / 2, 1], [cx + w / 2, cy - h / 2, 1], [cx - w / 2, cy + h / 2, 1]])
    dst = np.array([[0, 0], [CW, 0], [0, CH]], dtype=float)
    return np.linalg.solve(src, dst).T


def denormalise(pixels: torch.Tensor) -> torch.Tensor:
    return pixels * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)


@pytest.mark.parametrize("box", [(20.0, 30.0, 50.0, 70.0), (10.0, 40.0, 70.0, 60.0)])
def test_crop_of_known_box_matches_independent_affine(box):
    processor = BioHumanVideoProcessor(crop_size={"height": CH, "width": CW}, bbox_enlarge=1.25)
    video = ramp_video()
    out = processor(video, np.array([box] * 3))
    expected = independent_affine(box, 1.25)
    np.testing.assert_allclose(out["crop_affines"][0, 0].numpy(), expected, atol=1e-9)
    # Every crop pixel centre, mapped back to the image, must carry the ramp colour of that image point.
    ys, xs = np.meshgrid(np.arange(CH) + 0.5, np.arange(CW) + 0.5, indexing="ij")
    crop_pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1)
    inverse = np.linalg.inv(np.vstack([expected, [0, 0, 1]]))
    img_pts = (inverse @ crop_pts.T).T[:, :2]
    inside = (img_pts[:, 0] > 0.5) & (img_pts[:, 0] < W - 0.5) & (img_pts[:, 1] > 0.5) & (img_pts[:, 1] < H - 0.5)
    crop = denormalise(out["pixel_values"][0, 1]).numpy().reshape(3, -1)
    np.testing.assert_allclose(crop[0, inside], img_pts[inside, 0] / W, atol=1e-5)
    np.testing.assert_allclose(crop[1, inside], img_pts[inside, 1] / H, atol=1e-5)
    # The box prompt is the box mapped into the crop; its centre sits at the crop centre.
    crop_box = out["boxes"][0, 0].numpy()
    np.testing.assert_allclose((crop_box[:2] + crop_box[2:]) / 2, [CW / 2, CH / 2], atol=1e-4)


def test_mapping_points_back_recovers_them():
    processor = BioHumanVideoProcessor(crop_size={"height": CH, "width": CW})
    out = processor(ramp_video(2), np.array([[5.0, 7.0, 33.0, 90.0], [40.0, 10.0, 78.0, 30.0]]))
    points = torch.tensor([[0.0, 0.0], [12.3, 45.6], [79.9, 99.9]], dtype=torch.float64)
    for t in range(2):
        affine = out["crop_affines"][0, t]
        back = processor.crop_to_image(processor.image_to_crop(points, affine), affine)
        torch.testing.assert_close(back, points, atol=1e-9, rtol=0)


def test_partly_outside_box_is_padded_black_and_missing_boxes_are_masked():
    processor = BioHumanVideoProcessor(crop_size={"height": CH, "width": CW})
    boxes = np.array([
        [-30.0, -20.0, 30.0, 40.0],  # partly outside: kept, outside region black
        [np.nan, np.nan, np.nan, np.nan],  # missing
        [200.0, 200.0, 250.0, 260.0],  # entirely outside the image
        [10.0, 10.0, 10.0, 50.0],  # degenerate
    ])
    out = processor(ramp_video(4), boxes)
    assert out["attention_mask"][0].tolist() == [1, 0, 0, 0]
    crop = denormalise(out["pixel_values"][0, 0])
    assert torch.allclose(crop[:, :4, :4], torch.zeros(3, 4, 4), atol=1e-6)  # top-left lies outside the image
    assert crop[2, -1, -1] == pytest.approx(0.5, abs=1e-5)  # bottom-right is inside
    assert torch.isnan(out["crop_affines"][0, 1:]).all()
    assert (out["pixel_values"][0, 1:] == 0).all() and (out["boxes"][0, 1:] == 0).all()


def test_videos_of_different_lengths_are_padded_and_masked():
    processor = BioHumanVideoProcessor(crop_size={"height": CH, "width": CW})
    uint8 = (ramp_video(5) * 255).astype(np.uint8)
    out = processor([uint8[:5], uint8[:2].transpose(0, 3, 1, 2)], [np.array([[10.0, 10.0, 50.0, 90.0]] * 5),
                                                                   np.array([[10.0, 10.0, 50.0, 90.0]] * 2)])
    assert out["pixel_values"].shape == (2, 5, 3, CH, CW)
    assert out["attention_mask"].tolist() == [[1] * 5, [1, 1, 0, 0, 0]]
    torch.testing.assert_close(out["pixel_values"][1, :2], out["pixel_values"][0, :2])
    assert out["image_sizes"].tolist() == [[H, W], [H, W]]


def test_letterbox_mode_fits_the_whole_frame():
    processor = BioHumanVideoProcessor(crop_size={"height": 64, "width": 64}, crop_mode="letterbox")
    out = processor(ramp_video(1), np.array([[0.0, 0.0, W, H]]))
    corners = processor.image_to_crop(torch.tensor([[0.0, 0.0], [W, H]], dtype=torch.float64),
                                      out["crop_affines"][0, 0])
    torch.testing.assert_close(corners, torch.tensor([[6.4, 0.0], [57.6, 64.0]], dtype=torch.float64))


def test_bad_inputs_raise_clear_errors():
    processor = BioHumanVideoProcessor(crop_size={"height": CH, "width": CW})
    with pytest.raises(ValueError, match="boxes must have shape"):
        processor(ramp_video(3), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="crop_mode"):
        BioHumanVideoProcessor(crop_mode="centre")


def test_save_and_load_round_trip(tmp_path):
    from transformers import AutoImageProcessor

    processor = BioHumanVideoProcessor(crop_size={"height": CH, "width": CW}, bbox_enlarge=1.2, crop_mode="box")
    processor.save_pretrained(tmp_path)
    loaded = BioHumanVideoProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == processor.to_dict()
    boxes = np.array([[20.0, 30.0, 50.0, 70.0]] * 2)
    a, b = processor(ramp_video(2), boxes), loaded(ramp_video(2), boxes)
    for key in a:
        assert torch.equal(a[key], b[key]) or torch.allclose(a[key], b[key], equal_nan=True)
    (tmp_path / "config.json").write_text('{"model_type": "biohuman"}')
    assert isinstance(AutoImageProcessor.from_pretrained(tmp_path), BioHumanVideoProcessor)
