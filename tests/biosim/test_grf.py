"""Physics GRF estimator on the real Rajagopal walking trial, against its force-plate data."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.walk_trial import MEASURED_GRF, MEASURED_WINDOW

from builder.biosim.grf import (
    GRFEstimator,
    PhysicsGRFEstimator,
    _runs,
    make_estimator,
    register_estimator,
)
from builder.biosim.storage import read_storage

pytestmark = pytest.mark.slow


def _measured_force(time: np.ndarray) -> np.ndarray:
    grf = read_storage(MEASURED_GRF)
    cols = [np.interp(time, grf.time, grf.column(f"ground_force_{s}_v{a}")) for s in "rl" for a in "xyz"]
    return np.stack(cols, axis=1).reshape(-1, 2, 3)


def test_vertical_grf_double_hump_and_peaks(dyn):
    grf = dyn.grf
    bw = grf.body_weight
    for side in range(2):
        runs = [(a, b) for a, b in _runs(grf.contact[:, side]) if a > 0 and b < len(grf.time) - 1]
        assert runs, "no complete stance detected"
        for a, b in runs:
            fz = grf.force[a:b + 1, side, 1] / bw
            mid = (b - a) // 2
            first, second = fz[:mid].max(), fz[mid:].max()
            valley = fz[np.argmax(fz[:mid]):mid + np.argmax(fz[mid:])].min()
            assert 1.0 <= first <= 1.4 and 1.0 <= second <= 1.4, (first, second)
            assert valley < 0.9 * min(first, second), (first, valley, second)


def test_vertical_grf_integrates_to_body_weight_over_a_stride(dyn):
    grf = dyn.grf
    strikes = [a for a, _ in _runs(grf.contact[:, 0]) if a > 0]
    assert len(strikes) >= 2
    a, b = strikes[0], strikes[1]
    impulse = np.trapezoid(grf.force[a:b, :, 1].sum(axis=1), grf.time[a:b])
    mean_over_stride = impulse / (grf.time[b - 1] - grf.time[a])
    assert abs(mean_over_stride / grf.body_weight - 1.0) < 0.05


def test_matches_force_plates_and_contact_events(walk, dyn):
    grf = dyn.grf
    keep = (grf.time >= MEASURED_WINDOW[0]) & (grf.time <= MEASURED_WINDOW[1])
    measured = _measured_force(grf.time)[keep]
    estimated = grf.force[keep]
    total_r = np.corrcoef(measured[:, :, 1].sum(1), estimated[:, :, 1].sum(1))[0, 1]
    total_rmse = np.sqrt(np.mean((measured[:, :, 1].sum(1) - estimated[:, :, 1].sum(1)) ** 2)) / grf.body_weight
    assert total_r > 0.95 and total_rmse < 0.06, (total_r, total_rmse)
    for side in range(2):  # the split between the feet (contact + smooth transition) follows the plates
        r = np.corrcoef(measured[:, side, 1], estimated[:, side, 1])[0, 1]
        assert r > 0.97, (side, r)
    for k, side in enumerate("rl"):
        detected = [(grf.time[a], grf.time[b]) for a, b in _runs(grf.contact[:, k])]
        for strike, off in walk.events[side]:
            nearest = min(detected, key=lambda d: abs(d[0] - strike))
            assert abs(nearest[0] - strike) < 0.05 and abs(nearest[1] - off) < 0.06, (side, nearest, strike, off)


def test_external_loads_files_load_in_opensim(dyn):
    from builder.biosim.opensim_model import opensim

    osim = opensim()
    loads = osim.ExternalLoads(str(dyn.grf_xml), True)
    assert loads.getSize() == 2 and loads.get(0).get_applied_to_body() == "calcn_r"
    table = read_storage(dyn.grf_mot)
    assert table.labels[:3] == ["ground_force_r_vx", "ground_force_r_vy", "ground_force_r_vz"]
    assert len(table.labels) == 18 and np.all(np.isfinite(table.data))
    cop = table.columns(["ground_force_r_px", "ground_force_r_pz"])
    assert np.all(np.abs(cop) < 5.0)  # COPs lie under the feet, in the lab volume


def test_learned_estimator_hook(walk):
    class Halved(GRFEstimator):
        name = "halved"

        def estimate(self, model_path, coordinates_path):
            grf = PhysicsGRFEstimator().estimate(model_path, coordinates_path)
            grf.force = grf.force * 0.5
            return grf

    register_estimator("halved", Halved)
    half = make_estimator("halved").estimate(walk.model, walk.ik)
    full = make_estimator("physics").estimate(walk.model, walk.ik)
    assert np.allclose(half.force * 2, full.force)
    plug = make_estimator("builder.biosim.grf:PhysicsGRFEstimator", cutoff_hz=4.0)
    assert isinstance(plug, PhysicsGRFEstimator) and plug.cutoff_hz == 4.0
    with pytest.raises(ValueError, match="unknown GRF estimator"):
        make_estimator("gaitdynamics")


def test_bad_coordinates_are_a_clear_error(walk, tmp_path):
    table = read_storage(walk.ik)
    table.data[5, 3] = np.nan
    bad = tmp_path / "ik_nan.mot"
    from builder.biosim.storage import format_storage

    bad.write_text(format_storage(table).replace("nan", "NaN"))
    with pytest.raises(ValueError, match="ik_nan.mot: .*non-finite"):
        PhysicsGRFEstimator().estimate(walk.model, bad)
