"""Ground reaction forces (GRF) from kinematics, written as OpenSim external loads.

``GRFEstimator`` is the interface: ``estimate(model_path, coordinates_path) -> GroundReactions``
(loads per contact site: the two feet first, then any hands, knees... the estimator models). Built in,
needing no learned weights: ``"contact"`` (the default, :mod:`builder.biosim.grf_contact`) and
``"physics"``, the earlier :class:`PhysicsGRFEstimator`, kept for comparison
(``scripts/bench_grf.py`` prints both against force plates):

1. Whole-body external wrench by Newton-Euler on the model's momentum: with linear momentum
   ``P`` and angular momentum ``H_O`` about the ground origin (Simbody, from the low-pass-filtered
   IK coordinates and their spline derivatives), ``F = dP/dt - m g`` and
   ``M_O = dH_O/dt - c x (m g)`` (``c`` the centre of mass).
2. Foot contact from foot kinematics: a foot is in contact when its heel (foot body origin) or
   toe (toe body origin) is within ``contact_height`` of that point's floor level (a low
   percentile of its height over the sequence, the lower of the two feet) and moves slower than
   ``contact_speed`` horizontally, or is within ``strike_height`` and slower than ``strike_speed``.
   No foot in contact (flight) means zero GRF.
3. Double support: the smooth transition assumption (Ren et al. 2008): over a double-support
   interval the trailing foot's share of the wrench falls from 1 to 0 along a cubic smoothstep
   while the leading foot's rises. Intervals longer than ``max_transition`` (standing) are split
   by the lever rule instead: the shares that put the whole-body centre of pressure between the
   two feet. Vertical force and free moment follow these shares; horizontally each foot's force
   points at the centre of mass (the inverted-pendulum model of stance, which gives the opposite
   push-off and braking forces of the two feet), plus its share of what that leaves unexplained.
4. Centre of pressure (COP) of each foot: the whole-body COP (where the horizontal moment of the
   wrench vanishes on the floor plane) moved to the nearest point of that foot's heel-toe segment.
   What remains of the moment after placing the forces at the COPs is applied as a free moment;
   only its vertical part is kept (the free moment of a foot on the floor), the horizontal rest is
   reported as ``dropped_moment`` (it shows up as pelvis residual in inverse dynamics).

A learned estimator (e.g. GaitDynamics, whose weights are not distributed with this project)
plugs in by subclassing ``GRFEstimator`` and calling :func:`register_estimator`, or by naming it
as ``"package.module:Class"`` wherever an estimator name is taken (``biohuman dynamics --grf-estimator``).
"""

from __future__ import annotations

import abc
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from builder.biosim.body_kinematics import sample_body_kinematics
from builder.biosim.opensim_model import opensim
from builder.biosim.storage import StorageTable, write_storage
from builder.io import atomic_path

SIDES = ("r", "l")


