"""BioHumanForMotionAndMuscle: save/load, Auto classes, gates, masking, permutation, fitting, chunking, baselines."""

import json

import pytest
import torch
from transformers import AutoConfig, AutoModel

import modeling_biohuman as mb
from modeling_biohuman.inference import owner_windows, window_starts

B, T = 2, 6


def inputs(config, batch=B, frames=T, seed=0):
    g = torch.Generator().manual_seed(seed)
    height, width = config.image_size
    boxes = torch.tensor([2.0, 3.0, width - 2.0, height - 1.0]).expand(batch, frames, 4).clone()
    return {"pixel_values": torch.randn(batch, frames, 3, height, width, generator=g), "boxes": boxes}


def labels(config, batch=B, frames=T, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {"pose_labels": 0.3 * torch.randn(batch, frames, config.pose_dim, generator=g),
            "muscle_labels": torch.rand(batch, frames, config.num_muscles, generator=g)}


def test_save_load_round_trip_with_processor_and_auto_classes(tiny_biohuman_config, tmp_path):
    model = mb.BioHumanForMotionAndMuscle(tiny_biohuman_config()).eval()
    processor = mb.BioHumanVideoProcessor(crop_size={"height": 32, "width": 24})
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModel"].endswith("BioHumanForMotionAndMuscle")
    assert (tmp_path / "modeling_biohuman.py").exists()  # remote-code copy for trust_remote_code loading
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is mb.BioHumanForMotionAndMuscle
    assert isinstance(AutoConfig.from_pretrained(tmp_path), mb.BioHumanConfig)
    ignore = {"_name_or_path"}
    assert {k: v for k, v in loaded.config.to_dict().items() if k not in ignore} == \
        {k: v for k, v in model.config.to_dict().items() if k not in ignore}
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys() and all(torch.equal(state[k], loaded_state[k]) for k in state)
    video = torch.randint(0, 255, (T, 40, 30, 3), dtype=torch.uint8)
    boxes = torch.tensor([[3.0, 4.0, 25.0, 38.0]] * T)
    enc = processor(video, boxes)
    enc2 = mb.BioHumanVideoProcessor.from_pretrained(tmp_path)(video, boxes)
    assert torch.equal(enc["pixel_values"], enc2["pixel_values"])
    with torch.no_grad():
        a = model(pixel_values=enc["pixel_values"], boxes=enc["boxes"], attention_mask=enc["attention_mask"])
        b = loaded(pixel_values=enc2["pixel_values"], boxes=enc2["boxes"], attention_mask=enc2["attention_mask"])
    assert torch.equal(a.pose, b.pose) and torch.equal(a.muscle_activations, b.muscle_activations)


def test_outputs_shapes_ranges_and_gates_in_open_unit_interval(tiny_biohuman_config):
    config = tiny_biohuman_config()
    model = mb.BioHumanForMotionAndMuscle(config)
    with torch.no_grad():  # give the zero-initialised conditioning layers non-trivial values
        model.visual_injection.weight.normal_(std=0.2)
        model.visual_output.weight.normal_(std=0.2)
    out = model(**inputs(config), **labels(config))
    assert out.pose.shape == (B, T, 72) and out.muscle_activations.shape == (B, T, 112)
    assert out.initial_pose.shape == (B, T, 72) and out.betas.shape == (B, T, 10)
    assert ((out.muscle_activations > 0) & (out.muscle_activations < 1)).all()
    for gates in (out.input_gates, out.output_gates):
        assert gates.shape == (B, T, config.hidden_size)
        assert ((gates > 0) & (gates < 1)).all()
        assert gates.std() > 0  # gates depend on the input, not a constant
    assert out.loss.ndim == 0 and set(out.loss_terms) >= {"pose_recon", "muscle_pcc", "std_match"}


def test_zero_initialised_conditioning_starts_from_hmr_pose(tiny_biohuman_config):
    config = tiny_biohuman_config()
    model = mb.BioHumanForMotionAndMuscle(config)
    with torch.no_grad():
        out = model(**inputs(config))
    # residual adapter and pose head start at zero: the final pose is the HMR pose
    torch.testing.assert_close(out.pose, out.initial_pose)
    torch.testing.assert_close(out.adapted_pose, out.initial_pose)


def test_zeroed_visual_stream_acts_only_through_the_gates(tiny_biohuman_config):
    """The visual stream reaches the output only through the input gate g (eq. 6-8: p~ = p + g * Z(v) and
    the visual token g * v): with g held closed the output does not depend on the visual features at
    all and equals the output for a zeroed visual stream; with g free, the features matter and their
    gradient is non-zero. The output fusion is exactly LN(p' + o * W_o v') with o = sigmoid(G_out([p', v']))."""
    config = tiny_biohuman_config()
    model = mb.BioHumanForMotionAndMuscle(config).eval()
    with torch.no_grad():
        model.visual_injection.weight.normal_(std=0.3)
        model.visual_output.weight.normal_(std=0.3)
        model.pose_head[-1].weight.normal_(std=0.3)  # zero-initialised: the pose would equal the HMR pose
    g = torch.Generator().manual_seed(3)
    hmr_pose = 0.3 * torch.randn(B, T, config.pose_dim, generator=g)
    features_a, features_b = (torch.randn(B, T, config.hmr_feature_size, generator=g) for _ in range(2))

    def run(features, gates_closed=False, zero_stream=False):
        hooks = []
        if gates_closed:  # sigmoid(-1e4) == 0 exactly in float32
            hooks.append(model.input_gate.register_forward_hook(lambda mod, args, out: torch.full_like(out, -1e4)))
        if zero_stream:
            hooks.append(model.visual_proj.register_forward_hook(lambda mod, args, out: torch.zeros_like(out)))
        features = features.clone().requires_grad_(True)
        out = model(hmr_pose=hmr_pose, hmr_features=features)
        (out.muscle_activations.sum() + out.pose.sum()).backward()
        for hook in hooks:
            hook.remove()
        model.zero_grad()
        return out, features.grad

    open_a, grad_open = run(features_a)
    open_b, _ = run(features_b)
    assert not torch.allclose(open_a.muscle_activations, open_b.muscle_activations)
    assert not torch.allclose(open_a.pose, open_b.pose)
    assert grad_open.abs().max() > 0
    zeroed, _ = run(features_a, zero_stream=True)
    for features in (features_a, features_b):
        closed, grad_closed = run(features, gates_closed=True)
        assert (closed.input_gates == 0).all()
        assert torch.equal(closed.muscle_activations, zeroed.muscle_activations)
        assert torch.equal(closed.pose, zeroed.pose)
        assert torch.equal(grad_closed, torch.zeros_like(grad_closed))

    captured = {}
    model.transformer.register_forward_hook(lambda module, args, output: captured.update(out=output))
    with torch.no_grad():
        out = model(**inputs(config))
        tokens = captured["out"].reshape(B, T, 2, -1)
        p, v = tokens[:, :, 0], tokens[:, :, 1]
        gate = torch.sigmoid(model.output_gate(torch.cat([p, v], dim=-1)))
        torch.testing.assert_close(out.output_gates, gate)
        torch.testing.assert_close(out.hidden_states, model.fusion_norm(p + gate * model.visual_output(v)))


@pytest.mark.parametrize("fusion_mode", ["gated", "late_concat", "pose_only"])
def test_masked_frames_do_not_affect_loss_or_other_frames(tiny_biohuman_config, fusion_mode):
    config = tiny_biohuman_config(fusion_mode=fusion_mode)
    model = mb.BioHumanForMotionAndMuscle(config).eval()
    x, y = inputs(config), labels(config)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[0, 2] = 0  # a frame without a box inside the window
    mask[1, 4:] = 0  # padding at the end
    pixels = x["pixel_values"].clone().requires_grad_(True)
    out = model(pixel_values=pixels, boxes=x["boxes"], attention_mask=mask, **y)
    out.loss.backward()
    full_grad = pixels.grad.clone()
    assert (pixels.grad[mask == 0] == 0).all()
    assert pixels.grad[mask == 1].abs().sum() > 0
    if fusion_mode == "pose_only":  # muscle supervision must not reach the front-end
        pixels.grad = None
        model(pixel_values=pixels, boxes=x["boxes"], attention_mask=mask,
              muscle_labels=y["muscle_labels"]).loss.backward()
        assert pixels.grad is None or (pixels.grad == 0).all()
    # change everything about the masked frames: pixels, boxes and labels (even NaN labels)
    x2 = {k: v.clone() for k, v in x.items()}
    y2 = {k: v.clone() for k, v in y.items()}
    x2["pixel_values"][mask == 0] = 5 * torch.randn_like(x2["pixel_values"][mask == 0])
    x2["boxes"][mask == 0] = torch.tensor([0.0, 0.0, 7.0, 9.0])
    y2["pose_labels"][mask == 0] = float("nan")
    y2["muscle_labels"][mask == 0] = float("nan")
    with torch.no_grad():
        a = model(**x, attention_mask=mask, **y)
        b = model(**x2, attention_mask=mask, **y2)
    valid = mask.bool()
    pixels2 = x2["pixel_values"].clone().requires_grad_(True)
    model(pixel_values=pixels2, boxes=x2["boxes"], attention_mask=mask, **y2).loss.backward()
    torch.testing.assert_close(pixels2.grad[valid], full_grad[valid])  # valid frames' gradients unchanged
    torch.testing.assert_close(a.pose[valid], b.pose[valid])
    torch.testing.assert_close(a.muscle_activations[valid], b.muscle_activations[valid])
    torch.testing.assert_close(a.loss, b.loss)


def test_lengths_and_attention_mask_agree(tiny_biohuman_config):
    config = tiny_biohuman_config()
    model = mb.BioHumanForMotionAndMuscle(config).eval()
    x = inputs(config)
    mask = torch.tensor([[1] * T, [1] * 3 + [0] * (T - 3)])
    with torch.no_grad():
        a = model(**x, attention_mask=mask)
        b = model(**x, lengths=torch.tensor([T, 3]))
    torch.testing.assert_close(a.muscle_activations, b.muscle_activations)


def test_permuting_padded_frames_keeps_valid_outputs(tiny_biohuman_config):
    config = tiny_biohuman_config()
    model = mb.BioHumanForMotionAndMuscle(config).eval()
    x = inputs(config, batch=1, frames=8)
    mask = torch.tensor([[1] * 5 + [0] * 3])
    perm = torch.tensor([0, 1, 2, 3, 4, 7, 5, 6])
    permuted = {k: v[:, perm] for k, v in x.items()}
    with torch.no_grad():
        a = model(**x, attention_mask=mask)
        b = model(**permuted, attention_mask=mask[:, perm])
    torch.testing.assert_close(a.pose[:, :5], b.pose[:, :5])
    torch.testing.assert_close(a.muscle_activations[:, :5], b.muscle_activations[:, :5])


def test_tiny_model_fits_a_fixed_batch(tiny_biohuman_config):
    torch.manual_seed(0)
    config = tiny_biohuman_config(loss_weights={"initial_pose_recon": 0.0})
    model = mb.BioHumanForMotionAndMuscle(config).train()
    x = inputs(config, batch=2, frames=8)
    g = torch.Generator().manual_seed(3)
    t = torch.linspace(0, 3.14, 8)
    y = {"pose_labels": 0.2 * torch.sin(t[None, :, None] + torch.randn(2, 1, 72, generator=g)),
         "muscle_labels": 0.5 + 0.4 * torch.sin(2 * t[None, :, None] + torch.randn(2, 1, 112, generator=g))}
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 6:] = 0
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    first = None
    for _ in range(300):
        out = model(**x, attention_mask=mask, **y)
        optimiser.zero_grad()
        out.loss.backward()
        optimiser.step()
        first = first if first is not None else float(out.loss.detach())
    final = {k: float(v.detach()) for k, v in out.loss_terms.items()}
    assert float(out.loss.detach()) < 0.05 * first, (first, final)
    assert final["muscle_recon"] < 0.02 and final["pose_recon"] < 0.02 and final["muscle_pcc"] < 0.02, final


