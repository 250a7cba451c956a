"""The validity audit on constructed sequences, and the smoothed sequence QP against a generic solver."""

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from builder.biosim.fast_so import solve_batched_qp
from builder.biosim.validity import (
    ValidityThresholds,
    audit_sequence,
    coordinate_shares,
    drop_reasons,
    group_shares,
)


def _sequence(T=40, seed=0):
    """Two muscled coordinates (hip, knee) and the pelvis; four muscles; moments they can produce."""
    rng = np.random.default_rng(seed)
    dofs = ["pelvis_tilt", "hip_flexion_r", "knee_angle_r"]
    arms = np.zeros((T, 3, 4))
    arms[:, 1] = [0.05, -0.04, 0.0, 0.0]
    arms[:, 2] = [0.0, 0.0, 0.04, -0.03]
    force = np.full((T, 4), 1000.0)
    activations = rng.uniform(0.05, 0.6, size=(T, 4))
    moments = np.einsum("tdm,tm->td", arms, activations * force)
    return dofs, arms, force, activations, moments


def test_audit_masks_frames_where_muscles_fall_short_and_keeps_the_rest():
    dofs, arms, force, activations, moments = _sequence()
    T = len(moments)
    short = activations.copy()
    short[10:14] *= 0.2          # four frames where the muscles produce a fifth of the moment
    zeros = np.zeros(T)
    marker = np.full(T, 0.02)
    marker[30] = 0.2             # one badly tracked frame
    residual = np.full(T, 0.01)
    residual[35] = 0.5           # one frame the external loads do not explain
    audit = audit_sequence(np.arange(T) / 30, dofs, moments, arms, force, np.full(4, 1000.0), short, short,
                           short, marker, residual, zeros)
    valid = audit.valid
    assert not valid[10:14].any() and not valid[30] and not valid[35]
    assert valid.sum() == T - 6
    assert audit.summary["masked_frames"] == {"marker_error": 1, "unexplained_moment": 4, "residual_force": 1,
                                              "residual_moment": 0}
    assert audit.summary["reserve_share_valid_frames"]["leg_lumbar"] < 1e-9 < audit.summary["reserve_share"]["hip"]
    assert max(audit.summary["reserve_share_by_coordinate_valid_frames"].values()) < 1e-9
    assert audit.summary["capacity_median"] == 1.0
    assert audit.frames.labels[0] == "valid" and audit.frames.data.shape == (T, 7)
    assert drop_reasons(audit.summary) == []
    assert "valid frames" in drop_reasons(audit.summary, ValidityThresholds(min_valid_fraction=0.9))[0]


def test_group_shares_are_rms_ratios_per_group():
    dofs = ["hip_flexion_r", "hip_adduction_r", "knee_angle_r", "lumbar_bending", "wrist_flex_r"]
    reference = np.ones((5, 5)) * [10.0, 10.0, 20.0, 5.0, 1.0]
    difference = np.ones((5, 5)) * [1.0, 1.0, 0.0, 0.5, 1.0]
    shares = group_shares(dofs, reference, difference)
    assert np.isclose(shares["hip"], 0.1) and shares["knee"] == 0.0 and np.isclose(shares["lumbar"], 0.1)
    assert np.isnan(shares["ankle"])    # no ankle coordinate: no figure
    assert np.isclose(shares["leg_lumbar"], np.sqrt((1 + 1 + 0.25) / (100 + 100 + 400 + 25)))


def test_coordinate_shares_split_a_group_share_without_small_denominators():
    dofs = ["hip_flexion_r", "hip_adduction_r", "ankle_angle_r", "mtp_angle_r", "knee_angle_r"]
    reference = np.ones((5, 5)) * [10.0, 10.0, 100.0, 0.01, 20.0]
    difference = np.ones((5, 5)) * [1.0, 0.0, 2.0, 1.0, 0.0]
    parts, shares = coordinate_shares(dofs, reference, difference), group_shares(dofs, reference, difference)
    assert np.isclose(parts["hip_flexion_r"] ** 2 + parts["hip_adduction_r"] ** 2, shares["hip"] ** 2)
    assert np.isclose(parts["ankle_angle_r"] ** 2 + parts["mtp_angle_r"] ** 2, shares["ankle"] ** 2)
    assert parts["mtp_angle_r"] < 0.01 and parts["ankle_angle_r"] > 0.01   # not 1 / 0.01 = 100
    assert parts["hip_adduction_r"] == 0.0 and parts["knee_angle_r"] == 0.0


