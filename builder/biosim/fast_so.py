"""Batched static optimization: OpenSim's problem, many frames at once, in numpy.

Same problem as :func:`builder.biosim.static_optimization.run_static_optimization` with exponent
2: per frame, minimise ``sum(x ** 2)`` over muscle activations and coordinate-actuator controls
subject to ``A x = tau`` (``tau`` the inverse-dynamics generalized forces of the free coordinates)
and the actuators' control bounds. Column ``m`` of ``A`` is

* for a muscle: its moment arms times its active fibre force at full activation along the
  tendon with a rigid tendon (``calcInextensibleTendonActiveFiberForce(s, 1)``, passive force
  excluded, as OpenSim's ``use_muscle_physiology``), or with ``tendon_compliance`` the same force
  with a compliant tendon at the rigid-tendon solution's activations (:func:`compliant_active_force`);
* for a coordinate actuator (model actuators and reserves): its optimal force on its coordinate.

Moment arms are exact and cheap: one ``addInEquivalentForces`` (unit tension) and one Jacobian-
transpose product per muscle and frame give the muscle's generalized forces on every coordinate at
once (OpenSim's ``computeMomentArm`` redoes that work per coordinate); coupled coordinates (the
patella) fold in through the coupler's derivative. The QP is solved for all frames together by a
primal-dual interior-point method (one small normal-equation solve per frame and iteration).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg

from builder.biosim.inverse_dynamics import generalized_force_label
from builder.biosim.opensim_model import load_model, opensim
from builder.biosim.static_optimization import (
    ReserveSpec,
    StaticOptimizationResult,
    add_reserves,
    reserve_torques,
)
from builder.biosim.storage import StorageTable, read_storage, write_storage

log = logging.getLogger(__name__)


@dataclass
class QPSolution:
    x: np.ndarray            # (T, n) actuator controls / activations
    violation: np.ndarray    # (T,) ||A x - b||
    iterations: int
    converged: np.ndarray    # (T,) bool


def solve_batched_qp(A: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                     tol: float = 1e-9, max_iterations: int = 80, smooth_weight: float = 0.0,
                     smooth: np.ndarray | None = None, start: np.ndarray | None = None) -> QPSolution:
    """Solve ``min 0.5 ||x||^2  s.t.  A x = b, lower <= x <= upper`` for every frame.

    ``A`` (T, m, n), ``b`` (T, m), bounds (n,) (infinite = unbounded). With ``smooth_weight`` ``w > 0``
    the frames are one problem: ``0.5 w sum_t ||x_t - x_{t-1}||^2`` over the columns where ``smooth``
    (n,) is True is added to the objective (the whole sequence is solved at once; every frame must be
    feasible). Rows served only by their own unbounded columns (the pelvis residuals, a reserve alone
    on its coordinate) are solved in closed form (least norm) first; the interior-point method below
    solves the rest, from ``start`` (T, n) when given (a warm start, e.g. the frame-wise solution of a
    smoothed problem: :func:`_warm_start`).
    """
    used = np.abs(A).max(axis=0) > 0                              # (m, n) sparsity over all frames
    private = (used.sum(axis=0) == 1) & ~np.isfinite(lower) & ~np.isfinite(upper)
    trivial = used.any(axis=1) & ~(used & ~private[None, :]).any(axis=1)
    smooth = np.zeros(A.shape[2], bool) if smooth is None or smooth_weight <= 0 else np.asarray(smooth, bool)
    if not trivial.any():
        solver = _coupled_by_components if smooth.any() else _interior_point
        return solver(A, b, lower, upper, tol, max_iterations, smooth_weight, smooth, start)
    x = np.zeros((A.shape[0], A.shape[2]))
    cols = used[trivial].any(axis=0)
    rows_a = A[:, trivial][:, :, cols]                            # (T, k, c), one row per column
    norm = np.einsum("tkc,tkc->tk", rows_a, rows_a)
    x[:, cols] = np.einsum("tkc,tk->tc", rows_a, b[:, trivial] / np.where(norm > 0, norm, 1.0))
    solver = _coupled_by_components if smooth.any() else _interior_point
    rest = solver(A[:, ~trivial][:, :, ~cols], b[:, ~trivial], lower[~cols], upper[~cols], tol,
                  max_iterations, smooth_weight, smooth[~cols], None if start is None else start[:, ~cols])
    x[:, ~cols] = rest.x
    violation = np.linalg.norm(_mv(A, x) - b, axis=1)
    return QPSolution(x, violation, rest.iterations, rest.converged)


def _coupled_by_components(A: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray, tol: float,
                           max_iterations: int, smooth_weight: float, smooth: np.ndarray,
                           start: np.ndarray | None = None) -> QPSolution:
    """The coupled problem split into its independent blocks (rows and columns connected through
    ``A``'s sparsity: e.g. each leg's muscles and coordinates), each solved by :func:`_interior_point`;
    the sequence solve costs O(T n^3) in a block's size n, so this is several times faster."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    T, m, n = A.shape
    used = np.abs(A).max(axis=0) > 0
    rows, cols = np.nonzero(used)
    graph = coo_matrix((np.ones(len(rows)), (rows, m + cols)), shape=(m + n, m + n))
    _, label = connected_components(graph, directed=False)
    x = np.broadcast_to(np.clip(0.0, lower, upper), (T, n)).copy()
    converged, iterations = np.ones(T, bool), 0
    for component in np.unique(label):
        r, c = np.flatnonzero(label[:m] == component), np.flatnonzero(label[m:] == component)
        if not len(r):
            continue   # columns that act on nothing stay at their bound nearest zero
        part = _interior_point(A[:, r][:, :, c], b[:, r], lower[c], upper[c], tol, max_iterations,
                               smooth_weight, smooth[c], None if start is None else start[:, c])
        x[:, c] = part.x
        converged &= part.converged
        iterations = max(iterations, part.iterations)
    return QPSolution(x, np.linalg.norm(_mv(A, x) - b, axis=1), iterations, converged)