def test_chunked_inference_merges_windows_in_sequence_order(tiny_biohuman_config):
    config = tiny_biohuman_config(window_length=4)
    model = mb.BioHumanForMotionAndMuscle(config).eval()
    frames = 11
    x = inputs(config, batch=1, frames=frames)
    assert window_starts(frames, 4, 1) == [0, 3, 6, 7]
    out = model.predict_long_video(overlap=1, batch_size=3, **x)
    assert out.muscle_activations.shape == (1, frames, 112)
    owners = owner_windows(frames, [0, 3, 6, 7], 4)
    for start_index, start in enumerate([0, 3, 6, 7]):
        with torch.no_grad():
            direct = model(**{k: v[:, start:start + 4] for k, v in x.items()})
        for frame in range(start, start + 4):
            if owners[frame] == start_index:
                torch.testing.assert_close(out.muscle_activations[0, frame],
                                           direct.muscle_activations[0, frame - start])
                torch.testing.assert_close(out.pose[0, frame], direct.pose[0, frame - start])
    assert owners.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3]  # ties go to the earlier window


def test_two_stage_baseline_isolates_the_front_end(tiny_biohuman_config, tmp_path):
    config = tiny_biohuman_config(two_stage=True)
    model = mb.BioHumanTwoStageForMuscle(config)
    x, y = inputs(config), labels(config)
    out = model(**x, muscle_labels=y["muscle_labels"])
    out.loss.backward()
    assert all(p.grad is None or (p.grad == 0).all() for p in model.hmr.parameters())  # muscle loss stops at stage 2
    model.zero_grad()
    out = model(**x, **y)
    out.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.hmr.parameters())
    assert ((out.muscle_activations > 0) & (out.muscle_activations < 1)).all()
    model.save_pretrained(tmp_path)
    reloaded = AutoModel.from_pretrained(tmp_path)
    assert type(reloaded) is mb.BioHumanTwoStageForMuscle
    model.eval()
    with torch.no_grad():  # the reloaded model computes the same motion features (same rest skeleton)
        torch.testing.assert_close(reloaded.eval()(**x).muscle_activations, model(**x).muscle_activations,
                                   rtol=0, atol=0)


