"""The default GRF estimator on the embedded walk (DeepMimic clip, Anny body, 30 fps) as the dataset build runs it:
the centre of pressure rolls from heel to toe through every stance and the ankle moment builds to one
plantarflexion peak, instead of oscillating with the whole-body momentum's noise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks

from builder import layout
from builder.biosim.grf import _runs
from builder.biosim.storage import read_storage

pytestmark = pytest.mark.slow


def _complete_stances(folder, side: str):
    contact = read_storage(folder / layout.GRF_CONTACT)
    on = contact.column(f"contact_{side}") > 0.5
    return contact.time, [(a, b) for a, b in _runs(on) if a > 0 and b < len(on) - 1]


@pytest.mark.parametrize("side", ["r", "l"])
def test_centre_of_pressure_rolls_from_heel_to_toe(embedded_walk, side):
    grf = read_storage(embedded_walk / layout.GRF_MOT)
    time, stances = _complete_stances(embedded_walk, side)
    assert len(stances) >= 3
    x = np.interp(time, grf.time, grf.column(f"ground_force_{side}_px"))   # the walk progresses along +x
    load = np.interp(time, grf.time, grf.column(f"ground_force_{side}_vy"))
    for a, b in stances:
        loaded = a + np.flatnonzero(load[a:b + 1] > 0.05 * load[a:b + 1].max())
        path = x[loaded]
        backwards = np.maximum.accumulate(path) - path
        assert backwards.max() < 0.01, (side, np.round(path, 3))             # never more than 1 cm back
        assert 0.08 < path[-1] - path[0] < 0.30, (side, np.round(path, 3))   # heel to toe, within the foot


@pytest.mark.parametrize("side", ["r", "l"])
def test_ankle_moment_has_one_plantarflexion_peak_per_stance(embedded_walk, side):
    moments = read_storage(embedded_walk / layout.ID_STO)
    time, stances = _complete_stances(embedded_walk, side)
    ankle = np.interp(time, moments.time, moments.column(f"ankle_angle_{side}_moment"))
    for a, b in stances:
        plantarflexion = -ankle[a:b + 1]                                    # OpenSim: dorsiflexion positive
        peak = plantarflexion.max()
        assert peak > 30.0, (side, np.round(-plantarflexion))
        padded = np.concatenate([[0.0], plantarflexion, [0.0]])                # a peak at the edge counts too
        peaks, _ = find_peaks(padded, prominence=0.1 * peak)                   # 10 % of the peak: not noise
        assert len(peaks) == 1, (side, np.round(-plantarflexion))


@pytest.fixture(scope="module")
def crawl(anny_body, tmp_path_factory):
    """The embedded crawl on the Anny body through BioSim kinematics, then the default GRF estimator."""
    from builder.biosim.grf import make_estimator
    from builder.biosim.kinematics import KinematicsSettings, run_kinematics
    from builder.sources.deepmimic import embedded_motion, read_deepmimic
    from builder.sources.timing import resample

    (motion,) = read_deepmimic(embedded_motion("crawl"))
    motion = resample(motion, 30.0)
    out = tmp_path_factory.mktemp("crawl")
    run_kinematics(motion, out, KinematicsSettings(), body=anny_body)
    folder = layout.sequence_dir(out, motion.sequence_id)
    grf = make_estimator().estimate(folder / layout.SCALED_MODEL, folder / layout.IK_MOT)
    grf.write(folder / layout.GRF_MOT, folder / layout.GRF_XML, folder / layout.GRF_CONTACT)
    return folder, grf


def test_crawl_bears_load_on_hands_and_knees(crawl):
    """The crawl puts hands and knees on the floor: the loads go there, and they explain the motion (pelvis
    residual force small on the frames with contact)."""
    from builder.biosim.opensim_model import opensim

    folder, grf = crawl
    for site in ("hand_r", "hand_l", "knee_r", "knee_l"):
        k = grf.labels.index(site)
        assert grf.contact[:, k].mean() > 0.2, (site, grf.contact[:, k].mean())
        assert grf.force[grf.contact[:, k], k, 1].mean() > 0.05 * grf.body_weight, site
        assert np.all(grf.force[~grf.contact[:, k], k] == 0.0), site
    on_floor = grf.contact.any(axis=1)
    residual = np.linalg.norm(grf.residual_force[on_floor], axis=1) / grf.body_weight
    assert np.sqrt(np.mean(residual ** 2)) < 0.15, np.sqrt(np.mean(residual ** 2))
    loads = opensim().ExternalLoads(str(folder / layout.GRF_XML), True)
    applied = {loads.get(i).get_applied_to_body() for i in range(loads.getSize())}
    assert {"hand_r", "hand_l", "tibia_r", "tibia_l", "calcn_r", "calcn_l"} <= applied