@dataclass
class GroundReactions:
    """Ground reaction wrench per contact site (a foot, a hand, a knee) in ground (N, m, N m).

    Site ``k`` is applied to body ``bodies[k]`` and labelled ``labels[k]`` in the .mot columns; feet
    come first, labelled as ``SIDES`` (the column layout of OpenSim's ``grf_walk.mot``).
    """

    time: np.ndarray            # (T,)
    force: np.ndarray           # (T, N, 3)
    cop: np.ndarray             # (T, N, 3) point of application on the floor
    torque: np.ndarray          # (T, N, 3) free moment
    bodies: tuple[str, ...]
    body_weight: float          # N
    contact: np.ndarray | None = None   # (T, N) bool
    labels: tuple[str, ...] = SIDES
    residual_force: np.ndarray | None = None  # (T, 3): external force the motion needs minus the estimate
    diagnostics: dict = field(default_factory=dict)

    def total_force(self) -> np.ndarray:
        return self.force.sum(axis=1)

    def to_table(self) -> StorageTable:
        """Columns ``ground_force_<label>_vx`` ... ``ground_torque_<label>_z`` per site (``grf_walk.mot`` layout)."""
        labels, cols = [], []
        for k, label in enumerate(self.labels):
            for name, arr in ((f"ground_force_{label}_v", self.force), (f"ground_force_{label}_p", self.cop),
                              (f"ground_torque_{label}_", self.torque)):
                labels += [f"{name}{axis}" for axis in "xyz"]
                cols.append(arr[:, k, :])
        return StorageTable(self.time, labels, np.concatenate(cols, axis=1), name="ground_reactions")

    def contact_table(self) -> StorageTable:
        """Per frame: ``contact_<label>`` (1 on the floor, 0 not) per site, and the residual force
        (``residual_force_x/y/z`` in N, ``residual_force_bw`` its norm per body weight): what the motion's
        momentum needs beyond the estimated loads, i.e. the pelvis residual force of inverse dynamics."""
        n = len(self.time)
        contact = self.contact if self.contact is not None else np.zeros((n, len(self.labels)), bool)
        residual = self.residual_force if self.residual_force is not None else np.full((n, 3), np.nan)
        labels = [f"contact_{label}" for label in self.labels] + [f"residual_force_{a}" for a in "xyz"]
        data = np.concatenate([contact.astype(np.float64), residual,
                               np.linalg.norm(residual, axis=1, keepdims=True) / self.body_weight], axis=1)
        return StorageTable(self.time, labels + ["residual_force_bw"], data, name="ground_contact")

    def write(self, mot_path: str | os.PathLike, xml_path: str | os.PathLike,
              contact_path: str | os.PathLike | None = None) -> None:
        """Write the .mot data, the ExternalLoads .xml that references it by relative name and, when
        ``contact_path`` is given, :meth:`contact_table` there."""
        mot_path, xml_path = Path(mot_path), Path(xml_path)
        write_storage(mot_path, self.to_table())
        write_external_loads_xml(xml_path, mot_path, self.bodies, self.labels)
        if contact_path is not None:
            write_storage(contact_path, self.contact_table())


def write_external_loads_xml(xml_path: Path, mot_path: Path, bodies: tuple[str, ...],
                             labels: tuple[str, ...] = SIDES) -> None:
    """An OpenSim ExternalLoads file applying each site's force/COP/torque to its body."""
    osim = opensim()
    loads = osim.ExternalLoads()
    loads.setName("ground_reactions")
    for label, body in zip(labels, bodies):
        force = osim.ExternalForce()
        force.setName(f"{label}_ground_reaction")
        force.set_applied_to_body(body)
        force.set_force_expressed_in_body("ground")
        force.set_point_expressed_in_body("ground")
        force.set_force_identifier(f"ground_force_{label}_v")
        force.set_point_identifier(f"ground_force_{label}_p")
        force.set_torque_identifier(f"ground_torque_{label}_")
        loads.cloneAndAppend(force)
    rel = os.path.relpath(mot_path.resolve(), xml_path.resolve().parent)
    loads.setDataFileName(rel)
    with atomic_path(xml_path) as tmp:
        loads.printToXML(str(tmp))


class GRFEstimator(abc.ABC):
    """Estimates per-foot ground reactions of a motion of a model."""

    name: str = "base"

    @abc.abstractmethod
    def estimate(self, model_path: str | os.PathLike, coordinates_path: str | os.PathLike) -> GroundReactions:
        """Ground reactions at the frames of ``coordinates_path`` (an IK .mot of ``model_path``)."""


_REGISTRY: dict[str, Callable[..., GRFEstimator] | str] = {}


def register_estimator(name: str, factory: Callable[..., GRFEstimator] | str) -> None:
    """Make an estimator available by name (e.g. a GaitDynamics wrapper a user has weights for); ``factory``
    may be a ``"package.module:Class"`` string, imported on first use."""
    _REGISTRY[name] = factory


def make_estimator(name: str = "contact", **options) -> GRFEstimator:
    """The estimator ``name`` built with ``options``: a registered name, or ``"package.module:Class"``
    (imported on use, so worker processes of the runner find plug-in estimators too)."""
    if ":" in name and name not in _REGISTRY:
        module_name, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot import GRF estimator {name!r}: {exc}") from exc
        return factory(**options)
    if name not in _REGISTRY:
        raise ValueError(f"unknown GRF estimator {name!r}; registered: {sorted(_REGISTRY)}")
    factory = _REGISTRY[name]
    return make_estimator(factory, **options) if isinstance(factory, str) else factory(**options)


