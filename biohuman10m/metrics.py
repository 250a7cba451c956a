"""Mask-aware, batch-accumulable metrics of the BioHuman paper (supplementary C).

Muscle metrics are computed over the valid time-muscle entries of the evaluation mask:
PCC (Pearson over all flattened valid entries), RMSE, MAE, nRMSE (RMSE divided by the
population standard deviation of the valid ground truth), DiffL1 (mean absolute error of
first differences, over adjacent frame pairs where both entries are valid, never across
windows) and Active MAE@threshold (MAE over valid entries whose ground truth exceeds the
threshold). The mean of the per-channel PCCs is reported as well (``pcc_channel_mean``).

Pose metrics use frame masks: RMSE on the 72-D axis-angle vector, mean geodesic joint-rotation
error in degrees (unambiguous near 180 degrees, unlike raw axis-angle), and PA-MPJPE in mm over
all 24 SMPL joints (pelvis-centred, per-frame similarity Procrustes).

Accumulators keep sufficient statistics in float64 (Chan's pairwise merge for the moments), so
streaming an evaluation set through ``update`` gives the same result as one call on the whole
array. Rule for empty sets: a metric with no valid entry (or PCC with zero variance) is NaN;
nothing raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from .vocabulary import NUM_MUSCLES, SMPL_JOINT_PARENTS


def _as_array(x: Any) -> np.ndarray:
    """Float64 numpy view of a numpy array or (possibly CUDA, grad-tracking) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _as_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask broadcast to ``shape``; a mask with one dimension less is per frame."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask).astype(bool)
    if mask.ndim == len(shape) - 1:
        mask = mask[..., None]
    return np.broadcast_to(mask, shape)


def _to_windows(x: np.ndarray, feature_ndim: int) -> np.ndarray:
    """Reshape (T, ...) or (B, T, ...) to (B, T, ...) with ``feature_ndim`` trailing dims."""
    if x.ndim == feature_ndim + 1:
        return x[None]
    if x.ndim != feature_ndim + 2:
        raise ValueError(f"expected (T, ...) or (B, T, ...) with {feature_ndim} feature dims, got {x.shape}")
    return x


def _nan_div(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(den) > 0, np.asarray(num) / np.where(np.asarray(den) > 0, den, 1.0), np.nan)


@dataclass
class _Moments:
    """Count, means, second moments and co-moment of (pred, target) pairs, per channel."""

    n: np.ndarray
    mean_p: np.ndarray
    mean_g: np.ndarray
    m2_p: np.ndarray
    m2_g: np.ndarray
    c_pg: np.ndarray

    @classmethod
    def zeros(cls, channels: int) -> "_Moments":
        return cls(*(np.zeros(channels) for _ in range(6)))

    @classmethod
    def of(cls, p: np.ndarray, g: np.ndarray, w: np.ndarray) -> "_Moments":
        """Moments over axis 0 of (N, C) arrays with boolean weights ``w``."""
        n = w.sum(0).astype(np.float64)
        mean_p = _nan_div((p * w).sum(0), n)
        mean_g = _nan_div((g * w).sum(0), n)
        mean_p, mean_g = np.nan_to_num(mean_p), np.nan_to_num(mean_g)
        dp, dg = (p - mean_p) * w, (g - mean_g) * w
        return cls(n, mean_p, mean_g, (dp * dp).sum(0), (dg * dg).sum(0), (dp * dg).sum(0))

    def merge(self, other: "_Moments") -> "_Moments":
        n = self.n + other.n
        frac = np.divide(other.n, n, out=np.zeros_like(n), where=n > 0)
        d_p, d_g = other.mean_p - self.mean_p, other.mean_g - self.mean_g
        cross = self.n * frac
        return _Moments(
            n,
            self.mean_p + d_p * frac,
            self.mean_g + d_g * frac,
            self.m2_p + other.m2_p + d_p * d_p * cross,
            self.m2_g + other.m2_g + d_g * d_g * cross,
            self.c_pg + other.c_pg + d_p * d_g * cross,
        )

    def pooled(self) -> "_Moments":
        """Moments of all channels flattened together."""
        total = _Moments.zeros(1)
        for c in range(self.n.shape[0]):
            one = _Moments(*(v[c : c + 1]
                             for v in (self.n, self.mean_p, self.mean_g, self.m2_p, self.m2_g, self.c_pg)))
            total = total.merge(one)
        return total

    def pcc(self) -> np.ndarray:
        return _nan_div(self.c_pg, np.sqrt(self.m2_p * self.m2_g))

    def target_std(self) -> np.ndarray:
        return np.sqrt(_nan_div(self.m2_g, self.n))


