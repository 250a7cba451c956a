"""Residual reduction of the root: shift the pelvis so that the motion's whole-body acceleration is one a
floor can produce.

The external force a motion needs is its centre of mass's acceleration (Newton): ``F = m (c'' - g)``.
Motion capture and animation carry errors that no floor explains. DeepMimic's run clip drops its root's
vertical velocity by 1.23 m/s in one frame just before touchdown (-3.8 g, in flight) and its forward velocity
by 0.89 m/s in the next (a 2.7 g brake); retargeted through Anny and IK, its centre of mass jumps 1-5 cm in
one frame. Low-passed at 6 Hz that is -2 g in flight and +-1 BW of horizontal force in stance: put on the
foot it asks 500-800 N m of the hip (2-3x a runner's), put in the pelvis residual it masks every flight
frame. DeepMimic's walk sways its centre of mass sideways 3.7x as hard as the real walk; the feet carry that
as hip adduction moments that saturate the abductors around each double support.

Like OpenSim's residual reduction algorithm (RRA), which adjusts the pelvis kinematics so that the loads
explain the motion, :func:`reduce_root_residuals` adds a small offset ``d`` (T, 3) to the pelvis translations
(ground-frame coordinates: the centre of mass moves by ``d``) so that the low-passed acceleration of
``c + d`` (the filter of inverse dynamics, as a matrix) meets a force the floor can give: zero in flight;
in contact a vertical force >= 0 and, from :class:`~builder.biosim.grf_contact.ContactGRFEstimator`
(inverted pendulum, no per-stance ML lean fitted to the motion's own momentum), a horizontal force in the
ratio the pendulum gives it to the vertical one. Least squares: the remaining force error (per body weight)
against ``d / shift_scale``, alternated with the projection of the force onto those limits until ``d``
settles. Joint angles, and so muscle geometry, do not change; the record keeps the shift and the force error
before and after. A motion that needs more than :data:`MAX_SHIFT_M` is left as it is.

Measured on the default build's DeepMimic walk and run (5 Anny subjects each; dynamics rerun with
``DynamicsSettings(root_reduction=True)``): the run is kept on every subject (valid frames 11-25 % -> 49-63 %;
hip share of the joint moments on valid frames .17-.31 -> .10-.22, raw saturation 15-18 % -> 5.5-9.7 %); the
walks' raw saturation falls from 0.9-1.7 % to 0.1-0.9 % and their hip share from .04-.05 to <= .014; the
gaitkit walk's tibialis anterior swing timing passes. Against that, the embedded DeepMimic walk's tibialis
anterior swing / mid-stance ratio drops from >= 1.5 to 1.38 and the walks' lumbar share rises from <= .05
to .05-.12 (a rigid shift of the whole body loads the trunk too), so it is an option (``--root-reduction``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import scipy.linalg
from scipy.interpolate import CubicSpline

from builder.biosim.body_kinematics import lowpass, sample_body_kinematics
from builder.biosim.grf_contact import ContactGRFEstimator
from builder.biosim.storage import read_storage, write_storage

ROOT_TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")
"""The root's ground-frame translation coordinates (m) of ULBS-112 and Rajagopal2016."""