def test_humanml3d_features_layout_and_facing_invariance():
    import roma

    from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
    from modeling_biohuman.baselines import FOOT_JOINTS, humanml3d_features

    rest = torch.tensor(SMPL_NEUTRAL_REST_JOINTS, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    pose = 0.3 * torch.randn(1, 5, 72, generator=g, dtype=torch.float64)
    mask = torch.ones(1, 5, dtype=torch.bool)
    feats = humanml3d_features(pose, mask, rest)
    assert feats.shape == (1, 5, 263)
    # turning the whole body about the vertical axis leaves the facing-frame features unchanged
    turn = roma.rotvec_to_rotmat(torch.tensor([0.0, 1.1, 0.0], dtype=torch.float64))
    turned = pose.clone()
    turned[..., :3] = roma.rotmat_to_rotvec(turn @ roma.rotvec_to_rotmat(pose[..., :3]))
    feats_turned = humanml3d_features(turned, mask, rest)
    torch.testing.assert_close(feats_turned[..., 1:67], feats[..., 1:67])
    torch.testing.assert_close(feats_turned[..., 193:], feats[..., 193:])
    # ric block: joint positions relative to the root, from the shared forward kinematics
    from biohuman10m.metrics import smpl_forward_kinematics

    joints = torch.as_tensor(smpl_forward_kinematics(pose, rest))
    heights = feats[0, :, 4:67].reshape(5, 21, 3)[..., 1]
    floor = rest[list(FOOT_JOINTS), 1].min()   # heights count from the rest skeleton's floor
    torch.testing.assert_close(heights, joints[0, :, 1:22, 1] - floor)
    torch.testing.assert_close(feats[0, :, 3], joints[0, :, 0, 1] - floor)   # root height


def test_model_card_carries_model_index(tiny_biohuman_config, tmp_path):
    from huggingface_hub import ModelCard

    from builder.training.model_card import write_model_card

    config = tiny_biohuman_config()
    path = write_model_card(tmp_path, config, 1234, {"pcc": 0.71, "rmse": 0.065}, repo_id="me/biohuman-tiny")
    card = ModelCard.load(path)
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert results == {"pcc": 0.71, "rmse": 0.065}
    assert "model-index" in path.read_text() and "Intended use" in card.text


@pytest.mark.parametrize("two_stage", [False, True])
def test_empty_windows_and_nan_in_masked_precomputed_inputs_stay_finite(tiny_biohuman_config, two_stage):
    config = tiny_biohuman_config(two_stage=two_stage)
    model = (mb.BioHumanTwoStageForMuscle if two_stage else mb.BioHumanForMotionAndMuscle)(config)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1] = 0  # a window without any usable frame
    out = model(**inputs(config), attention_mask=mask, **labels(config))
    out.loss.backward()
    assert torch.isfinite(out.muscle_activations).all() and torch.isfinite(out.loss)
    hmr_pose = torch.randn(B, T, 72)
    hmr_features = torch.randn(B, T, config.hmr_feature_size)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[0, 3:] = 0
    hmr_pose[0, 3:] = float("nan")
    hmr_features[0, 3:] = float("nan")
    out = model(hmr_pose=hmr_pose.requires_grad_(), hmr_features=hmr_features, attention_mask=mask, **labels(config))
    out.loss.backward()
    assert torch.isfinite(out.pose).all() and torch.isfinite(hmr_pose.grad).all()


