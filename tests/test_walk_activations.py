"""BioSim end to end on the embedded walk: muscle timing over the gait cycle, as a biomechanist checks it.

The walk (four strides of the DeepMimic clip on the Anny body) runs through kinematics and
dynamics; gait cycles are cut at right heel strikes of the estimated vertical GRF, and each
muscle's mean activation is compared between Perry's gait phases (loading response 0-10 %,
mid-stance 10-30 %, terminal stance 30-50 %, pre-swing 50-60 %, swing 60-100 %; the clip's
toe-off falls at ~53 % of the cycle).
"""

import numpy as np
import pytest

from builder import layout
from builder.biosim.storage import read_storage

CONTACT_N = 20.0


@pytest.fixture(scope="module")
def walk_cycles(embedded_walk):
    """Activations (cycles, 100 phase samples) per muscle over the inner right-leg gait cycles."""
    folder = embedded_walk
    grf = read_storage(folder / layout.GRF_MOT)
    contact = grf.column("ground_force_r_vy") > CONTACT_N
    strikes = grf.time[np.flatnonzero(contact[1:] & ~contact[:-1]) + 1]
    activations = read_storage(folder / layout.ACTIVATIONS)
    cycles = {}
    phase = np.linspace(0, 1, 100, endpoint=False)
    for start, stop in zip(strikes[1:-2], strikes[2:-1]):  # inner cycles: no filter edge effects
        times = start + phase * (stop - start)
        for name in activations.labels:
            cycles.setdefault(name, []).append(np.interp(times, activations.time, activations.column(name)))
    assert len(strikes) >= 4, f"expected >= 4 right heel strikes in four strides, got {strikes}"
    return {name: np.array(curves) for name, curves in cycles.items()}


def phase_mean(cycles, muscles, start, stop):
    """Mean activation of ``muscles`` between ``start`` and ``stop`` percent of the gait cycle."""
    return float(np.mean([cycles[m][:, start:stop].mean() for m in muscles]))


@pytest.mark.slow
def test_plantarflexors_fire_in_late_stance(walk_cycles):
    triceps_surae = ("soleus_r", "gasmed_r", "gaslat_r")
    late_stance, swing = phase_mean(walk_cycles, triceps_surae, 30, 55), phase_mean(walk_cycles, triceps_surae, 60, 100)
    assert late_stance > 0.15 and late_stance > 3 * swing


@pytest.mark.slow
def test_tibialis_anterior_fires_in_swing_and_around_heel_strike(walk_cycles):
    swing = phase_mean(walk_cycles, ("tibant_r",), 60, 100)
    around_strike = walk_cycles["tibant_r"][:, list(range(95, 100)) + list(range(0, 10))].mean()
    mid_stance = phase_mean(walk_cycles, ("tibant_r",), 10, 30)
    assert swing > 0.15 and swing > 1.5 * mid_stance
    assert around_strike > 1.5 * mid_stance


@pytest.mark.slow
def test_vastii_fire_in_early_stance(walk_cycles):
    vastii = ("vaslat_r", "vasmed_r", "vasint_r")
    early_stance, swing = phase_mean(walk_cycles, vastii, 0, 40), phase_mean(walk_cycles, vastii, 60, 95)
    assert early_stance > 0.05 and early_stance > 2 * swing


@pytest.mark.slow
def test_gluteus_medius_fires_in_single_support(walk_cycles):
    gluteus_medius = ("glmed1_r", "glmed2_r", "glmed3_r")
    single_support = phase_mean(walk_cycles, gluteus_medius, 12, 50)
    swing = phase_mean(walk_cycles, gluteus_medius, 60, 100)
    assert single_support > 0.3 and single_support > 1.3 * swing
