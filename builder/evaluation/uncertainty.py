"""How sure a result is: mean and spread over training seeds, and bootstrap intervals over test sequences.

Test windows of one sequence overlap and share a subject, a motion and a camera, so they are not
independent samples: the bootstrap resamples whole sequences (with replacement) and recomputes the
muscle PCC (pooled over all valid time-muscle entries, as :class:`biohuman10m.metrics.MuscleMetrics`)
and the per-channel mean PCC from per-sequence sufficient statistics. With several seeds, each
resample scores the mean over the seeds, so the interval covers the test set's sampling, not the
seed spread (reported separately as the standard deviation).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SUMS = ("n", "p", "g", "pp", "gg", "pg")


def sequence_sums(predictions: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Sequence ids and per-sequence, per-muscle sums (S, M, 6: count, sum p, sum g, sum p^2, sum g^2,
    sum pg) over the valid entries of an evaluation's ``predictions.npz`` arrays."""
    pred, true = predictions["muscle_pred"].astype(np.float64), predictions["muscle_true"].astype(np.float64)
    mask = predictions["muscle_mask"]
    valid = np.broadcast_to(mask[..., None] if mask.ndim == pred.ndim - 1 else mask, pred.shape).astype(np.float64)
    ids = predictions["sequence_ids"].astype(str)
    sequences = sorted(set(ids.tolist()))
    out = np.zeros((len(sequences), pred.shape[-1], len(SUMS)))
    for s, sequence in enumerate(sequences):
        rows = ids == sequence
        p, g, w = pred[rows], true[rows], valid[rows]
        terms = (w, w * p, w * g, w * p * p, w * g * g, w * p * g)
        out[s] = np.stack([t.sum((0, 1)) for t in terms], axis=-1)
    return sequences, out


def nanmean(values, axis: int | None = None) -> np.ndarray:
    """``np.nanmean`` that gives NaN for all-NaN slices without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def pcc_from_sums(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled PCC (...) and per-channel mean PCC (...) from (..., M, 6) sums (NaN channels skipped)."""
    def pcc(n, p, g, pp, gg, pg):
        with np.errstate(divide="ignore", invalid="ignore"):
            cov, var_p, var_g = n * pg - p * g, n * pp - p * p, n * gg - g * g
            value = cov / np.sqrt(var_p * var_g)
        return np.where((var_p > 1e-12 * np.maximum(n * pp, 1e-300)) & (var_g > 1e-12 * np.maximum(n * gg, 1e-300)),
                        value, np.nan)

    per_channel = pcc(*np.moveaxis(sums, -1, 0))
    pooled = pcc(*np.moveaxis(sums.sum(-2), -1, 0))
    return pooled, nanmean(per_channel, axis=-1)


def bootstrap_pcc(runs: Sequence[tuple[list[str], np.ndarray]], resamples: int = 2000, seed: int = 0,
                  level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile intervals of the seed-mean pooled PCC and per-channel mean PCC, resampling test sequences.

    ``runs``: :func:`sequence_sums` of each seed's evaluation (all over the same sequences).
    """
    sequences = runs[0][0]
    if any(r[0] != sequences for r in runs):
        raise ValueError("the runs were evaluated on different test sequences")
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(sequences), np.full(len(sequences), 1 / len(sequences)), size=resamples)
    stacked = np.stack([sums for _, sums in runs])                 # (R, S, M, 6)
    totals = np.einsum("bs,rsmk->brmk", counts.astype(np.float64), stacked)
    pooled, channel_mean = pcc_from_sums(totals)                   # (B, R)
    tail = (1 - level) / 2 * 100
    out = {}
    for name, values in (("pcc", pooled), ("pcc_channel_mean", channel_mean)):
        means = nanmean(values, axis=1)
        finite = means[np.isfinite(means)]
        out[name] = ((float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail)))
                     if len(finite) else (math.nan, math.nan))
    return out


def load_sums(prediction_files: Sequence[Path]) -> list[tuple[list[str], np.ndarray]]:
    """:func:`sequence_sums` of each ``predictions.npz``."""
    runs = []
    for path in prediction_files:
        with np.load(path) as data:
            keys = ("muscle_pred", "muscle_true", "muscle_mask", "sequence_ids")
            runs.append(sequence_sums({k: data[k] for k in keys}))
    return runs


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value) of finite ``values`` (NaN if none)."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if not len(finite):
        return math.nan, math.nan
    return float(finite.mean()), float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