def _frame_newton(A: np.ndarray, At: np.ndarray, d: np.ndarray):
    """Newton-system solver for independent frames: ``diag(d) dx - A^T dlam = r``, ``A dx = -r_p``
    by the (m, m) normal equations of each frame."""
    m = A.shape[1]
    normal = (A / d[:, None, :]) @ At + 1e-12 * np.eye(m)

    def solve(r, r_p):
        d_lam = np.linalg.solve(normal, (-r_p - _mv(A, r / d))[..., None])[..., 0]
        return (r + _mv(At, d_lam)) / d, d_lam

    return solve


def _sequence_newton(A: np.ndarray, At: np.ndarray, d: np.ndarray, w: float, smooth: np.ndarray):
    """Newton-system solver for the frames coupled by the smoothness term: ``(diag(d) + w L (x) S) dx
    - A^T dlam = r``, ``A dx = -r_p`` (L the path Laplacian over frames, S the smoothed columns), a
    block-tridiagonal system solved by eliminating frames in order (a Riccati recursion). Frame t's
    solution given the next frame's is ``x_t = M_t (f_t + w S x_{t+1}) + N_t c_t`` with ``c_t = -r_p,t``,
    ``M_t = Q_t^-1 - N_t A_t Q_t^-1``, ``N_t = Q_t^-1 A_t^T G_t^-1`` and ``G_t = A_t Q_t^-1 A_t^T`` (range
    space). ``Q_t`` is dense only over the smoothed columns (diagonal elsewhere), so a frame costs one
    inverse of that block and one of the small (m, m) ``G_t`` (:func:`_spd_inverse`); ``M_t`` is kept
    as these factors. The columns are ordered smoothed first inside. O(T (|S|^3 + n |S| m)) in all."""
    T, m, n = A.shape
    order = np.concatenate([np.flatnonzero(smooth), np.flatnonzero(~smooth)])
    k = int(np.count_nonzero(smooth))
    A, d = A[:, :, order], d[:, order]
    degree = np.full(T, 2.0)
    degree[[0, -1]] = 1.0 if T > 1 else 0.0
    q_inv = np.zeros((T, k, k))      # Q_t^-1 over the smoothed columns (1 / d over the others)
    a_q_inv = np.zeros((T, m, n))    # A_t Q_t^-1
    gain = np.zeros((T, n, m))       # N_t
    g_inv = np.zeros((T, m, m))      # G_t^-1
    diagonal = np.arange(k)
    smoothed_block = np.zeros((k, k))  # M_{t-1} over the smoothed columns

    for t in range(T):
        Q = -w * w * smoothed_block
        Q[diagonal, diagonal] += d[t, :k] + w * degree[t]
        q_inv[t] = _spd_inverse(Q)
        np.matmul(A[t, :, :k], q_inv[t], out=a_q_inv[t, :, :k])
        np.divide(A[t, :, k:], d[t, k:], out=a_q_inv[t, :, k:])
        g_inv[t] = _spd_inverse(a_q_inv[t] @ A[t].T)
        np.matmul(a_q_inv[t].T, g_inv[t], out=gain[t])
        smoothed_block = q_inv[t] - gain[t, :k] @ a_q_inv[t, :, :k]

    def response(t, f):   # M_t f
        out = gain[t] @ -(a_q_inv[t] @ f)
        out[:k] += q_inv[t] @ f[:k]
        out[k:] += f[k:] / d[t, k:]
        return out

    def solve(r, r_p):
        forward = r[:, order]
        for t in range(1, T):   # f_t = r_t + w S g_{t-1}, g_t = M_t f_t + N_t c_t
            forward[t, :k] += w * (response(t - 1, forward[t - 1]) - gain[t - 1] @ r_p[t - 1])[:k]
        d_x, d_lam = np.zeros((T, n)), np.zeros((T, m))
        for t in range(T - 1, -1, -1):
            f = forward[t]
            if t < T - 1:
                f[:k] += w * d_x[t + 1, :k]
            d_x[t] = response(t, f) - gain[t] @ r_p[t]
            d_lam[t] = -g_inv[t] @ r_p[t] - gain[t].T @ f
        out = np.empty_like(d_x)
        out[:, order] = d_x
        return out, d_lam

    return solve


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix by Cholesky (LAPACK potrf/potri) of the matrix scaled
    to a unit diagonal, which keeps it accurate when the diagonal spans many orders of magnitude. A singular
    one (``A_t Q^-1 A_t^T`` of a frame whose constraint rows are dependent) gets its pseudo-inverse."""
    diagonal = matrix.diagonal()
    if np.all(diagonal > 0):
        scale = 1.0 / np.sqrt(diagonal)
        outer = scale[:, None] * scale
        factor, info = _potrf(matrix * outer, lower=True, overwrite_a=True)
        if info == 0:
            inverse, info = _potri(factor, lower=True, overwrite_c=True)
        if info == 0:
            inverse += inverse.T   # potri fills the lower triangle; the upper one is zero
            inverse.flat[::len(inverse) + 1] *= 0.5
            return inverse * outer
    return np.linalg.pinv(matrix, hermitian=True)


_potrf, _potri = scipy.linalg.lapack.dpotrf, scipy.linalg.lapack.dpotri


def _laplacian(x: np.ndarray) -> np.ndarray:
    """``L x`` over frames (axis 0) for the path graph: the gradient of ``0.5 sum ||x_t - x_{t-1}||^2``."""
    out = np.zeros_like(x)
    diff = np.diff(x, axis=0)
    out[:-1] -= diff
    out[1:] += diff
    return out


def _interior_point(A: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                    tol: float, max_iterations: int, smooth_weight: float = 0.0,
                    smooth: np.ndarray | None = None, start: np.ndarray | None = None) -> QPSolution:
    """The interior-point solver of :func:`solve_batched_qp` (all rows coupled).

    ``A`` (T, m, n), ``b`` (T, m), bounds (n,) (infinite = unbounded). Primal-dual interior point
    (Mehrotra predictor-corrector) over all frames at once. Independent frames (no smoothness) each
    solve one (m, m) normal-equation system per iteration, take their own steps and converge on
    their own: a frame converges when its equality residual is below ``tol * (1 + ||b||_inf)`` and its
    complementarity gap is below ``tol``; an infeasible frame does not converge and keeps a large
    ``violation``. Coupled frames (``smooth_weight > 0``) solve one block-tridiagonal system
    (:func:`_sequence_newton`) and take common steps. Without ``start`` the iterates start at a quarter of
    each bounded range with unit bound multipliers; with it, at :func:`_warm_start`.
    """
    T, m, n = A.shape
    coupled = smooth_weight > 0 and smooth is not None and bool(np.any(smooth))
    mask = np.asarray(smooth, float) if coupled else np.zeros(n)
    At = np.ascontiguousarray(np.swapaxes(A, 1, 2))
    has_lo = np.isfinite(lower)
    has_hi = np.isfinite(upper)
    lo = np.where(has_lo, lower, 0.0)
    hi = np.where(has_hi, upper, 0.0)
    n_bounds = max(int(has_lo.sum() + has_hi.sum()), 1)
    one_sided = np.where(has_lo, lo + 1.0, np.where(has_hi, hi - 1.0, 0.0))
    lam = np.zeros((T, m))
    if start is None:
        x = np.broadcast_to(np.where(has_lo & has_hi, lo + 0.25 * (hi - lo), one_sided), (T, n)).copy()
        z_lo = np.broadcast_to(has_lo.astype(float), (T, n)).copy()
        z_hi = np.broadcast_to(has_hi.astype(float), (T, n)).copy()
    else:
        x, z_lo, z_hi = _warm_start(start, lower, upper)
    threshold = tol * (1.0 + np.abs(b).max(axis=1))
    converged = np.zeros(T, dtype=bool)
    stalled = np.zeros(T, dtype=bool)
    rows = np.arange(T)   # the frames still iterating (all of them when coupled)
    A_rows, At_rows, b_rows, threshold_rows = A, At, b, threshold

    def slacks(x):
        return np.where(has_lo, x - lo, 1.0), np.where(has_hi, hi - x, 1.0)

    def max_step(v, dv, where):
        ratio = np.where(where & (dv < 0), -v / np.where(dv < 0, dv, -1.0), np.inf)
        step = np.minimum(1.0, ratio.min(axis=1))
        return np.full(len(step), step.min()) if coupled else step

    for iteration in range(1, max_iterations + 1):
        if not coupled and (converged | stalled).any():   # finished frames keep their iterates: drop them
            rows = np.flatnonzero(~(converged | stalled))
            A_rows, At_rows, b_rows, threshold_rows = A[rows], At[rows], b[rows], threshold[rows]
        iterate = _IterateRows(rows, x, lam, z_lo, z_hi)
        x, lam, z_lo, z_hi = iterate.values()
        s_lo, s_hi = slacks(x)
        r_p = _mv(A_rows, x) - b_rows
        r_d = x + smooth_weight * mask * _laplacian(x) - _mv(At_rows, lam) - z_lo + z_hi
        gap = (np.where(has_lo, s_lo * z_lo, 0.0).sum(1) + np.where(has_hi, s_hi * z_hi, 0.0).sum(1)) / n_bounds
        done = ((np.abs(r_p).max(axis=1) <= threshold_rows) & (np.abs(r_d).max(axis=1) <= threshold_rows)
                & (gap <= tol))
        if coupled:
            done[:] = done.all()
        converged[rows] = done
        if done.all():
            x, lam, z_lo, z_hi = iterate.full()
            break
        diagonal = 1.0 + z_lo / s_lo + z_hi / s_hi
        newton = (_sequence_newton(A_rows, At_rows, diagonal, smooth_weight, mask > 0) if coupled
                  else _frame_newton(A_rows, At_rows, diagonal))

        def direction(target_lo, target_hi):
            d_x, d_lam = newton(-r_d + target_lo / s_lo - target_hi / s_hi, r_p)
            d_zlo = np.where(has_lo, (target_lo - z_lo * d_x) / s_lo, 0.0)
            d_zhi = np.where(has_hi, (target_hi + z_hi * d_x) / s_hi, 0.0)
            return d_x, d_lam, d_zlo, d_zhi

        # predictor (affine scaling)
        aff = direction(np.where(has_lo, -s_lo * z_lo, 0.0), np.where(has_hi, -s_hi * z_hi, 0.0))
        a_p = np.minimum(max_step(s_lo, aff[0], has_lo), max_step(s_hi, -aff[0], has_hi))
        a_d = np.minimum(max_step(z_lo, aff[2], has_lo), max_step(z_hi, aff[3], has_hi))
        gap_aff = (np.where(has_lo, (s_lo + a_p[:, None] * aff[0]) * (z_lo + a_d[:, None] * aff[2]), 0.0).sum(1)
                   + np.where(has_hi, (s_hi - a_p[:, None] * aff[0]) * (z_hi + a_d[:, None] * aff[3]), 0.0).sum(1)
                   ) / n_bounds
        if coupled:
            gap_aff, gap = np.full(T, gap_aff.mean()), np.full(T, gap.mean())
        sigma = np.clip((gap_aff / np.maximum(gap, 1e-300)) ** 3, 0.0, 1.0)
        mu = (sigma * gap)[:, None]
        # corrector
        t_lo = np.where(has_lo, mu - s_lo * z_lo - aff[0] * aff[2], 0.0)
        t_hi = np.where(has_hi, mu - s_hi * z_hi + aff[0] * aff[3], 0.0)
        d_x, d_lam, d_zlo, d_zhi = direction(t_lo, t_hi)
        a_p = 0.995 * np.minimum(max_step(s_lo, d_x, has_lo), max_step(s_hi, -d_x, has_hi))
        a_d = 0.995 * np.minimum(max_step(z_lo, d_zlo, has_lo), max_step(z_hi, d_zhi, has_hi))
        a_p = np.minimum(a_p, 1.0)[:, None] * ~done[:, None]
        a_d = np.minimum(a_d, 1.0)[:, None] * ~done[:, None]
        new = (x + a_p * d_x, lam + a_d * d_lam, z_lo + a_d * d_zlo, z_hi + a_d * d_zhi)
        # an infeasible frame drives its iterate to the bounds: freeze it at its last finite value
        finite = np.all([np.isfinite(v).all(axis=1) for v in new], axis=0)
        finite &= np.where(has_lo, new[0] - lo, 1.0).min(axis=1) > 0
        finite &= np.where(has_hi, hi - new[0], 1.0).min(axis=1) > 0
        stalled[rows] |= ~finite
        if coupled and stalled.any():   # rounding put a step on a bound: end at the last interior iterate
            stalled[:] = True
            converged[:] = (np.abs(r_p).max(axis=1) <= 1e3 * threshold).all() and gap.max() <= 1e3 * tol
        keep = (~stalled[rows])[:, None]
        iterate.update(*(np.where(keep, v_new, v) for v_new, v in zip(new, (x, lam, z_lo, z_hi))))
        x, lam, z_lo, z_hi = iterate.full()
        if (converged | stalled).all():
            break
    x = np.clip(x, np.where(has_lo, lo, -np.inf), np.where(has_hi, hi, np.inf))
    violation = np.linalg.norm(_mv(A, x) - b, axis=1)
    return QPSolution(x, violation, iteration, converged)


WARM_MARGIN = 1e-2
"""Share of a bounded range by which a warm start keeps away from the bounds."""
WARM_GAP = 0.1
"""Complementarity products ``slack * multiplier`` of a warm start."""


def _warm_start(x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interior-point iterates (x, z_lo, z_hi) near a guess ``x`` (T, n): ``x`` pulled :data:`WARM_MARGIN` of each
    bounded range inside its bounds, the bound multipliers on the central path at gap :data:`WARM_GAP` (the
    frame-wise solution of the smoothed problem starts its solve about a third fewer iterations away)."""
    has_lo, has_hi = np.isfinite(lower), np.isfinite(upper)
    margin = WARM_MARGIN * np.where(has_lo & has_hi, upper - lower, 1.0)
    x = np.clip(x, np.where(has_lo, lower + margin, -np.inf), np.where(has_hi, upper - margin, np.inf))
    z_lo = np.where(has_lo, WARM_GAP / np.where(has_lo, x - lower, 1.0), 0.0)
    z_hi = np.where(has_hi, WARM_GAP / np.where(has_hi, upper - x, 1.0), 0.0)
    return x, z_lo, z_hi


