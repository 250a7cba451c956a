"""The batched static-optimization solver against OpenSim's StaticOptimization and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.walk_trial import (
    SO_CHECK_RANGE,
    opensim_so,
    prepare_ulbs_walk,
    prepare_walk,
    walk_dynamics,
)
from scipy.optimize import minimize

from builder.biosim.fast_so import run_fast_static_optimization, solve_batched_qp


@pytest.fixture(scope="module", params=["Rajagopal2016", "ULBS-112"])
def walk(request, tmp_path_factory):
    if request.param == "ULBS-112":
        return prepare_ulbs_walk(tmp_path_factory.getbasetemp() / "ulbs_walk")
    return prepare_walk(tmp_path_factory.getbasetemp() / "rajagopal_walk")


@pytest.mark.slow
def test_fast_solver_matches_opensim_static_optimization(walk):
    reference = opensim_so(walk)
    dyn = walk_dynamics(walk)
    fast = run_fast_static_optimization(walk.model, walk.ik, walk.root / "dynamics" / "id.sto",
                                        time_range=SO_CHECK_RANGE)
    assert fast.table.labels == reference.table.labels
    assert np.allclose(fast.table.time, reference.table.time)
    a, b = fast.table.data, reference.table.data
    rmse = float(np.sqrt(np.mean((a - b) ** 2)))
    pcc = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    print(f"{walk.model.name}: fast vs OpenSim SO on {len(a)} frames x {a.shape[1]} muscles: "
          f"RMSE {rmse:.5f}, PCC {pcc:.6f}")
    assert pcc >= 0.99 and rmse <= 0.01
    assert np.abs(a - b).max() < 0.05
    assert np.all(fast.constraint_violation < 1e-6)
    # the whole-trial run of the fixture used the same solver: its frames agree with this one
    whole = dyn.activations.table.slice_time(*SO_CHECK_RANGE)
    assert np.allclose(whole.data, a, atol=1e-6)


def test_qp_matches_scipy_on_random_problems():
    rng = np.random.default_rng(1)
    T, m, n = 6, 3, 9
    A = rng.normal(size=(T, m, n))
    x_true = rng.uniform(0.1, 0.6, size=(T, n))
    b = np.einsum("tmn,tn->tm", A, x_true)
    lower = np.r_[np.full(n - 2, 0.05), -np.inf, -np.inf]
    upper = np.r_[np.full(n - 2, 0.5), np.inf, np.inf]
    sol = solve_batched_qp(A, b, lower, upper)
    assert sol.converged.all() and sol.violation.max() < 1e-7
    for t in range(T):
        ref = minimize(lambda x: 0.5 * x @ x, np.clip(x_true[t], 0.05, 0.5), jac=lambda x: x, method="SLSQP",
                       bounds=list(zip(np.where(np.isfinite(lower), lower, None),
                                       np.where(np.isfinite(upper), upper, None))),
                       constraints={"type": "eq", "fun": lambda x, t=t: A[t] @ x - b[t], "jac": lambda x, t=t: A[t]},
                       options={"ftol": 1e-12, "maxiter": 500})
        assert ref.success
        assert np.allclose(sol.x[t], ref.x, atol=1e-5)
    assert np.all(sol.x[:, :-2] >= 0.05 - 1e-12) and np.all(sol.x[:, :-2] <= 0.5 + 1e-12)


def test_qp_infeasible_frame_is_reported_not_hidden():
    A = np.array([[[1.0, 1.0]], [[1.0, 1.0]]])
    b = np.array([[1.0], [5.0]])               # second frame needs x1 + x2 = 5 with x <= 1
    sol = solve_batched_qp(A, b, np.zeros(2), np.ones(2))
    assert sol.converged[0] and not sol.converged[1]
    assert sol.violation[0] < 1e-8 and sol.violation[1] > 2.0
    assert np.allclose(sol.x[0], [0.5, 0.5], atol=1e-6) and np.all(np.isfinite(sol.x))


def test_a_frame_with_dependent_constraint_rows_gets_a_pseudo_inverse():
    """``A_t Q^-1 A_t^T`` is singular where two constraint rows of a frame are dependent (seen once in a
    10-subject build); the Riccati step then uses its pseudo-inverse instead of failing the sequence."""
    from builder.biosim.fast_so import _spd_inverse

    rows = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 1.0, 1.0]])
    singular = rows @ rows.T
    np.testing.assert_allclose(_spd_inverse(singular.copy()), np.linalg.pinv(singular), atol=1e-9)
    regular = singular + np.eye(3)
    np.testing.assert_allclose(_spd_inverse(regular.copy()) @ regular, np.eye(3), atol=1e-9)
