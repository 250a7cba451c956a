"""Parts of the GRF estimation that need no OpenSim: the feet's load shares, the stance-lean fit and the AP
lean's phase-in of the ``contact`` estimator and the low-pass filtering of force-plate wrenches."""

from __future__ import annotations

import numpy as np
import pytest

from builder.biosim.body_kinematics import lowpass
from builder.biosim.grf import transition_shares
from builder.biosim.grf_contact import WALKING, ContactGRFEstimator, stance_leans, walking_heading
from builder.biosim.grf_validation import ForcePlates


def _alternating_stances(n: int = 300, stance: int = 40, overlap: int = 8) -> np.ndarray:
    """Vertical forces (n, 2) of two feet in alternating half-sine stances that overlap by ``overlap`` frames."""
    vertical = np.zeros((n, 2))
    start, foot = 0, 0
    while start + stance <= n:
        vertical[start:start + stance, foot] = 700.0 * np.sin(np.linspace(0.0, np.pi, stance))
        start, foot = start + stance - overlap, 1 - foot
    return vertical


def test_double_supports_cut_by_the_motion_take_the_lever_rule():
    """A double support at the first or last frame may be a transition far under way: the trailing foot must
    not get the whole load there (the smooth transition would start it at 1); a whole one keeps the
    smoothstep."""
    t = np.arange(30) / 30
    contact = np.zeros((30, 2), bool)
    contact[:4] = True                       # cut by the start: both feet down, then the left foot (1) leaves
    contact[4:14, 0] = True
    contact[12:16, 1] = True                 # a whole transition, frames 12-13, to the left foot
    contact[14:, 1] = True
    contact[24:, 0] = True                   # cut by the end: the right foot lands at frame 24
    lever_calls = []

    def lever(start: int, end: int) -> np.ndarray:
        lever_calls.append((start, end))
        return np.tile([0.7, 0.3], (end - start + 1, 1))

    share = transition_shares(t, contact, 0.4, lever)
    assert lever_calls == [(0, 3), (24, 29)]
    assert np.allclose(share[:4], [0.7, 0.3]) and np.allclose(share[24:], [0.7, 0.3])
    assert share[12, 0] > share[13, 0] > 0 and np.allclose(share[12:14].sum(axis=1), 1.0)
    assert np.allclose(share[4:12], [1.0, 0.0]) and np.allclose(share[14:24], [0.0, 1.0])


def test_stance_leans_recover_the_leans_that_made_the_target():
    vertical = _alternating_stances()
    rng = np.random.default_rng(0)
    truth = np.zeros_like(vertical)
    for k in range(2):
        on = np.flatnonzero(vertical[:, k] > 0)
        for run in np.split(on, np.flatnonzero(np.diff(on) > 1) + 1):
            tau = np.linspace(-1.0, 1.0, len(run))
            truth[run, k] = vertical[run, k] * (rng.normal(0.0, 0.05) + rng.normal(0.0, 0.05) * tau)
    target = truth.sum(axis=1)
    frames = vertical.sum(axis=1) > 0
    fitted = stance_leans(vertical, vertical > 0, target, frames, degree=1, ridge=1e-9, scale=700.0)
    assert np.allclose(fitted, truth, atol=1e-3 * 700.0)
    assert np.all(fitted[vertical == 0] == 0.0)                 # no force off the floor


def test_stance_leans_ridge_shrinks_what_the_target_cannot_tell():
    """A stance on no fitted frame keeps zero leans; with none at all the forces are zero."""
    vertical = _alternating_stances()
    frames = np.zeros(len(vertical), bool)
    frames[:100] = vertical[:100].sum(axis=1) > 0
    fitted = stance_leans(vertical, vertical > 0, np.full(len(vertical), 50.0), frames, 1, 1e-3, 700.0)
    late = np.arange(len(vertical)) > 150
    assert np.all(fitted[late] == 0.0)
    assert np.all(stance_leans(vertical, np.zeros_like(vertical), np.ones(len(vertical)), frames, 1, 1e-3,
                               700.0) == 0.0)