@dataclass
class MuscleMetrics:
    """Streaming muscle-activation metrics over (B, T, M) or (T, M) arrays and masks.

    ``mask`` may be per entry (same shape as the activations) or per frame (without the muscle
    dimension). Call :meth:`update` per batch, then :meth:`compute`.
    """

    num_muscles: int = NUM_MUSCLES
    active_threshold: float = 0.10
    _moments: _Moments = field(init=False, repr=False)
    _sums: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._moments = _Moments.zeros(self.num_muscles)
        self._sums = {k: np.zeros(self.num_muscles)
                      for k in ("sq", "abs", "n_active", "abs_active", "n_diff", "abs_diff")}

    def update(self, pred: Any, target: Any, mask: Any = None) -> None:
        pred, target = _as_array(pred), _as_array(target)
        if pred.shape != target.shape or pred.shape[-1] != self.num_muscles:
            raise ValueError(f"pred {pred.shape} and target {target.shape} must match (..., T, {self.num_muscles})")
        valid = _to_windows(_as_mask(mask, pred.shape), 1)
        pred, target = _to_windows(pred, 1), _to_windows(target, 1)
        p, g, w = (a.reshape(-1, self.num_muscles) for a in (pred, target, valid))
        self._moments = self._moments.merge(_Moments.of(p, g, w))
        err = (p - g) * w
        active = w & (g > self.active_threshold)
        self._sums["sq"] += (err * err).sum(0)
        self._sums["abs"] += np.abs(err).sum(0)
        self._sums["n_active"] += active.sum(0)
        self._sums["abs_active"] += (np.abs(p - g) * active).sum(0)
        pair = valid[:, 1:] & valid[:, :-1]
        diff_err = np.abs(np.diff(pred, axis=1) - np.diff(target, axis=1)) * pair
        self._sums["n_diff"] += pair.sum((0, 1))
        self._sums["abs_diff"] += diff_err.sum((0, 1))

    def per_channel(self) -> dict[str, np.ndarray]:
        """Per-muscle PCC, RMSE, MAE, nRMSE, DiffL1 and Active MAE (NaN where undefined)."""
        m, s = self._moments, self._sums
        rmse = np.sqrt(_nan_div(s["sq"], m.n))
        return {
            "pcc": m.pcc(),
            "rmse": rmse,
            "mae": _nan_div(s["abs"], m.n),
            "nrmse": _nan_div(rmse, m.target_std()),
            "diff_l1": _nan_div(s["abs_diff"], s["n_diff"]),
            "active_mae": _nan_div(s["abs_active"], s["n_active"]),
        }

    def compute(self, channels: list[int] | None = None) -> dict[str, float]:
        """The paper's muscle metrics over all valid entries (of ``channels`` if given)."""
        idx = np.arange(self.num_muscles) if channels is None else np.asarray(channels)
        m = _Moments(*(v[idx] for v in (self._moments.n, self._moments.mean_p, self._moments.mean_g,
                                          self._moments.m2_p, self._moments.m2_g, self._moments.c_pg)))
        s = {k: v[idx].sum() for k, v in self._sums.items()}
        pooled = m.pooled()
        n = pooled.n[0]
        rmse = float(np.sqrt(_nan_div(s["sq"], n)))
        return {
            "pcc": float(pooled.pcc()[0]),
            "pcc_channel_mean": float(np.nanmean(m.pcc())) if np.isfinite(m.pcc()).any() else float("nan"),
            "rmse": rmse,
            "nrmse": float(_nan_div(rmse, pooled.target_std()[0])),
            "mae": float(_nan_div(s["abs"], n)),
            "diff_l1": float(_nan_div(s["abs_diff"], s["n_diff"])),
            "active_mae": float(_nan_div(s["abs_active"], s["n_active"])),
            "num_entries": int(n),
        }