class _IterateRows:
    """The interior-point iterates (x, lam, z_lo, z_hi), all frames, and their rows that still iterate."""

    def __init__(self, rows: np.ndarray, *arrays: np.ndarray) -> None:
        self.rows, self.arrays = rows, arrays
        self.all_rows = len(rows) == len(arrays[0])

    def values(self) -> tuple[np.ndarray, ...]:
        """The iterates of the rows (the arrays themselves when every row iterates)."""
        return self.arrays if self.all_rows else tuple(a[self.rows] for a in self.arrays)

    def update(self, *values: np.ndarray) -> None:
        """New iterates of the rows."""
        if self.all_rows:
            self.arrays = values
            return
        for array, value in zip(self.arrays, values):
            array[self.rows] = value

    def full(self) -> tuple[np.ndarray, ...]:
        """The iterates of every frame."""
        return self.arrays


def _mv(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched matrix-vector product (T, a, b) x (T, b) -> (T, a)."""
    return (M @ v[..., None])[..., 0]


@dataclass
class CoordinateStates:
    """Coordinate values ``q`` and speeds ``u`` (T, n) of the named coordinates at ``times`` (T,), s."""

    times: np.ndarray
    names: list[str]
    q: np.ndarray
    u: np.ndarray

    def poser(self, model, state) -> Callable[[int], None]:
        """A function that sets frame ``i``'s values and speeds on ``state`` for the coordinates of ``model``
        these states name (the mapping is resolved once)."""
        coordinates = model.getCoordinateSet()
        column = {name: k for k, name in enumerate(self.names)}
        present = [(coordinates.get(j), column[coordinates.get(j).getName()]) for j in range(coordinates.getSize())
                   if coordinates.get(j).getName() in column]

        def pose(i: int) -> None:
            for coordinate, k in present:
                coordinate.setValue(state, float(self.q[i, k]), False)
                coordinate.setSpeedValue(state, float(self.u[i, k]))
        return pose


def coordinate_states(model, coordinates_path: Path, cutoff_hz: float, times: np.ndarray) -> CoordinateStates:
    """Coordinate values and speeds at ``times`` as OpenSim's ID and Analyze tools compute them:
    pad, IIR low-pass, radians, 5th-order GCV splines and their first derivative (evaluated by
    OpenSim at the knots, which are the frames)."""
    osim = opensim()
    store = osim.Storage(str(coordinates_path))
    if cutoff_hz >= 0:
        store.pad(store.getSize() // 2)
        store.lowpassIIR(cutoff_hz)
    if store.isInDegrees():
        model.getSimbodyEngine().convertDegreesToRadians(store)
    splines = osim.GCVSplineSet(5, store)
    tables = [splines.constructStorage(order) for order in (0, 1)]
    labels = tables[0].getColumnLabels()
    names = [labels.get(i) for i in range(1, labels.getSize())]
    knot_times = osim.ArrayDouble()
    tables[0].getTimeColumn(knot_times)
    knots = np.array([knot_times.get(i) for i in range(knot_times.getSize())])
    rows = np.abs(knots[None, :] - np.asarray(times)[:, None]).argmin(axis=1)
    if np.any(np.abs(knots[rows] - times) > 1e-6):
        raise ValueError(f"{coordinates_path}: requested times are not frames of the file")
    out = []
    for table in tables:
        values = np.empty((len(rows), len(names)))
        for i, row in enumerate(rows):
            data = table.getStateVector(int(row)).getData()
            values[i] = [data.get(j) for j in range(len(names))]
        out.append(values)
    return CoordinateStates(np.asarray(times, dtype=float), names, out[0], out[1])


@dataclass
class ActuatorLayout:
    """The model's actuators as QP columns: muscles first (model order), then coordinate actuators."""

    muscles: list[str]
    coord_actuators: list[str]
    coord_actuator_targets: list[str]
    optimal_force: np.ndarray   # (n_coord_actuators,)
    lower: np.ndarray
    upper: np.ndarray


def _layout(model) -> ActuatorLayout:
    osim = opensim()
    acts = model.getActuators()
    muscles, cas, targets, fopt, lo_m, hi_m, lo_c, hi_c = [], [], [], [], [], [], [], []
    for i in range(acts.getSize()):
        act = acts.get(i)
        muscle = osim.Muscle.safeDownCast(act)
        if muscle is not None:
            muscles.append(muscle.getName())
            lo_m.append(muscle.getMinControl())
            hi_m.append(muscle.getMaxControl())
            continue
        ca = osim.CoordinateActuator.safeDownCast(act)
        if ca is None:
            raise ValueError(f"fast static optimization supports muscles and CoordinateActuators, "
                             f"not {act.getConcreteClassName()} ({act.getName()})")
        cas.append(ca.getName())
        targets.append(ca.get_coordinate())
        fopt.append(ca.getOptimalForce())
        lo_c.append(ca.getMinControl())
        hi_c.append(ca.getMaxControl())
    return ActuatorLayout(muscles, cas, targets, np.array(fopt), np.array(lo_m + lo_c), np.array(hi_m + hi_c))


def _speed_index(model, state) -> dict[str, int]:
    """Coordinate name -> index of its generalized speed in the state's U vector."""
    coords = model.getCoordinateSet()
    out = {}
    for i in range(coords.getSize()):
        state.updU().setToZero()
        coords.get(i).setSpeedValue(state, 1.0)
        out[coords.get(i).getName()] = int(np.argmax(np.abs(state.getU().to_numpy())))
    state.updU().setToZero()
    return out


def _couplers(model) -> list[tuple[str, str, object]]:
    """(dependent, independent, function) of each single-input CoordinateCouplerConstraint."""
    osim = opensim()
    out = []
    cset = model.getConstraintSet()
    for i in range(cset.getSize()):
        cc = osim.CoordinateCouplerConstraint.safeDownCast(cset.get(i))
        if cc is None:
            continue
        indep = cc.getIndependentCoordinateNames()
        if indep.getSize() != 1:
            raise ValueError(f"coupler {cc.getName()}: only single-input couplers are supported")
        out.append((cc.getDependentCoordinateName(), indep.get(0), cc.getFunction()))
    return out


@dataclass
class MuscleGeometry:
    """Per-frame quantities the QP needs, for the free (independent, unlocked) coordinates."""

    time: np.ndarray
    dofs: list[str]
    moment_arms: np.ndarray      # (T, n_dofs, n_muscles), m
    active_force: np.ndarray     # (T, n_muscles), N at full activation along the tendon
    coupling: np.ndarray         # (T, n_dofs, n_coords): generalized force fold-in of coupled coords
    states: CoordinateStates     # the IK coordinate values and speeds at ``time``
    setup_seconds: float         # system, splines: once per call
    seconds: float               # the per-frame loop


def muscle_geometry(model, coordinates_path: Path, times: np.ndarray, cutoff_hz: float = 6.0) -> MuscleGeometry:
    """Moment arms and full-activation active forces of every muscle at ``times``."""
    osim = opensim()
    started = time.perf_counter()
    state = model.initSystem()
    states = coordinate_states(model, coordinates_path, cutoff_hz, np.asarray(times))
    coords = model.getCoordinateSet()
    names = [coords.get(i).getName() for i in range(coords.getSize())]
    uidx = _speed_index(model, state)
    dofs = [n for n in names if not coords.get(n).getLocked(state) and not coords.get(n).isDependent(state)]
    couplers = _couplers(model)
    muscles = model.getMuscles()
    n_mus = muscles.getSize()
    paths = [muscles.get(i).getGeometryPath() for i in range(n_mus)]
    muscle_list = [muscles.get(i) for i in range(n_mus)]
    matter = model.getMatterSubsystem()
    n_bodies = model.getBodySet().getSize() + 1
    zero_sv = osim.SpatialVec(osim.Vec3(0.0), osim.Vec3(0.0))
    deriv = osim.StdVectorInt()
    deriv.append(0)
    pose = states.poser(model, state)
    T = len(times)
    R = np.zeros((T, len(dofs), n_mus))
    F = np.zeros((T, n_mus))
    coupling = np.zeros((T, len(dofs), len(names)))
    dof_row = {n: k for k, n in enumerate(dofs)}
    coord_col = {n: k for k, n in enumerate(names)}
    u_of_dof = np.array([uidx[n] for n in dofs])
    genf = osim.Vector()
    unit_forces = np.zeros((n_mus, state.getNU()))
    setup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(len(times)):
        pose(i)
        model.realizeVelocity(state)
        # v_j: velocity of the whole system when free coordinate j moves at unit speed (couplers follow)
        fold = np.zeros((len(dofs), state.getNU()))
        fold[np.arange(len(dofs)), u_of_dof] = 1.0
        coupling[i, np.arange(len(dofs)), [coord_col[n] for n in dofs]] = 1.0
        for dep, ind, fn in couplers:
            if ind in dof_row:
                slope = fn.calcDerivative(deriv, osim.Vector(1, coords.get(ind).getValue(state)))
                fold[dof_row[ind], uidx[dep]] += slope
                coupling[i, dof_row[ind], coord_col[dep]] += slope
        for k in range(n_mus):  # generalized forces of a unit tension in each muscle
            body_forces = osim.VectorOfSpatialVec(n_bodies, zero_sv)
            mobility = osim.Vector(state.getNU(), 0.0)
            paths[k].addInEquivalentForces(state, 1.0, body_forces, mobility)
            matter.multiplyBySystemJacobianTranspose(state, body_forces, genf)
            unit_forces[k] = genf.to_numpy() + mobility.to_numpy()
            F[i, k] = muscle_list[k].calcInextensibleTendonActiveFiberForce(state, 1.0)
        R[i] = fold @ unit_forces.T
    times = np.asarray(times)
    for values, what in ((R, "moment arms"), (F, "active forces")):
        _bridge_path_failures(values, times, what, coordinates_path)
    return MuscleGeometry(times, dofs, R, F, coupling, states, setup_seconds, time.perf_counter() - started)


def _bridge_path_failures(values: np.ndarray, times: np.ndarray, what: str, source: Path) -> None:
    """Replace, in place, non-finite entries of ``values`` (T, ...) by linear interpolation over time of the
    finite frames: OpenSim returns NaN where a path's wrapping fails at one pose (seen: biceps long head on
    one frame of a walk), which would turn the whole sequence's SO and audit into NaN."""
    flat = values.reshape(len(times), -1)
    finite = np.isfinite(flat)
    broken_frames = int((~finite).any(axis=1).sum())
    for column in np.where(~finite.all(axis=0))[0]:
        ok = finite[:, column]
        flat[:, column] = np.interp(times, times[ok], flat[ok, column]) if ok.any() else 0.0
    if broken_frames:
        log.warning("%s: non-finite muscle %s on %d frames (path wrapping failed), interpolated over time",
                    source, what, broken_frames)


SEQUENCE_TOL = 1e-7
"""Convergence tolerance of the smoothed sequence solve (relative equality residual, complementarity)."""


def compliant_model(model_path: str | os.PathLike):
    """The model at ``model_path`` with every muscle's tendon compliant and its activation a state that can be
    set, and its initialised state."""
    model = load_model(Path(model_path))
    muscles = model.getMuscles()
    for k in range(muscles.getSize()):
        muscles.get(k).set_ignore_tendon_compliance(False)
        muscles.get(k).set_ignore_activation_dynamics(False)
    return model, model.initSystem()


def compliant_active_force(model_path: str | os.PathLike, states: CoordinateStates, activations: np.ndarray,
                           rigid: np.ndarray, floor: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Active fibre force along the tendon per unit activation (T, muscles), N, with compliant tendons, and the
    frames (T,) bool where OpenSim's equilibrium failed and the ``rigid``-tendon force (T, muscles) stands in.

    Each muscle of the model at ``model_path`` is set to its activation in ``activations`` (T, muscles; at
    least ``floor``) at the IK pose and speeds of each frame (``states``, e.g. a :class:`MuscleGeometry`'s);
    OpenSim's ``equilibrateMuscles`` then stretches each tendon along its own force-strain curve, and
    ``getActiveFiberForceAlongTendon / activation`` is the force the fibre gives at the length left to it. A
    long tendon (soleus, gastrocnemii) so shortens a fibre that a rigid tendon would leave far down its
    force-length curve in mid-stance. At fast arm motions (dance, spin) Millard's fibre-velocity Newton
    iteration can fail for a muscle; such a frame keeps the rigid-tendon forces.
    """
    model, state = compliant_model(model_path)
    muscles = model.getMuscles()
    pose = states.poser(model, state)
    muscle_list = [muscles.get(k) for k in range(muscles.getSize())]
    levels = np.clip(activations, floor, 1.0)
    force = np.array(rigid, dtype=float)
    failed = np.zeros(len(levels), bool)
    for i in range(len(levels)):
        pose(i)
        for muscle, level in zip(muscle_list, levels[i]):
            muscle.setActivation(state, float(level))
        try:
            model.equilibrateMuscles(state)
            model.realizeDynamics(state)
        except RuntimeError:
            failed[i] = True
            continue
        force[i] = [muscle.getActiveFiberForceAlongTendon(state) / level
                    for muscle, level in zip(muscle_list, levels[i])]
    if failed.any():
        log.warning("%s: muscle equilibrium failed on %d of %d frames; they keep rigid-tendon forces",
                    model_path, failed.sum(), len(levels))
    _bridge_path_failures(force, states.times, "compliant active forces", Path(model_path))
    return force, failed


def _solve_frames(A: np.ndarray, tau: np.ndarray, lower: np.ndarray, upper: np.ndarray, tol: float,
                  infeasible_tolerance: float) -> tuple[QPSolution, np.ndarray]:
    """The frame-wise SO of ``A x = tau`` and the targets it met: ``tau``, or on frames the actuators cannot
    meet (unexplained moment above ``infeasible_tolerance``) the nearest forces they can produce."""
    solution = solve_batched_qp(A, tau, lower, upper, tol=tol)
    infeasible = solution.violation > infeasible_tolerance
    targets = tau.copy()
    if infeasible.any():
        # an unmet frame's last interior-point iterate is solver noise (it moved by up to 0.99 with the memory
        # layout of A): solve such frames for the nearest forces the actuators can produce instead
        targets[infeasible] = closest_feasible(A[infeasible], tau[infeasible], lower, upper)
        solution.x[infeasible] = solve_batched_qp(A[infeasible], targets[infeasible], lower, upper, tol=tol).x
        solution.violation = np.linalg.norm(_mv(A, solution.x) - tau, axis=1)
    return solution, targets


def closest_feasible(A: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                     margin: float = 1e-3) -> np.ndarray:
    """Generalized forces nearest to ``b`` (T, m) that the actuators can produce within their bounds.

    Bounded least squares (``scipy.optimize.lsq_linear``) per frame, the solution then pulled
    ``margin`` of each bounded range inside its bounds, so the returned targets ``A x`` (T, m) leave
    the smoothed sequence problem a strictly feasible point.
    """
    from scipy.optimize import lsq_linear

    out = np.empty_like(b)
    bounded = np.isfinite(lower) & np.isfinite(upper)
    span = np.where(bounded, upper - np.where(bounded, lower, 0.0), 0.0)
    inner_lo = np.where(bounded, lower + margin * span, lower)
    inner_hi = np.where(bounded, upper - margin * span, upper)
    for t in range(len(b)):
        x = lsq_linear(A[t], b[t], bounds=(lower, upper), method="bvls").x
        out[t] = A[t] @ np.clip(x, inner_lo, inner_hi)
    return out


def run_fast_static_optimization(model_path: str | os.PathLike, coordinates_path: str | os.PathLike,
                                 id_path: str | os.PathLike, output_path: str | os.PathLike | None = None,
                                 time_range: tuple[float, float] | None = None, cutoff_hz: float = 6.0,
                                 reserves: ReserveSpec | None = None, tol: float = 1e-9,
                                 smoothness_s: float = 0.0, infeasible_tolerance: float = 1e-2,
                                 tendon_compliance: bool = False) -> StaticOptimizationResult:
    """Static optimization of the frames of an inverse-dynamics result ``id_path`` (exponent 2).

    ``coordinates_path`` and ``cutoff_hz`` must be those the ID was run with. Writes muscle
    activations to ``output_path`` (if given) in the same layout as the OpenSim wrapper.

    With ``smoothness_s`` ``tau > 0`` the sequence is also solved as one problem whose objective adds
    ``(tau / dt) ** 2 * 0.5 sum_t ||a_t - a_{t-1}||^2`` over the muscle activations (``dt`` the frame
    interval: a penalty on ``tau * da/dt`` independent of the frame rate), the ID generalized forces
    still met exactly at every frame. Those activations are ``result.smoothed``.

    With ``tendon_compliance`` the muscles' full-activation forces are recomputed with compliant tendons at
    the rigid-tendon solution's activations (:func:`compliant_active_force`) and both solves use them; the
    returned ``geometry.active_force`` is then that compliant force per unit activation.

    Frames the actuators cannot meet (unexplained moment above ``infeasible_tolerance`` N m in the
    frame-wise solve) aim at the nearest forces they can produce (:func:`closest_feasible`), in both
    solves: their raw activations are the least-effort way to produce those forces, not a solver's
    last iterate.
    """
    started = time.perf_counter()
    reserves = reserves or ReserveSpec()
    model_path, coordinates_path = Path(model_path), Path(coordinates_path)
    model = load_model(model_path)
    reserve_set = reserves.actuators(model)
    add_reserves(model, reserve_set)
    model.finalizeFromProperties()
    layout = _layout(model)
    id_table = read_storage(id_path)
    if time_range is not None:
        id_table = id_table.slice_time(*time_range)
    if len(id_table.time) == 0:
        raise ValueError(f"{id_path}: no inverse-dynamics frames in the time range {time_range}")
    if not np.all(np.isfinite(id_table.data)):
        raise ValueError(f"{id_path}: non-finite generalized forces")
    geo = muscle_geometry(model, coordinates_path, id_table.time, cutoff_hz)
    names = [model.getCoordinateSet().get(i).getName() for i in range(model.getCoordinateSet().getSize())]
    tau_all = np.stack([id_table.column(generalized_force_label(model, n)) if
                        generalized_force_label(model, n) in id_table.labels else np.zeros(len(id_table.time))
                        for n in names], axis=1)
    tau = np.einsum("tdc,tc->td", geo.coupling, tau_all)
    T, n_dof = tau.shape
    ca_cols = np.zeros((n_dof, len(layout.coord_actuators)))
    row = {n: k for k, n in enumerate(geo.dofs)}
    for k, (target, fopt) in enumerate(zip(layout.coord_actuator_targets, layout.optimal_force)):
        if target in row:
            ca_cols[row[target], k] = fopt
    n_mus = len(layout.muscles)

    def system() -> np.ndarray:
        return np.concatenate([geo.moment_arms * geo.active_force[:, None, :],
                               np.broadcast_to(ca_cols, (T, *ca_cols.shape))], axis=2)

    qp_started = time.perf_counter()
    A = system()
    solution, targets = _solve_frames(A, tau, layout.lower, layout.upper, tol, infeasible_tolerance)
    compliance_seconds, rigid_tendon_frames = 0.0, np.zeros(T, bool)
    if tendon_compliance:
        compliance_started = time.perf_counter()
        geo.active_force, rigid_tendon_frames = compliant_active_force(
            model_path, geo.states, solution.x[:, :n_mus], geo.active_force)
        compliance_seconds = time.perf_counter() - compliance_started
        A = system()
        solution, targets = _solve_frames(A, tau, layout.lower, layout.upper, tol, infeasible_tolerance)
    qp_seconds = time.perf_counter() - qp_started - compliance_seconds
    smoothed = None
    if smoothness_s > 0 and T > 1:
        dt = float(np.median(np.diff(id_table.time)))
        is_muscle = np.arange(A.shape[2]) < n_mus
        sequence = solve_batched_qp(A, targets, layout.lower, layout.upper, tol=SEQUENCE_TOL, max_iterations=100,
                                    smooth_weight=(smoothness_s / dt) ** 2, smooth=is_muscle, start=solution.x)
        if not sequence.converged.all():
            log.warning("%s: smoothed SO did not converge in %d iterations", id_path, sequence.iterations)
        smoothed = StorageTable(id_table.time, layout.muscles, np.clip(sequence.x[:, :n_mus], 0.0, 1.0),
                                name="activations", header_lines=["activation_exponent=2.0",
                                                                  f"smoothness_s={smoothness_s}"])
    seconds = time.perf_counter() - started
    table = StorageTable(id_table.time, layout.muscles, solution.x[:, :n_mus],
                         name="static_optimization_activations", header_lines=["activation_exponent=2.0"])
    if output_path is not None:
        write_storage(output_path, table)
    timings = {"setup_s": geo.setup_seconds, "geometry_s": geo.seconds, "compliance_s": compliance_seconds,
               "qp_s": qp_seconds,
               "qp_iterations": solution.iterations, "smoothed_qp_s": seconds - (qp_started - started) - qp_seconds}
    log.info("fast SO: %d frames in %.2f s (%s)", T, seconds, timings)
    controls = StorageTable(id_table.time, layout.coord_actuators, solution.x[:, n_mus:])
    return StaticOptimizationResult(table, controls, solution.violation, seconds, timings,
                                    reserve_torques=reserve_torques(controls, reserve_set), smoothed=smoothed,
                                    moments=StorageTable(id_table.time, geo.dofs, tau, name="generalized_forces"),
                                    geometry=geo, rigid_tendon_frames=rigid_tendon_frames)