@pytest.mark.parametrize("two_stage", [False, True])
def test_padded_frames_stay_finite_in_inference_mode(tiny_biohuman_config, two_stage):
    """Padded frames come out as exact zeros in inference mode (the main-job test covers the trained
    two-stage model whose eval-mode transformer left NaN there, which a mask product kept)."""
    config = tiny_biohuman_config(two_stage=two_stage)
    model = (mb.BioHumanTwoStageForMuscle if two_stage else mb.BioHumanForMotionAndMuscle)(config).eval()
    mask = torch.ones(B, T, dtype=torch.long)
    mask[0, T // 2:] = 0
    with torch.no_grad():
        out = model(**inputs(config), attention_mask=mask)
    assert torch.isfinite(out.muscle_activations).all()
    assert (out.muscle_activations[0, T // 2:] == 0).all()


def test_saved_folder_loads_with_trust_remote_code_without_importing_the_package(tiny_biohuman_config, tmp_path):
    import subprocess
    import sys

    mb.BioHumanForMotionAndMuscle(tiny_biohuman_config()).save_pretrained(tmp_path / "model")
    mb.BioHumanVideoProcessor().save_pretrained(tmp_path / "model")
    code = ("import sys; from transformers import AutoModel, AutoImageProcessor; "
            "m = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True); "
            "p = AutoImageProcessor.from_pretrained(sys.argv[1], trust_remote_code=True); "
            "assert 'modeling_biohuman' not in sys.modules; print(type(m).__name__, type(p).__name__)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model")], cwd=tmp_path, capture_output=True,
                            text=True, check=False, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["BioHumanForMotionAndMuscle", "BioHumanVideoProcessor"]


@pytest.mark.parametrize("front_end_gradient", [True, False])
def test_front_end_gradient_decides_whether_muscle_supervision_reaches_the_front_end(tiny_biohuman_config,
                                                                                    front_end_gradient):
    config = tiny_biohuman_config(front_end_gradient=front_end_gradient)
    model = mb.BioHumanForMotionAndMuscle(config).eval()
    x, y = inputs(config), labels(config)
    pixels = x["pixel_values"].clone().requires_grad_(True)
    model(pixel_values=pixels, boxes=x["boxes"], muscle_labels=y["muscle_labels"]).loss.backward()
    reached = pixels.grad is not None and bool(pixels.grad.abs().sum() > 0)
    assert reached == front_end_gradient
    pixels.grad = None  # the front-end's own pose loss reaches it either way
    out = model(pixel_values=pixels, boxes=x["boxes"], pose_labels=y["pose_labels"])
    torch.nn.functional.l1_loss(out.initial_pose, y["pose_labels"]).backward()
    assert pixels.grad.abs().sum() > 0


def test_visual_dropout_drops_whole_windows_in_training_only(tiny_biohuman_config):
    from modeling_biohuman.modeling_biohuman import drop_windows

    torch.manual_seed(0)
    dropped = drop_windows(torch.ones(4000, 8, 3), 0.3)
    per_window = dropped.sum(dim=(1, 2))
    assert set(per_window.unique().tolist()) == {0.0, 24.0}  # a window keeps all its features or none
    assert abs(float((per_window == 0).float().mean()) - 0.3) < 0.03
    with pytest.raises(ValueError, match="visual_dropout"):
        tiny_biohuman_config(visual_dropout=1.0)
    config = tiny_biohuman_config(visual_dropout=0.5, dropout=0.0)
    model = mb.BioHumanForMotionAndMuscle(config)
    x = {"hmr_pose": torch.randn(B, T, 72), "hmr_features": torch.randn(B, T, config.hmr_feature_size)}
    model.eval()
    torch.testing.assert_close(model(**x).muscle_activations, model(**x).muscle_activations)
    model.train()
    torch.manual_seed(1)
    runs = [model(**x).muscle_activations for _ in range(8)]
    assert any(not torch.allclose(runs[0], other) for other in runs[1:])


@pytest.mark.parametrize("two_stage", [False, True])
def test_motion_noise_acts_in_training_only_and_never_on_masked_frames(tiny_biohuman_config, two_stage):
    from modeling_biohuman.modeling_biohuman import training_noise

    config = tiny_biohuman_config(two_stage=two_stage, motion_noise_std=0.2, dropout=0.0)
    model = (mb.BioHumanTwoStageForMuscle if two_stage else mb.BioHumanForMotionAndMuscle)(config)
    hmr_pose, mask = torch.randn(B, T, 72), torch.ones(B, T, dtype=torch.long)
    mask[0, 5:] = 0
    x = {"hmr_pose": hmr_pose, "hmr_features": torch.randn(B, T, config.hmr_feature_size), "attention_mask": mask}
    model.eval()
    torch.testing.assert_close(model(**x).muscle_activations, model(**x).muscle_activations)
    model.train()
    torch.manual_seed(0)
    noisy = model(**x).muscle_activations
    assert not torch.allclose(noisy, model(**x).muscle_activations)
    assert (noisy[0, 5:] == 0).all()
    noise = training_noise(torch.zeros(4000, 16, 3), 0.2)
    assert abs(float(noise.std()) - 0.2) < 0.01  # the configured spread in total
    assert abs(float(noise.mean(dim=1).std()) - 0.2 / 2**0.5) < 0.02  # half of the variance persists over a window