def test_landing_foot_lean_phases_in_with_its_load_and_share():
    """Up to a stance's first load peak a foot's AP lean weighs load / peak, then 1; in a double support the
    arriving foot's weight is at most its share of the load."""
    vertical = _alternating_stances()
    t = np.arange(len(vertical)) / 100.0
    contact = vertical > 0
    share = vertical / np.maximum(vertical.sum(axis=1, keepdims=True), 1e-12)
    gait = np.where(contact, WALKING, 0).astype(np.int8)
    weight = ContactGRFEstimator._lead_in(t, contact, share, vertical, gait, max_transition=0.2)
    on = np.flatnonzero(contact[:, 1])
    stance = on[:np.flatnonzero(np.diff(on) > 1)[0] + 1]    # foot 1's first stance
    peak = stance[np.argmax(vertical[stance, 1])]
    rising = stance[stance < peak]
    expected = np.minimum(vertical[rising, 1] / vertical[peak, 1], np.where(contact[rising, 0], share[rising, 1], 1))
    np.testing.assert_allclose(weight[rising, 1], expected)
    assert np.all(weight[stance[stance >= peak], 1] == 1.0)
    assert np.all(weight[~contact] == 1.0)


@pytest.fixture
def plates() -> ForcePlates:
    """Two feet on plates at 1 kHz: a moving COP, forward and lateral forces, a free torque."""
    t = np.arange(0.0, 1.0, 0.001)
    force = np.zeros((len(t), 2, 3))
    cop = np.zeros((len(t), 2, 3))
    torque = np.zeros((len(t), 2, 3))
    for k, phase in enumerate((0.0, 0.5)):
        load = np.clip(np.sin(2 * np.pi * (t - phase)), 0.0, None)
        force[:, k] = load[:, None] * np.array([80.0, 800.0, -30.0])
        cop[:, k] = np.stack([0.2 + 0.25 * t, np.zeros_like(t), np.full_like(t, 0.1 - 0.2 * k)], axis=1)
        torque[:, k, 1] = 5.0 * load
    return ForcePlates(t, force, cop, torque)


def test_lowpassed_plates_carry_the_lowpassed_wrench(plates):
    """Force and moment about the origin of the filtered plates are the filtered force and moment."""
    band = plates.lowpass(6.0)
    moment = np.cross(plates.cop, plates.force) + plates.torque
    assert np.allclose(band.force, lowpass(plates.force, 1000.0, 6.0))
    assert np.allclose(np.cross(band.cop, band.force) + band.torque, lowpass(moment, 1000.0, 6.0), atol=1e-9)
    assert np.all(band.cop[..., 1] == 0.0)                     # on the plates' floor


def test_lowpass_above_the_signal_keeps_the_plates(plates):
    band = plates.lowpass(300.0)
    loaded = plates.force[:, :, 1] > 100.0
    assert np.abs(band.cop - plates.cop)[loaded].max() < 2e-3
    assert np.abs(band.force - plates.force).max() < 0.02 * plates.force.max()


@pytest.mark.parametrize("direction", [(1.0, 0.0), (0.0, -1.0), (0.6, 0.8)])
def test_walking_heading_follows_the_progression_whichever_way_the_frame_faces(direction):
    t = np.arange(90) / 30.0
    sway = 0.03 * np.sin(2 * np.pi * t)                           # the pelvis' side-to-side sway
    along, across = np.array(direction), np.array([-direction[1], direction[0]])
    com = np.zeros((len(t), 3))
    com[:, [0, 2]] = 1.3 * t[:, None] * along + sway[:, None] * across
    walking = np.ones(len(t), bool)
    walking[40:45] = False                                          # two gait bouts
    heading = walking_heading(t, com, walking, np.zeros(3))
    assert np.allclose(heading[walking], along, atol=0.02)
    assert np.allclose(heading[~walking], (1.0, 0.0))
    on_the_spot = walking_heading(t, com * 0.05, walking, np.zeros(3))          # 6.5 cm/s: no direction
    assert np.allclose(on_the_spot, (1.0, 0.0))
    belt = np.array([-1.3 * along[0], 0.0, -1.3 * along[1]])                    # treadmill: the floor moves back
    assert np.allclose(walking_heading(t, com * 0.0, walking, belt)[walking], along)