def acceleration_operator(time: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """(T, T) matrix taking a raw trajectory (T,) to its acceleration after the zero-lag low-pass at
    ``cutoff_hz`` that inverse dynamics applies (cubic-spline second derivative, as the estimators)."""
    identity = np.eye(len(time))
    fps = 1.0 / float(np.median(np.diff(time)))
    return CubicSpline(time, lowpass(identity, fps, cutoff_hz), axis=0)(time, 2)


def floor_force(force: np.ndarray, grounded: np.ndarray, lean: np.ndarray) -> np.ndarray:
    """The force (T, 3) the floor can give closest to ``force`` (T, 3, N, y up): zero where not ``grounded``
    (T,), else a vertical force >= 0 with horizontal (x, z) components ``lean`` (T, 2) times it."""
    vertical = np.where(grounded, np.maximum(force[:, 1], 0.0), 0.0)
    out = np.zeros_like(force)
    out[:, 1] = vertical
    out[:, [0, 2]] = lean * vertical[:, None]
    return out


def root_shift(operator: np.ndarray, com: np.ndarray, mass: float, gravity: np.ndarray, grounded: np.ndarray,
               lean: np.ndarray, shift_scale: float = 0.1, tolerance_m: float = 1e-7,
               max_iterations: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offset ``d`` (T, 3, m) of the centre of mass ``com`` (T, 3) minimising
    ``sum |m (K (com + d) - g) - P|^2 / W^2 + sum |d|^2 / shift_scale^2`` with ``K`` the acceleration
    ``operator`` (T, T), ``W`` the body weight and ``P`` the :func:`floor_force` nearest the force (alternating
    projections). Returns ``d`` and the force error (T, N) the floor leaves before and after."""
    weight = mass * float(np.linalg.norm(gravity))
    acceleration = operator @ com
    normal = (mass / weight) ** 2 * operator.T @ operator + np.eye(len(com)) / shift_scale ** 2
    factor = scipy.linalg.cho_factor(normal)

    def needed(shift):
        return mass * (acceleration + operator @ shift - gravity)

    before = needed(np.zeros_like(com))
    shift = np.zeros_like(com)
    for _ in range(max_iterations):
        target = floor_force(needed(shift), grounded, lean)
        rhs = (mass / weight) ** 2 * operator.T @ (target / mass + gravity - acceleration)
        updated = scipy.linalg.cho_solve(factor, rhs)
        done = np.abs(updated - shift).max() < tolerance_m
        shift = updated
        if done:
            break
    after = needed(shift)
    return (shift, np.linalg.norm(before - floor_force(before, grounded, lean), axis=1),
            np.linalg.norm(after - floor_force(after, grounded, lean), axis=1))


def pendulum_estimator(estimator: object) -> ContactGRFEstimator:
    """The contact estimator (``estimator``'s settings when it is one) with the pendulum kept on every gait
    stance and no ML lean fitted to the motion's momentum: the floor's horizontal force for a runner or walker."""
    base = estimator if isinstance(estimator, ContactGRFEstimator) else ContactGRFEstimator()
    return dataclasses.replace(base, pendulum_tolerance=float("inf"), lean_ridge=1e9)


MAX_SHIFT_M = 0.05
"""m: the largest pelvis shift applied. The walks need <= 1.5 cm, the run <= 3.6 cm, the kick <= 3.8 cm;
DeepMimic's backflip asks 9 cm (its flights are far from ballistic) and then loses more frames to the
residual check than it keeps: beyond this the motion itself is not physical, and stays as it is."""


def reduce_root_residuals(model_path: str | os.PathLike, coordinates_path: str | os.PathLike,
                          out_path: str | os.PathLike, estimator: object = None, cutoff_hz: float = 6.0,
                          shift_scale: float = 0.1, max_shift_m: float = MAX_SHIFT_M) -> dict:
    """Write ``coordinates_path`` with its pelvis translations shifted (:func:`root_shift`) to ``out_path``
    unless the shift exceeds ``max_shift_m`` somewhere; the contact and horizontal-to-vertical force ratios
    come from :func:`pendulum_estimator` of ``estimator``. Returns diagnostics: whether the shift was
    ``applied``, its max and RMS per axis (m) and the RMS force error (BW) the floor leaves before and after."""
    model_path, coordinates_path = Path(model_path), Path(coordinates_path)
    loads = pendulum_estimator(estimator).estimate(model_path, coordinates_path)
    total = loads.force.sum(axis=1)
    grounded = loads.contact.any(axis=1)
    loaded = total[:, 1] > 1e-6 * loads.body_weight
    lean = np.where(loaded[:, None], total[:, [0, 2]] / np.where(loaded, total[:, 1], 1.0)[:, None], 0.0)
    kin = sample_body_kinematics(model_path, coordinates_path, cutoff_hz=0.0)
    shift, before, after = root_shift(acceleration_operator(kin.time, cutoff_hz), kin.com, kin.mass, kin.gravity,
                                      grounded, lean, shift_scale)
    weight = kin.body_weight
    diagnostics = {"applied": bool(np.abs(shift).max() <= max_shift_m),
                   "shift_max_m": [float(v) for v in np.abs(shift).max(axis=0)],
                   "shift_rms_m": [float(v) for v in np.sqrt(np.mean(shift ** 2, axis=0))],
                   "force_error_rms_bw": {"before": float(np.sqrt(np.mean(before ** 2)) / weight),
                                          "after": float(np.sqrt(np.mean(after ** 2)) / weight)}}
    if not diagnostics["applied"]:
        return diagnostics
    table = read_storage(coordinates_path)
    missing = [name for name in ROOT_TRANSLATIONS if name not in table.labels]
    if missing:
        raise ValueError(f"{coordinates_path}: no root translation columns {missing}")
    for axis, name in enumerate(ROOT_TRANSLATIONS):
        table.data[:, table.labels.index(name)] += shift[:, axis]
    write_storage(out_path, table)
    return diagnostics