def smoothstep(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def transition_shares(t: np.ndarray, contact: np.ndarray, max_transition: float,
                      lever: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Each foot's share (T, 2) of the load: 1 in single support; over a double support of at most
    ``max_transition`` s between two single supports, the smooth transition assumption (Ren et al. 2008):
    the trailing foot's share falls from 1 to 0 along a cubic smoothstep; other double supports take
    ``lever(start, end)`` ((end - start + 1, 2) shares of frames start..end), and so do double supports cut by
    the start or end of the motion: how far such a transition had got is unknown, and taking its first frame
    as its start puts the whole load on the trailing foot there. Rows sum to 1 (0 in flight)."""
    n = len(t)
    share = contact.astype(np.float64)
    for start, end in _runs(contact.all(axis=1)):
        before, after = max(start - 1, 0), min(end + 1, n - 1)
        leaving = [k for k in range(2) if end + 1 < n and not contact[after, k]]
        arriving = [k for k in range(2) if start > 0 and not contact[before, k]]
        if t[end] - t[start] <= max_transition and leaving and arriving:
            trail = leaving[0]
            s = (t[start:end + 1] - t[before]) / max(t[after] - t[before], 1e-9)
            share[start:end + 1, trail] = 1.0 - smoothstep(s)
            share[start:end + 1, 1 - trail] = smoothstep(s)
        else:
            share[start:end + 1] = lever(start, end)
    return share / np.maximum(share.sum(axis=1, keepdims=True), 1e-12)


@dataclass
class PhysicsGRFEstimator(GRFEstimator):
    """Newton-Euler whole-body wrench, kinematic contact detection, smooth-transition split."""

    foot_bodies: tuple[str, str] = ("calcn_r", "calcn_l")
    toe_bodies: tuple[str, str] = ("toes_r", "toes_l")
    cutoff_hz: float = 6.0            # kinematics low-pass, the usual gait-analysis value
    contact_height: float = 0.05      # m above the point's floor level
    contact_speed: float = 1.0        # m/s horizontal speed of heel or toe
    strike_height: float = 0.02       # m: this close to the floor a point touches at up to
    strike_speed: float = 2.0         # m/s (a heel still sliding at strike, coarse frame rates)
    floor_percentile: float = 2.0
    max_transition: float = 0.4       # s; longer double support uses the lever rule
    min_vertical_fraction: float = 0.05  # of body weight: below it no COP is defined
    name: str = "physics"

    def estimate(self, model_path, coordinates_path) -> GroundReactions:
        kin = sample_body_kinematics(model_path, coordinates_path, self.cutoff_hz,
                                     bodies=(*self.foot_bodies, *self.toe_bodies))
        points = np.stack([np.stack([kin.points[heel], kin.points[toe]], axis=1)
                           for heel, toe in zip(self.foot_bodies, self.toe_bodies)], axis=1)  # (T, side, 2, 3)
        force, moment = kin.external_wrench()
        contact, floor = self._contact(points, kin.time)
        return self._distribute(kin.time, force, moment, kin.com, points, contact, floor, kin.body_weight)

    def _contact(self, points: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, float]:
        height = points[..., 1]                                   # (T, 2, 2)
        # each point's height when on the floor, shared by the two feet (mirror models): the foot
        # that touched down in the clip sets it, even if the other foot swings throughout
        floor_each = np.percentile(height, self.floor_percentile, axis=0).min(axis=0, keepdims=True)
        vel = np.gradient(points, t, axis=0)
        vel[..., 1] = 0.0
        speed = np.linalg.norm(vel, axis=-1)
        above = height - floor_each
        near = ((above < self.contact_height) & (speed < self.contact_speed)) | (
            (above < self.strike_height) & (speed < self.strike_speed))
        floor = float(np.percentile(height.min(axis=(1, 2)), self.floor_percentile))
        return near.any(axis=2), floor

    def _distribute(self, t, force, moment, com, points, contact, floor, body_weight) -> GroundReactions:
        n = len(t)
        share = transition_shares(t, contact, self.max_transition, lambda start, end: self._lever_shares(
            force[start:end + 1], moment[start:end + 1], points[start:end + 1], floor))
        share[~contact.any(axis=1)] = 0.0
        grounded = contact.any(axis=1)
        needed = force
        force = np.where(grounded[:, None], force, 0.0)
        moment = np.where(grounded[:, None], moment, 0.0)
        # no pulling on the floor: a net downward force means the contact guess is wrong
        pulling = force[:, 1] < 0
        force[pulling] = 0.0
        moment[pulling] = 0.0
        total_cop = wrench_cop(force, moment, floor, self.min_vertical_fraction * body_weight)
        cop = np.zeros((n, 2, 3))
        for k in range(2):
            cop[:, k] = _nearest_on_segment(total_cop, points[:, k, 0], points[:, k, 1], floor)
        foot_force = share[:, :, None] * force[:, None, :]
        # horizontal: each foot's force points at the centre of mass (inverted pendulum), and the
        # part of the whole-body horizontal force that this does not explain is shared like the rest
        lean = (com[:, None, :] - cop) / np.maximum(com[:, None, 1:2] - floor, 1e-3)
        pendulum = foot_force[:, :, 1:2] * lean
        pendulum[:, :, 1] = 0.0
        unexplained = force - pendulum.sum(axis=1)
        unexplained[:, 1] = 0.0
        foot_force = foot_force * np.array([0.0, 1.0, 0.0]) + pendulum + share[:, :, None] * unexplained[:, None, :]
        residual = moment - np.einsum("tkj->tj", np.cross(cop, foot_force))
        free = np.zeros_like(residual)
        free[:, 1] = residual[:, 1]
        torque = share[:, :, None] * free[:, None, :]
        dropped = residual - free
        return GroundReactions(
            time=t, force=foot_force, cop=cop, torque=torque,
            bodies=tuple(self.foot_bodies), body_weight=body_weight, contact=contact,
            residual_force=needed - foot_force.sum(axis=1),
            diagnostics={
                "estimator": self.name,
                "floor_height_m": floor,
                "flight_frames": int((~grounded).sum()),
                "pulling_frames": int(pulling.sum()),
                "dropped_moment_rms_Nm": float(np.sqrt(np.mean(np.sum(dropped ** 2, axis=1)))),
            })

    def _lever_shares(self, force, moment, points, floor) -> np.ndarray:
        cop = wrench_cop(force, moment, floor, 1.0)
        centre = points.mean(axis=2)                                # (n, 2 sides, 3)
        axis_vec = centre[:, 1] - centre[:, 0]
        axis_vec[:, 1] = 0.0
        rel = cop - centre[:, 0]
        rel[:, 1] = 0.0
        frac = np.einsum("ij,ij->i", np.nan_to_num(rel), axis_vec) / np.maximum(
            np.einsum("ij,ij->i", axis_vec, axis_vec), 1e-9)
        frac = np.clip(np.nan_to_num(frac, nan=0.5), 0.0, 1.0)
        return np.stack([1.0 - frac, frac], axis=1)


def wrench_cop(force: np.ndarray, moment: np.ndarray, floor: float, min_vertical: float) -> np.ndarray:
    """Point (T, 3) on the floor plane y = floor where the wrench's horizontal moment vanishes.

    From M = p x F + (0, T_y, 0) with p = (x, floor, z): x = (M_z + floor F_x) / F_y and
    z = (floor F_z - M_x) / F_y. NaN where the vertical force is below ``min_vertical`` (N).
    """
    fy = force[:, 1]
    ok = fy > min_vertical
    safe = np.where(ok, fy, 1.0)
    cop = np.full(force.shape, np.nan)
    cop[:, 1] = floor
    cop[:, 0] = np.where(ok, (moment[:, 2] + floor * force[:, 0]) / safe, np.nan)
    cop[:, 2] = np.where(ok, (floor * force[:, 2] - moment[:, 0]) / safe, np.nan)
    return cop


def _nearest_on_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray, floor: float) -> np.ndarray:
    """Nearest point to ``p`` on the floor projection of segment ``a``-``b`` (midpoint where p is NaN)."""
    a = a.copy()
    b = b.copy()
    a[:, 1] = floor
    b[:, 1] = floor
    ab = b - a
    p = np.where(np.isnan(p), 0.5 * (a + b), p)
    s = np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12)
    return a + np.clip(s, 0.0, 1.0)[:, None] * ab


register_estimator("physics", PhysicsGRFEstimator)
register_estimator("contact", "builder.biosim.grf_contact:ContactGRFEstimator")
