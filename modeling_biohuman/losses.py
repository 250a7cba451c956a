"""Mask-aware training losses of BioHuman (eq. 11-13 and supplementary B).

Masks: ``frame_mask`` (B, T) bool marks frames inside the window (padding mask); ``pose_mask``
(B, T) marks frames with a pose label; ``muscle_mask`` (B, T) or (B, T, M) marks valid activation
entries. Every term averages over its valid elements only, and temporal-difference terms use only
adjacent pairs whose two frames are valid. A term with no valid element is 0 (never NaN).

Terms (names are the keys of ``loss_terms`` and of ``config.loss_weights``):
  pose_recon          mean over valid frames and the 72 pose values of rho(pred - gt)
  pose_diff           same on first differences theta_t - theta_{t-1}
  initial_pose_recon  pose_recon of the front-end's initial pose (keeps it an HMR estimate)
  muscle_recon        mean over valid entries of rho(pred - gt)
  muscle_diff         same on first differences
  muscle_pcc          1 - Pearson correlation over each window's valid (time, muscle) entries,
                      averaged over windows with at least two valid entries
  active_amplitude    mean |pred - gt| over valid entries with gt > active_threshold
  peak_amplitude      per window, mean |pred - gt| over the ceil(peak_fraction * n_valid) valid
                      entries with the highest gt; averaged over windows
  std_match           per window |std(pred) - std(gt)| over valid entries; averaged over windows
rho is L1, MSE or SmoothL1 (beta 1) per ``config.pose_loss`` / ``config.muscle_loss``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .configuration_biohuman import BioHumanConfig

_EPS = 1e-8


def elementwise_loss(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Unreduced L1 / MSE / SmoothL1 (beta 1)."""
    if kind == "l1":
        return (pred - target).abs()
    if kind == "mse":
        return (pred - target) ** 2
    if kind == "smooth_l1":
        return F.smooth_l1_loss(pred, target, reduction="none", beta=1.0)
    raise ValueError(f"unknown loss {kind!r}")


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` (broadcastable) is true; 0 if nothing is valid."""
    mask = mask.expand_as(values)
    return torch.where(mask, values, 0.0).sum() / mask.sum().clamp_min(1)


def reconstruction_and_difference(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                                  kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked reconstruction loss and temporal-difference loss over (B, T, D) with a (B, T, D) mask."""
    target = torch.where(mask, target, 0.0)  # NaN labels under the mask must not reach the gradient
    recon = masked_mean(elementwise_loss(pred, target, kind), mask)
    pair = mask[:, 1:] & mask[:, :-1]
    diff = masked_mean(elementwise_loss(pred.diff(dim=1), target.diff(dim=1), kind), pair)
    return recon, diff


def window_pcc_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - Pearson correlation over each window's valid entries, averaged over usable windows."""
    dims = tuple(range(1, pred.ndim))
    w = mask.to(pred.dtype)
    n = w.sum(dims)
    mean_p = (pred * w).sum(dims, keepdim=True) / n.clamp_min(1).view(-1, *[1] * len(dims))
    mean_g = (target * w).sum(dims, keepdim=True) / n.clamp_min(1).view(-1, *[1] * len(dims))
    dp, dg = (pred - mean_p) * w, (target - mean_g) * w
    pcc = (dp * dg).sum(dims) / torch.sqrt((dp * dp).sum(dims) * (dg * dg).sum(dims) + _EPS)
    usable = n >= 2
    return torch.where(usable, 1 - pcc, 0.0).sum() / usable.sum().clamp_min(1)


def peak_amplitude_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, fraction: float) -> torch.Tensor:
    """Per window, mean |pred - gt| over the highest-gt valid entries; averaged over windows."""
    batch = pred.shape[0]
    flat_p, flat_g, flat_m = pred.reshape(batch, -1), target.reshape(batch, -1), mask.reshape(batch, -1)
    losses = []
    for p, g, m in zip(flat_p, flat_g, flat_m):
        n_valid = int(m.sum())
        if n_valid == 0:
            continue
        k = max(1, math.ceil(fraction * n_valid))
        top = torch.topk(torch.where(m, g, -torch.inf), k).indices
        losses.append((p[top] - g[top]).abs().mean())
    return torch.stack(losses).mean() if losses else pred.sum() * 0.0


def std_match_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per window |std(pred) - std(gt)| (population std over valid entries), averaged over windows."""
    dims = tuple(range(1, pred.ndim))
    w = mask.to(pred.dtype)
    n = w.sum(dims).clamp_min(1).view(-1, *[1] * len(dims))

    def std(x: torch.Tensor) -> torch.Tensor:
        mean = (x * w).sum(dims, keepdim=True) / n
        return torch.sqrt((((x - mean) * w) ** 2).sum(dims) / n.flatten() + _EPS)

    usable = w.sum(dims) > 0
    return torch.where(usable, (std(pred) - std(target)).abs(), 0.0).sum() / usable.sum().clamp_min(1)


def _entry_mask(mask: torch.Tensor | None, frame_mask: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Combine a (B, T) or (B, T, D) label mask with the (B, T) frame mask into a (B, T, D) bool mask."""
    out = frame_mask.bool()[..., None]
    if mask is not None:
        mask = mask.bool()
        out = out & (mask if mask.ndim == 3 else mask[..., None])
    return out.expand(shape)


def biohuman_loss(
    config: BioHumanConfig,
    frame_mask: torch.Tensor,
    pose: torch.Tensor | None = None,
    pose_labels: torch.Tensor | None = None,
    pose_mask: torch.Tensor | None = None,
    muscle_activations: torch.Tensor | None = None,
    muscle_labels: torch.Tensor | None = None,
    muscle_mask: torch.Tensor | None = None,
    initial_pose: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted total loss and its unweighted terms.

    Pose terms need ``pose_labels``, muscle terms ``muscle_labels``.
    """
    terms: dict[str, torch.Tensor] = {}
    if pose_labels is not None and pose is not None:
        mask = _entry_mask(pose_mask, frame_mask, pose.shape)
        terms["pose_recon"], terms["pose_diff"] = reconstruction_and_difference(pose, pose_labels, mask,
                                                                                config.pose_loss)
        if initial_pose is not None:
            target = torch.where(mask, pose_labels, 0.0)
            terms["initial_pose_recon"] = masked_mean(elementwise_loss(initial_pose, target, config.pose_loss), mask)
    if muscle_labels is not None and muscle_activations is not None:
        mask = _entry_mask(muscle_mask, frame_mask, muscle_activations.shape)
        pred, target = muscle_activations, torch.where(mask, muscle_labels, 0.0)
        terms["muscle_recon"], terms["muscle_diff"] = reconstruction_and_difference(pred, target, mask,
                                                                                    config.muscle_loss)
        terms["muscle_pcc"] = window_pcc_loss(pred, target, mask)
        if config.use_amplitude_regularizers:
            active = mask & (target > config.active_threshold)
            terms["active_amplitude"] = masked_mean((pred - target).abs(), active)
            terms["peak_amplitude"] = peak_amplitude_loss(pred, target, mask, config.peak_fraction)
            terms["std_match"] = std_match_loss(pred, target, mask)
    if not terms:
        raise ValueError("biohuman_loss needs pose_labels and/or muscle_labels")
    total = sum(config.loss_weights[name] * value for name, value in terms.items())
    return total, terms
