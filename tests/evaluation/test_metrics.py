"""Metrics against independent numpy/scipy computations, masks, streaming and empty sets."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from scipy.stats import pearsonr

from biohuman10m.metrics import MuscleMetrics, PoseMetrics, similarity_procrustes, smpl_forward_kinematics
from biohuman10m.vocabulary import SMPL_JOINT_PARENTS

M = 5


@pytest.fixture
def batch():
    """Two windows of 6 frames and 5 muscles, with padding, a dropped frame and a missing muscle."""
    rng = np.random.default_rng(0)
    target = rng.uniform(0, 0.4, size=(2, 6, M))
    pred = np.clip(target + rng.normal(0, 0.05, size=target.shape), 0, 1)
    mask = np.ones((2, 6, M), dtype=bool)
    mask[0, 4:] = False      # padded frames at the end of window 0
    mask[1, 2] = False       # a filtered frame in the middle of window 1
    mask[:, :, 3] = False    # a muscle without valid labels
    return pred, target, mask


def reference_metrics(pred, target, mask, threshold=0.10):
    """The paper's definitions, written directly on the flattened valid entries."""
    p, g = pred[mask], target[mask]
    rmse = np.sqrt(np.mean((p - g) ** 2))
    diffs = []
    for w in range(pred.shape[0]):
        for t in range(pred.shape[1] - 1):
            for m in range(pred.shape[2]):
                if mask[w, t, m] and mask[w, t + 1, m]:
                    diffs.append(abs((pred[w, t + 1, m] - pred[w, t, m]) - (target[w, t + 1, m] - target[w, t, m])))
    active = g > threshold
    return {
        "pcc": pearsonr(p, g).statistic,
        "rmse": rmse,
        "mae": np.mean(np.abs(p - g)),
        "nrmse": rmse / np.std(g),
        "diff_l1": np.mean(diffs),
        "active_mae": np.mean(np.abs(p - g)[active]),
    }


def test_muscle_metrics_match_independent_computation(batch):
    pred, target, mask = batch
    metrics = MuscleMetrics(num_muscles=M)
    metrics.update(pred, target, mask)
    got = metrics.compute()
    for key, value in reference_metrics(pred, target, mask).items():
        assert got[key] == pytest.approx(value, rel=1e-10), key
    assert got["num_entries"] == mask.sum()


def test_masked_entries_do_not_influence_metrics(batch):
    pred, target, mask = batch
    garbage = pred.copy()
    garbage[~mask] = 1e6
    a, b = MuscleMetrics(num_muscles=M), MuscleMetrics(num_muscles=M)
    a.update(pred, target, mask)
    b.update(garbage, target, mask)
    assert a.compute() == b.compute()


def test_frame_mask_broadcasts_over_muscles(batch):
    pred, target, _ = batch
    frames = np.ones((2, 6), dtype=bool)
    frames[0, 4:] = False
    a, b = MuscleMetrics(num_muscles=M), MuscleMetrics(num_muscles=M)
    a.update(pred, target, frames)
    b.update(pred, target, np.repeat(frames[..., None], M, axis=-1))
    assert a.compute() == b.compute()


def test_differences_never_cross_a_dropped_frame_or_window(batch):
    pred, target, mask = batch
    metrics = MuscleMetrics(num_muscles=M)
    metrics.update(pred, target, mask)
    # window 0: frames 0-3 valid -> 3 pairs; window 1: frames 0,1,3,4,5 -> pairs (0,1),(3,4),(4,5); 4 muscles
    assert metrics._sums["n_diff"].sum() == (3 + 3) * 4


def test_streaming_equals_one_shot_and_accepts_torch(batch):
    pred, target, mask = batch
    one_shot = MuscleMetrics(num_muscles=M)
    one_shot.update(pred, target, mask)
    streamed = MuscleMetrics(num_muscles=M)
    streamed.update(torch.tensor(pred[:1]), torch.tensor(target[:1]), torch.tensor(mask[:1]))
    streamed.update(pred[1], target[1], mask[1])  # a single (T, M) window
    for key, value in one_shot.compute().items():
        assert streamed.compute()[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key


def test_per_channel_and_group_subsets(batch):
    pred, target, mask = batch
    metrics = MuscleMetrics(num_muscles=M)
    metrics.update(pred, target, mask)
    per_channel = metrics.per_channel()
    assert np.isnan(per_channel["pcc"][3]) and np.isnan(per_channel["rmse"][3])
    for c in (0, 2):
        sel = mask[..., c]
        assert per_channel["pcc"][c] == pytest.approx(pearsonr(pred[..., c][sel], target[..., c][sel]).statistic)
        subset = metrics.compute(channels=[c])
        assert subset["rmse"] == pytest.approx(np.sqrt(np.mean((pred[..., c][sel] - target[..., c][sel]) ** 2)))
    assert metrics.compute()["pcc_channel_mean"] == pytest.approx(np.nanmean(per_channel["pcc"]))


def test_all_invalid_mask_gives_nan_not_an_error(batch):
    pred, target, mask = batch
    metrics = MuscleMetrics(num_muscles=M)
    metrics.update(pred, target, np.zeros_like(mask))
    result = metrics.compute()
    assert result["num_entries"] == 0
    assert all(np.isnan(v) for k, v in result.items() if k != "num_entries")
    empty_pose = PoseMetrics()
    empty_pose.update(np.zeros((3, 72)), np.zeros((3, 72)), np.zeros(3, dtype=bool))
    assert all(np.isnan(v) for k, v in empty_pose.compute().items() if k != "num_frames")


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="must match"):
        MuscleMetrics(num_muscles=M).update(np.zeros((4, M)), np.zeros((4, M + 1)))


