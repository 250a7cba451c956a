"""Loss terms of modeling_biohuman.losses against hand computations on small tensors."""

import math

import numpy as np
import pytest
import torch

from modeling_biohuman import BioHumanConfig, biohuman_loss

WEIGHTS = {"pose_recon": 1.0, "pose_diff": 2.0, "initial_pose_recon": 0.0, "muscle_recon": 3.0, "muscle_diff": 0.5,
           "muscle_pcc": 0.25, "active_amplitude": 1.5, "peak_amplitude": 0.75, "std_match": 1.25}


def small_config(**overrides) -> BioHumanConfig:
    return BioHumanConfig(pose_dim=6, hmr_num_joints=2, num_muscles=2, loss_weights=WEIGHTS, active_threshold=0.3,
                          peak_fraction=0.25, **overrides)


def example():
    rng = np.random.default_rng(0)
    pose_pred, pose_gt = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 4, 6))
    mus_pred, mus_gt = rng.uniform(size=(2, 4, 2)), rng.uniform(size=(2, 4, 2))
    frame = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], bool)  # window 1 has one padded frame
    pose_mask = np.array([[1, 0, 1, 1], [1, 1, 1, 1]], bool)  # a filtered pose label
    muscle_mask = np.ones((2, 4, 2), bool)
    muscle_mask[0, 2, 1] = False  # a missing muscle entry
    muscle_mask[1, 0, :] = False
    pose_gt[0, 1] = np.nan  # labels under the mask may be NaN
    mus_gt[0, 2, 1] = np.nan
    return pose_pred, pose_gt, mus_pred, mus_gt, frame, pose_mask, muscle_mask


def hand_terms(pose_pred, pose_gt, mus_pred, mus_gt, frame, pose_mask, muscle_mask, config):
    """Loop-by-loop reference implementation of supplementary B's definitions."""
    pv = frame & pose_mask
    pose_err = [abs(pose_pred[b, t, d] - pose_gt[b, t, d])
                for b in range(2) for t in range(4) for d in range(6) if pv[b, t]]
    pose_diff = [abs((pose_pred[b, t, d] - pose_pred[b, t - 1, d]) - (pose_gt[b, t, d] - pose_gt[b, t - 1, d]))
                 for b in range(2) for t in range(1, 4) for d in range(6) if pv[b, t] and pv[b, t - 1]]
    mv = frame[..., None] & muscle_mask
    entries = [(b, t, m) for b in range(2) for t in range(4) for m in range(2) if mv[b, t, m]]
    recon = np.mean([abs(mus_pred[e] - mus_gt[e]) for e in entries])
    diff = np.mean([abs((mus_pred[b, t, m] - mus_pred[b, t - 1, m]) - (mus_gt[b, t, m] - mus_gt[b, t - 1, m]))
                    for b in range(2) for t in range(1, 4) for m in range(2) if mv[b, t, m] and mv[b, t - 1, m]])
    pcc, peak, std = [], [], []
    for b in range(2):
        p = np.array([mus_pred[e] for e in entries if e[0] == b])
        g = np.array([mus_gt[e] for e in entries if e[0] == b])
        pcc.append(1 - np.corrcoef(p, g)[0, 1])
        k = math.ceil(config.peak_fraction * len(g))
        top = np.argsort(-g)[:k]
        peak.append(np.mean(np.abs(p[top] - g[top])))
        std.append(abs(p.std() - g.std()))
    active = [abs(mus_pred[e] - mus_gt[e]) for e in entries if mus_gt[e] > config.active_threshold]
    return {"pose_recon": np.mean(pose_err), "pose_diff": np.mean(pose_diff), "muscle_recon": recon,
            "muscle_diff": diff, "muscle_pcc": np.mean(pcc), "active_amplitude": np.mean(active),
            "peak_amplitude": np.mean(peak), "std_match": np.mean(std)}


def test_loss_terms_equal_hand_computation():
    config = small_config()
    arrays = example()
    pose_pred, pose_gt, mus_pred, mus_gt, frame, pose_mask, muscle_mask = (torch.tensor(a) for a in arrays)
    total, terms = biohuman_loss(config, frame, pose_pred, pose_gt, pose_mask, mus_pred, mus_gt, muscle_mask)
    expected = hand_terms(*arrays, config)
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert float(terms[name]) == pytest.approx(value, rel=1e-6, abs=1e-6), name
    assert float(total) == pytest.approx(sum(WEIGHTS[k] * v for k, v in expected.items()), rel=1e-6)


def test_mse_and_smooth_l1_reconstruction():
    pred, gt = torch.tensor([[[0.1, 2.5]]]), torch.tensor([[[0.4, 0.5]]])
    frame = torch.ones(1, 1, dtype=torch.bool)
    for kind, expected in (("mse", (0.09 + 4.0) / 2), ("smooth_l1", (0.5 * 0.09 + 1.5) / 2)):
        config = BioHumanConfig(pose_dim=6, hmr_num_joints=2, num_muscles=2, muscle_loss=kind)
        _, terms = biohuman_loss(config, frame, muscle_activations=pred, muscle_labels=gt)
        assert float(terms["muscle_recon"]) == pytest.approx(expected)


def test_masked_entries_get_no_gradient_and_empty_masks_give_zero():
    config = small_config()
    arrays = example()
    pose_pred, pose_gt, mus_pred, mus_gt, frame, pose_mask, muscle_mask = (torch.tensor(a) for a in arrays)
    mus_pred.requires_grad_(True)
    pose_pred.requires_grad_(True)
    total, _ = biohuman_loss(config, frame, pose_pred, pose_gt, pose_mask, mus_pred, mus_gt, muscle_mask)
    total.backward()
    assert torch.isfinite(total)
    assert (mus_pred.grad[~(frame[..., None] & muscle_mask)] == 0).all()
    assert (pose_pred.grad[~(frame & pose_mask)] == 0).all()
    _, terms = biohuman_loss(config, torch.zeros(2, 4, dtype=torch.bool), pose_pred, pose_gt, pose_mask,
                             mus_pred, mus_gt, muscle_mask)
    assert all(float(v.detach()) == 0.0 for v in terms.values())


def test_amplitude_regularisers_can_be_switched_off():
    config = small_config(use_amplitude_regularizers=False)
    _, terms = biohuman_loss(config, torch.ones(1, 3, dtype=torch.bool), muscle_activations=torch.rand(1, 3, 2),
                             muscle_labels=torch.rand(1, 3, 2))
    assert set(terms) == {"muscle_recon", "muscle_diff", "muscle_pcc"}
    with pytest.raises(ValueError, match="unknown loss weights"):
        BioHumanConfig(loss_weights={"muscle_rmse": 1.0})
