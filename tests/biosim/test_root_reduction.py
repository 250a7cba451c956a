"""Root residual reduction: the pelvis shift that makes a floor explain the motion."""

from __future__ import annotations

import numpy as np

from builder.biosim.root_reduction import acceleration_operator, floor_force, root_shift

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