def _random_pose(rng, frames):
    return Rotation.random(frames * 24, random_state=rng.integers(1 << 31)).as_rotvec().reshape(frames, 72) * 0.5


def test_pose_rmse_and_geodesic_error():
    rng = np.random.default_rng(1)
    target = _random_pose(rng, 4)
    pred = target.copy()
    pred[:, 3:6] = (Rotation.from_rotvec(target[:, 3:6]) * Rotation.from_euler("x", 30, degrees=True)).as_rotvec()
    frames = np.array([True, True, False, True])
    metrics = PoseMetrics()
    metrics.update(pred, target, frames)
    result = metrics.compute()
    assert result["pose_rmse"] == pytest.approx(np.sqrt(np.mean((pred[frames] - target[frames]) ** 2)))
    assert result["geodesic_deg"] == pytest.approx(30.0 / 24)
    assert result["num_frames"] == 3


def test_forward_kinematics_bends_the_knee_around_the_knee():
    rest = np.zeros((24, 3))
    for j, parent in enumerate(SMPL_JOINT_PARENTS[1:], start=1):
        rest[j] = rest[parent] + np.array([0.0, -0.1 if j in (1, 2, 4, 5, 7, 8, 10, 11) else 0.1, 0.0])
    pose = np.zeros(72)
    pose[4 * 3] = np.pi / 2  # left knee flexes 90 degrees about x
    joints = smpl_forward_kinematics(pose, rest)
    np.testing.assert_allclose(joints[4], rest[4])                       # the knee stays put
    np.testing.assert_allclose(joints[7], rest[4] + [0, 0, -0.1], atol=1e-12)  # the ankle swings
    np.testing.assert_allclose(joints[8], rest[8])                       # the other leg does not move


def test_pa_mpjpe_is_invariant_to_similarity_and_matches_umeyama():
    rng = np.random.default_rng(2)
    rest = rng.normal(0, 0.3, size=(24, 3))
    target = _random_pose(rng, 3)
    pred = target + rng.normal(0, 0.1, size=target.shape)
    metrics = PoseMetrics()
    metrics.update(pred, target, rest_joints=rest)
    pa = metrics.compute()["pa_mpjpe_mm"]

    pj = smpl_forward_kinematics(pred, rest)
    tj = smpl_forward_kinematics(target, rest)
    moved = 1.7 * pj @ Rotation.random(random_state=3).as_matrix().T + [1.0, 2.0, 3.0]
    joints_metrics = PoseMetrics()
    joints_metrics.update(pred, target, pred_joints=moved, target_joints=tj)
    assert joints_metrics.compute()["pa_mpjpe_mm"] == pytest.approx(pa, rel=1e-9)

    # independent check: scipy's orthogonal Procrustes on centred, pelvis-relative joints
    from scipy.linalg import orthogonal_procrustes
    errors = []
    for f in range(3):
        a, b = pj[f] - pj[f, 0], tj[f] - tj[f, 0]
        a0, b0 = a - a.mean(0), b - b.mean(0)
        rot, _ = orthogonal_procrustes(a0, b0)
        assert np.linalg.det(rot) > 0
        scale = np.trace(a0 @ rot @ b0.T) / np.sum(a0 ** 2)
        errors.append(np.linalg.norm(scale * a0 @ rot + b.mean(0) - b, axis=1).mean() * 1000)
    assert pa == pytest.approx(np.mean(errors), rel=1e-9)
    assert pa > 0


def test_similarity_procrustes_recovers_exact_transform():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(10, 3))
    rot = Rotation.random(random_state=5).as_matrix()
    target = 0.8 * points @ rot.T + [0.1, -0.2, 0.3]
    np.testing.assert_allclose(similarity_procrustes(points, target), target, atol=1e-12)