def test_smoothed_sequence_qp_matches_a_generic_solver_and_meets_every_frame():
    rng = np.random.default_rng(1)
    T, m, n, w = 8, 3, 9, 3.0
    A = rng.normal(size=(T, m, n))
    b = np.einsum("tmn,tn->tm", A, rng.uniform(0.1, 0.6, size=(T, n)))
    lower = np.r_[np.full(n - 2, 0.05), -np.inf, -np.inf]
    upper = np.r_[np.full(n - 2, 0.5), np.inf, np.inf]
    smooth = np.r_[np.ones(n - 2, bool), False, False]
    sol = solve_batched_qp(A, b, lower, upper, smooth_weight=w, smooth=smooth)
    raw = solve_batched_qp(A, b, lower, upper)

    def objective(z):
        x = z.reshape(T, n)
        return 0.5 * (x ** 2).sum() + 0.5 * w * (np.diff(x[:, smooth], axis=0) ** 2).sum()

    ref = minimize(objective, raw.x.ravel(), method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000},
                   bounds=[(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
                           for _ in range(T) for lo, hi in zip(lower, upper)],
                   constraints={"type": "eq", "fun": lambda z: np.einsum("tmn,tn->tm", A, z.reshape(T, n)).ravel()
                                - b.ravel()})
    assert ref.success and sol.converged.all() and sol.violation.max() < 1e-6
    assert np.allclose(sol.x, ref.x.reshape(T, n), atol=1e-5)
    assert objective(sol.x.ravel()) <= objective(raw.x.ravel())
    roughness = lambda x: np.abs(np.diff(x[:, smooth], axis=0)).sum()   # noqa: E731
    assert roughness(sol.x) < roughness(raw.x)


def test_card_figures_read_non_finite_values_as_records_store_them():
    """A record stores NaN as the string "nan" (standard JSON); the card's medians read it as NaN."""
    from builder.biosim.validity_report import validity_counts

    def record(sequence_id: str, share) -> dict:
        validity = {"frames": 10, "valid_frames": 10, "valid_fraction": 1.0, "masked_frames": {"marker_error": 0},
                    "reserve_share_valid_frames": {"leg_lumbar": share}, "capacity_median": 0.9,
                    "saturated_fraction": {"raw": 0.0}, "moment_error": {"published": share},
                    "residual_force_rms_bw_valid_frames": 0.02}
        return {"sequence_id": sequence_id, "source": "deepmimic", "kept": True, "validity": validity}

    counts = validity_counts([record("a__anny01", "nan"), record("b__anny01", 0.04), record("c__anny01", 0.06)])
    assert np.isnan(counts["sequences"]["a__anny01"]["reserve_share"])
    assert counts["by_source"]["deepmimic"]["reserve_share"] == pytest.approx(0.05)


def test_card_counts_the_sequences_within_the_label_bounds_per_source_and_motion():
    """A kept sequence is within the bounds when its kept frames leave < 5 % to the reserves and saturate < 1 %
    of the raw activations; motions played by several subjects get their own row, others only their source's."""
    from builder.biosim.validity_report import validity_counts

    def record(sequence_id: str, subject: str, share: float, saturated: float, kept: bool = True) -> dict:
        validity = {"frames": 10, "valid_frames": 10, "valid_fraction": 1.0, "masked_frames": {},
                    "reserve_share_valid_frames": {"leg_lumbar": share}, "capacity_median": 0.9,
                    "saturated_fraction": {"raw": 0.5, "raw_valid_frames": saturated},
                    "moment_error": {"published": share}, "residual_force_rms_bw_valid_frames": 0.02}
        return {"sequence_id": sequence_id, "source": "deepmimic", "subject": subject, "kept": kept,
                "validity": validity}

    counts = validity_counts([record("walk__a1", "a1", 0.01, 0.002), record("walk__a2", "a2", 0.01, 0.02),
                              record("run__a1", "a1", 0.10, 0.0), record("run__a2", "a2", 0.01, 0.0, kept=False),
                              record("solo", "a1", 0.01, 0.0)])
    assert [row["within_bounds"] for row in counts["sequences"].values()] == [True, False, False, False, True]
    source = counts["by_source"]["deepmimic"]
    assert (source["audited"], source["kept"], source["within_bounds"]) == (5, 4, 2)
    assert list(counts["by_motion"]) == ["run", "walk"]                   # "solo" is its own motion: no row
    assert counts["by_motion"]["walk"]["within_bounds"] == 1 and counts["by_motion"]["run"]["kept"] == 1


def test_a_failed_path_wrap_is_bridged_over_time():
    """NaN moment arms of one frame (OpenSim's answer where a wrap fails) are interpolated from its neighbours."""
    from builder.biosim.fast_so import _bridge_path_failures

    times = np.arange(5) * 0.1
    arms = np.stack([np.full((2, 3), float(t)) for t in range(5)])
    arms[2, :, 1] = np.nan
    _bridge_path_failures(arms, times, "moment arms", Path("ik.mot"))
    assert np.isfinite(arms).all() and np.allclose(arms[2], 2.0)