def smpl_forward_kinematics(pose: Any, rest_joints: Any, parents: tuple[int, ...] = SMPL_JOINT_PARENTS) -> np.ndarray:
    """Joint positions (..., J, 3) of an axis-angle pose (..., 3J) on a rest skeleton (..., J, 3).

    ``rest_joints`` are the joint locations of the unposed body with the subject's shape (for
    SMPL: ``J_regressor @ v_shaped``); the root stays at its rest location (no translation).
    """
    pose, rest = _as_array(pose), _as_array(rest_joints)
    num_joints = len(parents)
    rot = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(*pose.shape[:-1], num_joints, 3, 3)
    rest = np.broadcast_to(rest, (*pose.shape[:-1], num_joints, 3))
    world_rot = [rot[..., 0, :, :]]
    joints = [rest[..., 0, :]]
    for j in range(1, num_joints):
        p = parents[j]
        offset = rest[..., j, :] - rest[..., p, :]
        joints.append(joints[p] + np.einsum("...ij,...j->...i", world_rot[p], offset))
        world_rot.append(world_rot[p] @ rot[..., j, :, :])
    return np.stack(joints, axis=-2)


def similarity_procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Align point sets ``source`` (..., N, 3) to ``target`` with scale, rotation (no reflection), translation."""
    mu_s, mu_t = source.mean(-2, keepdims=True), target.mean(-2, keepdims=True)
    s0, t0 = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(np.swapaxes(s0, -1, -2) @ t0)
    d = np.sign(np.linalg.det(u @ vt))
    correction = np.ones_like(sigma)
    correction[..., -1] = d
    rotation = (u * correction[..., None, :]) @ vt
    scale = (sigma * correction).sum(-1) / np.maximum((s0 * s0).sum((-1, -2)), 1e-12)
    return scale[..., None, None] * s0 @ rotation + mu_t


@dataclass
class PoseMetrics:
    """Streaming pose metrics over (B, T, 72) or (T, 72) poses with per-frame masks.

    PA-MPJPE needs joints: pass ``pred_joints``/``target_joints`` (..., 24, 3) in metres, or
    ``rest_joints`` (the ground-truth subject's rest skeleton) to get them by forward kinematics
    of both poses on the same shape, as the paper does.
    """

    _sums: dict[str, float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums = {k: 0.0
                      for k in ("sq", "n_values", "n_frames", "geodesic", "n_joint_rot", "mpjpe", "n_frames_pa")}

    def update(self, pred: Any, target: Any, mask: Any = None, *, pred_joints: Any = None,
               target_joints: Any = None, rest_joints: Any = None) -> None:
        pred, target = _as_array(pred), _as_array(target)
        if pred.shape != target.shape or pred.shape[-1] % 3:
            raise ValueError(f"pred {pred.shape} and target {target.shape} must match (..., T, 3J)")
        frames = _to_windows(_as_mask(mask, pred.shape)[..., 0], 0)
        pred, target = _to_windows(pred, 1), _to_windows(target, 1)
        p, g = pred[frames], target[frames]
        self._sums["sq"] += float(((p - g) ** 2).sum())
        self._sums["n_values"] += p.size
        self._sums["n_frames"] += p.shape[0]
        rel = Rotation.from_rotvec(p.reshape(-1, 3)).inv() * Rotation.from_rotvec(g.reshape(-1, 3))
        self._sums["geodesic"] += float(np.degrees(rel.magnitude()).sum())
        self._sums["n_joint_rot"] += p.size // 3
        if rest_joints is not None:
            rest = _as_array(rest_joints)
            rest = np.broadcast_to(rest[:, None] if rest.ndim == 3 else rest, (*pred.shape[:-1], *rest.shape[-2:]))
            pred_joints = smpl_forward_kinematics(pred, rest)
            target_joints = smpl_forward_kinematics(target, rest)
        if pred_joints is not None and target_joints is not None:
            pj = _to_windows(_as_array(pred_joints), 2)[frames]
            tj = _to_windows(_as_array(target_joints), 2)[frames]
            pj, tj = pj - pj[:, :1], tj - tj[:, :1]
            aligned = similarity_procrustes(pj, tj)
            self._sums["mpjpe"] += float(np.linalg.norm(aligned - tj, axis=-1).mean(-1).sum()) * 1000.0
            self._sums["n_frames_pa"] += pj.shape[0]

    def compute(self) -> dict[str, float]:
        """Pose RMSE (radians, axis-angle), geodesic error (degrees) and PA-MPJPE (mm)."""
        s = self._sums
        return {
            "pose_rmse": float(np.sqrt(_nan_div(s["sq"], s["n_values"]))),
            "geodesic_deg": float(_nan_div(s["geodesic"], s["n_joint_rot"])),
            "pa_mpjpe_mm": float(_nan_div(s["mpjpe"], s["n_frames_pa"])),
            "num_frames": int(s["n_frames"]),
        }
