"""Batched static optimization: OpenSim's problem, many frames at once, in numpy.

Same problem as :func:`builder.biosim.static_optimization.run_static_optimization` with exponent
2: per frame, minimise ``sum(x ** 2)`` over muscle activations and coordinate-actuator controls
subject to ``A x = tau`` (``tau`` the inverse-dynamics generalized forces of the free coordinates)
and the actuators' control bounds. Column ``m`` of ``A`` is

* for a muscle: its moment arms times its active fibre force at full activation along the
  tendon with a rigid tendon (``calcInextensibleTendonActiveFiberForce(s, 1)``, passive force
  excluded, as OpenSim's ``use_muscle_physiology``);
* for a coordinate actuator (model actuators and reserves): its optimal force on its coordinate.

Moment arms are exact and cheap: one ``addInEquivalentForces`` (unit tension) and one Jacobian-
transpose product per muscle and frame give the muscle's generalized forces on every coordinate at
once (OpenSim's ``computeMomentArm`` redoes that work per coordinate); coupled coordinates (the
patella) fold in through the coupler's derivative. The QP is solved for all frames together by a
semismooth Newton method on its dual: ``x(lambda) = clip(A^T lambda, lo, hi)``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.biosim.inverse_dynamics import generalized_force_label
from builder.biosim.opensim_model import load_model, opensim
from builder.biosim.static_optimization import ReserveSpec, StaticOptimizationResult, add_reserves
from builder.biosim.storage import StorageTable, read_storage, write_storage

log = logging.getLogger(__name__)


@dataclass
class QPSolution:
    x: np.ndarray            # (T, n) actuator controls / activations
    violation: np.ndarray    # (T,) ||A x - b||
    iterations: int
    converged: np.ndarray    # (T,) bool


def solve_batched_qp(A: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                     tol: float = 1e-9, max_iterations: int = 200) -> QPSolution:
    """Solve ``min 0.5 ||x||^2  s.t.  A x = b, lower <= x <= upper`` for every frame.

    ``A`` (T, m, n), ``b`` (T, m), bounds (n,). Dual ascent with semismooth Newton steps and a
    batched Armijo line search; a frame converges when ``||A x - b||_inf <= tol * (1 + ||b||_inf)``.
    Infeasible frames do not converge and keep a large violation.
    """
    T, m, n = A.shape
    At = np.swapaxes(A, 1, 2)
    threshold = tol * (1.0 + np.abs(b).max(axis=1))

    def primal(lam):
        z = np.einsum("tnm,tm->tn", At, lam)
        return z, np.clip(z, lower, upper)

    def dual(lam, x):
        return 0.5 * np.einsum("tn,tn->t", x, x) - np.einsum("tm,tm->t", lam, np.einsum("tmn,tn->tm", A, x) - b)

    gram = np.einsum("tmn,tkn->tmk", A, A)
    lam = np.linalg.solve(gram + 1e-12 * np.eye(m), b[..., None])[..., 0]
    eye = np.eye(m)
    steps = 0.5 ** np.arange(12)
    converged = np.zeros(T, dtype=bool)
    for iteration in range(1, max_iterations + 1):
        z, x = primal(lam)
        grad = b - np.einsum("tmn,tn->tm", A, x)
        converged = np.abs(grad).max(axis=1) <= threshold
        if converged.all():
            break
        free = ((z > lower) & (z < upper)).astype(A.dtype)
        hess = np.einsum("tmn,tn,tkn->tmk", A, free, A)
        scale = np.maximum(np.trace(hess, axis1=1, axis2=2) / m, 1e-12)
        delta = np.linalg.solve(hess + (1e-10 * scale)[:, None, None] * eye, grad[..., None])[..., 0]
        g0 = dual(lam, x)
        slope = np.einsum("tm,tm->t", grad, delta)
        chosen = np.full(T, steps[-1])
        found = np.zeros(T, dtype=bool)
        for alpha in steps:
            trial = lam + alpha * delta
            ok = dual(trial, primal(trial)[1]) >= g0 + 1e-4 * alpha * slope
            chosen = np.where(ok & ~found, alpha, chosen)
            found |= ok
            if found.all():
                break
        lam = np.where(converged[:, None], lam, lam + chosen[:, None] * delta)
    _, x = primal(lam)
    violation = np.linalg.norm(np.einsum("tmn,tn->tm", A, x) - b, axis=1)
    return QPSolution(x, violation, iteration, converged)


def _coordinate_splines(model, coordinates_path: Path, cutoff_hz: float):
    """The tools' processing of a coordinates file: pad, IIR low-pass, radians, 5th-order GCV splines."""
    osim = opensim()
    store = osim.Storage(str(coordinates_path))
    if cutoff_hz >= 0:
        store.pad(store.getSize() // 2)
        store.lowpassIIR(cutoff_hz)
    if store.isInDegrees():
        model.getSimbodyEngine().convertDegreesToRadians(store)
    return osim.GCVSplineSet(5, store)


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
    seconds: float


def muscle_geometry(model, coordinates_path: Path, times: np.ndarray, cutoff_hz: float = 6.0) -> MuscleGeometry:
    """Moment arms and full-activation active forces of every muscle at ``times``."""
    osim = opensim()
    started = time.perf_counter()
    state = model.initSystem()
    splines = _coordinate_splines(model, coordinates_path, cutoff_hz)
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
    fns = [splines.get(n) if splines.contains(n) else None for n in names]
    T = len(times)
    R = np.zeros((T, len(dofs), n_mus))
    F = np.zeros((T, n_mus))
    coupling = np.zeros((T, len(dofs), len(names)))
    dof_row = {n: k for k, n in enumerate(dofs)}
    coord_col = {n: k for k, n in enumerate(names)}
    u_of_dof = np.array([uidx[n] for n in dofs])
    genf = osim.Vector()
    for i, t in enumerate(times):
        tv = osim.Vector(1, float(t))
        for j, fn in enumerate(fns):
            if fn is None:
                continue
            coords.get(j).setValue(state, fn.calcValue(tv), False)
            coords.get(j).setSpeedValue(state, fn.calcDerivative(deriv, tv))
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
        for k in range(n_mus):
            body_forces = osim.VectorOfSpatialVec(n_bodies, zero_sv)
            mobility = osim.Vector(state.getNU(), 0.0)
            paths[k].addInEquivalentForces(state, 1.0, body_forces, mobility)
            matter.multiplyBySystemJacobianTranspose(state, body_forces, genf)
            R[i, :, k] = fold @ (genf.to_numpy() + mobility.to_numpy())
            F[i, k] = muscle_list[k].calcInextensibleTendonActiveFiberForce(state, 1.0)
    return MuscleGeometry(np.asarray(times), dofs, R, F, coupling, time.perf_counter() - started)


def run_fast_static_optimization(model_path: str | os.PathLike, coordinates_path: str | os.PathLike,
                                 id_path: str | os.PathLike, output_path: str | os.PathLike | None = None,
                                 time_range: tuple[float, float] | None = None, cutoff_hz: float = 6.0,
                                 reserves: ReserveSpec = ReserveSpec(), tol: float = 1e-9,
                                 ) -> StaticOptimizationResult:
    """Static optimization of the frames of an inverse-dynamics result ``id_path`` (exponent 2).

    ``coordinates_path`` and ``cutoff_hz`` must be those the ID was run with. Writes muscle
    activations to ``output_path`` (if given) in the same layout as the OpenSim wrapper.
    """
    model_path, coordinates_path = Path(model_path), Path(coordinates_path)
    model = load_model(model_path)
    add_reserves(model, reserves.actuators(model))
    model.finalizeConnections()
    layout = _layout(model)
    id_table = read_storage(id_path)
    if time_range is not None:
        id_table = id_table.slice_time(*time_range)
    if len(id_table.time) == 0:
        raise ValueError(f"{id_path}: no inverse-dynamics frames in the time range {time_range}")
    if not np.all(np.isfinite(id_table.data)):
        raise ValueError(f"{id_path}: non-finite generalized forces")
    started = time.perf_counter()
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
    A = np.concatenate([geo.moment_arms * geo.active_force[:, None, :],
                        np.broadcast_to(ca_cols, (T, *ca_cols.shape))], axis=2)
    solution = solve_batched_qp(A, tau, layout.lower, layout.upper, tol=tol)
    seconds = time.perf_counter() - started
    n_mus = len(layout.muscles)
    table = StorageTable(id_table.time, layout.muscles, solution.x[:, :n_mus],
                         name="static_optimization_activations", header_lines=["activation_exponent=2.0"])
    if output_path is not None:
        write_storage(output_path, table)
    log.info("fast SO: %d frames in %.2f s (geometry %.2f s, QP %d iterations)", T, seconds, geo.seconds,
             solution.iterations)
    return StaticOptimizationResult(table, StorageTable(id_table.time, layout.coord_actuators, solution.x[:, n_mus:]),
                                    solution.violation, seconds)
