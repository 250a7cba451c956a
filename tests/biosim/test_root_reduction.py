"""Root residual reduction: the pelvis shift that makes a floor explain the motion."""

from __future__ import annotations

import numpy as np
import pytest

from builder.biosim.root_reduction import acceleration_operator, floor_force, reduce_root_residuals, root_shift
from builder.biosim.storage import read_storage

MASS, GRAVITY = 70.0, np.array([0.0, -9.81, 0.0])
WEIGHT = MASS * 9.81


def test_floor_force_is_zero_in_flight_and_pushes_up_in_contact():
    force = np.array([[100.0, -50.0, 20.0], [300.0, 800.0, -40.0], [50.0, 700.0, 10.0]])
    grounded = np.array([True, True, False])
    lean = np.array([[0.1, 0.0], [0.2, -0.05], [0.3, 0.3]])
    out = floor_force(force, grounded, lean)
    assert np.allclose(out[0], 0.0)                     # pulling down: no floor force
    assert np.allclose(out[1], [160.0, 800.0, -40.0])   # vertical kept, horizontal at the pendulum's lean
    assert np.allclose(out[2], 0.0)                     # airborne


def test_standing_still_needs_no_shift():
    t = np.arange(60) / 30.0
    com = np.tile([0.1, 0.95, -0.02], (len(t), 1))
    shift, before, after = root_shift(acceleration_operator(t, 6.0), com, MASS, GRAVITY, np.ones(len(t), bool),
                                      np.zeros((len(t), 2)))
    assert np.abs(shift).max() < 1e-9
    assert before.max() / WEIGHT < 1e-6 and after.max() / WEIGHT < 1e-6


def test_one_frame_glitch_of_the_centre_of_mass_is_taken_out():
    """A 3 cm sideways jump of the centre of mass in one frame (as Anny's retarget of DeepMimic's run at
    touchdown) asks about 1 BW of sideways force after the 6 Hz filter; the shift undoes the jump."""
    t = np.arange(90) / 30.0
    com = np.stack([1.2 * t, np.full_like(t, 0.95), np.zeros_like(t)], axis=1)
    com[45, 2] += 0.03
    shift, before, after = root_shift(acceleration_operator(t, 6.0), com, MASS, GRAVITY, np.ones(len(t), bool),
                                      np.zeros((len(t), 2)))
    assert before.max() / WEIGHT > 0.5
    assert after.max() / WEIGHT < 0.05
    assert shift[45, 2] < -0.005                        # against the jump, by less than it
    assert np.abs(shift).max() < 0.03
    assert np.abs(shift[:, :2]).max() < 1e-3             # the filter's edges on the forward ramp only


def test_flight_with_an_unphysical_pull_down_is_made_ballistic():
    """Contact, 0.2 s of flight whose vertical velocity drops 1.2 m/s in one frame (DeepMimic's run just
    before touchdown), contact: the shift at least halves what the floor cannot explain in flight, moving the
    body by centimetres (this landing is a step in height, harder than the clip's)."""
    t = np.arange(60) / 30.0
    flight = (t >= 0.9) & (t < 1.1)
    y = np.full_like(t, 0.95)
    up = flight | (t >= 1.1)
    tau = np.where(up, t - 0.9, 0.0)
    y += np.where(flight, 0.6 * tau - 0.5 * 9.81 * tau ** 2, 0.0)
    y[flight & (t >= 1.0)] -= 1.2 * (t[flight & (t >= 1.0)] - 0.99)
    y[~flight & (t >= 1.1)] = y[flight][-1]
    com = np.stack([np.zeros_like(t), y, np.zeros_like(t)], axis=1)
    operator = acceleration_operator(t, 6.0)
    shift, before, after = root_shift(operator, com, MASS, GRAVITY, ~flight, np.zeros((len(t), 2)))
    assert np.sqrt(np.mean(after[flight] ** 2)) < 0.5 * np.sqrt(np.mean(before[flight] ** 2))
    assert np.abs(shift).max() < 0.08


@pytest.mark.slow
def test_real_walk_needs_about_a_centimetre_and_a_too_large_shift_is_not_applied(walk, tmp_path):
    """The real Rajagopal walk (measured, physical) asks about a centimetre of the pelvis; with a limit below
    what it asks, nothing is written and the record says so."""
    out = tmp_path / "ik_reduced.mot"
    report = reduce_root_residuals(walk.model, walk.ik, out)
    print("real walk root reduction:", report)
    assert report["applied"] and out.is_file()
    assert max(report["shift_max_m"]) < 0.015
    assert report["force_error_rms_bw"]["after"] < report["force_error_rms_bw"]["before"]
    reduced, original = read_storage(out), read_storage(walk.ik)
    moved = [original.labels.index(name) for name in ("pelvis_tx", "pelvis_ty", "pelvis_tz")]
    kept = [j for j in range(len(original.labels)) if j not in moved]
    assert np.allclose(reduced.data[:, kept], original.data[:, kept], atol=1e-6)   # joint angles untouched
    assert np.abs(reduced.data[:, moved] - original.data[:, moved]).max() > 0
    refused = reduce_root_residuals(walk.model, walk.ik, tmp_path / "refused.mot", max_shift_m=1e-4)
    assert not refused["applied"] and not (tmp_path / "refused.mot").exists()


@pytest.mark.slow
def test_dynamics_with_root_reduction_reads_the_shifted_motion(walk, tmp_path):
    """``root_reduction`` (the default) runs GRF, ID and SO on ``ik_reduced.mot`` and records the shift."""
    from helpers.walk_trial import cut_walk_sequence

    from builder import layout
    from builder.biosim.dynamics import DynamicsSettings, process_sequence

    folder = cut_walk_sequence(walk, tmp_path, "reduced")
    record = process_sequence(folder)
    assert record.status == "kept", (record.reasons, record.error)
    assert record.grf["root_reduction"]["applied"] and record.outputs["IK_REDUCED"] == layout.IK_REDUCED
    reduced, original = read_storage(folder / layout.IK_REDUCED), read_storage(folder / layout.IK_MOT)
    assert reduced.labels == original.labels and np.allclose(reduced.time, original.time)
    assert max(record.grf["root_reduction"]["shift_max_m"]) < 0.01
    plain = process_sequence(folder, DynamicsSettings(root_reduction=False))
    assert plain.grf["root_reduction"] is None and not (folder / layout.IK_REDUCED).exists()
