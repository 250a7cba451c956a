"""Whole-body kinematics of a model along an IK motion: centre of mass, momentum, named points.

The GRF estimators need, per frame, the model's centre of mass, its linear momentum ``P`` and
angular momentum ``H_O`` about the ground origin (Simbody), and the ground positions of points
that can touch the floor (markers or body origins). From these, Newton-Euler gives the external
wrench the motion needs: ``F = dP/dt - m g`` and ``M_O = dH_O/dt - c x (m g)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import butter, filtfilt

from builder.biosim.opensim_model import load_model, read_coordinates


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-lag Butterworth low-pass along axis 0 (no-op when the cutoff is at/above Nyquist)."""
    wn = cutoff_hz / (0.5 * fps)
    if cutoff_hz <= 0 or wn >= 1.0:
        return x
    b, a = butter(order, wn)
    padlen = min(len(x) - 1, 3 * max(len(a), len(b)))
    return filtfilt(b, a, x, axis=0, padlen=padlen)


@dataclass
class BodyKinematics:
    """Sampled at the IK frames ``time`` (T,); SI units, ground frame (y up)."""

    time: np.ndarray
    mass: float                         # kg
    gravity: np.ndarray                 # (3,) m/s^2
    com: np.ndarray                     # (T, 3) centre of mass
    linear_momentum: np.ndarray         # (T, 3) kg m/s
    angular_momentum: np.ndarray        # (T, 3) about the ground origin, kg m^2/s
    points: dict[str, np.ndarray]       # name -> (T, 3) ground positions

    @property
    def fps(self) -> float:
        return 1.0 / float(np.median(np.diff(self.time)))

    @property
    def body_weight(self) -> float:
        """N."""
        return float(self.mass * np.linalg.norm(self.gravity))

    def external_wrench(self) -> tuple[np.ndarray, np.ndarray]:
        """Newton-Euler external force (T, 3) and moment about the ground origin (T, 3) of the motion."""
        weight = self.mass * self.gravity
        force = CubicSpline(self.time, self.linear_momentum, axis=0)(self.time, 1) - weight
        moment = CubicSpline(self.time, self.angular_momentum, axis=0)(self.time, 1) - np.cross(self.com, weight)
        return force, moment


def sample_body_kinematics(model_path: str | os.PathLike, coordinates_path: str | os.PathLike, cutoff_hz: float,
                           bodies: tuple[str, ...] = (), markers: tuple[str, ...] = ()) -> BodyKinematics:
    """Filter the IK coordinates at ``cutoff_hz`` (zero-lag Butterworth), spline their speeds, and sample
    the model; ``points`` holds the origins of ``bodies`` and those of the named ``markers`` that the model
    has (models differ in their marker sets).

    ValueError naming the model when a body is missing or gravity is not along -Y.
    """
    model = load_model(model_path)
    table, q = read_coordinates(model, coordinates_path)
    time = table.time
    fps = 1.0 / float(np.median(np.diff(time)))
    q = lowpass(q, fps, cutoff_hz)
    qd = CubicSpline(time, q, axis=0)(time, 1)
    state = model.initSystem()
    gravity = np.array(model.getGravity().to_numpy())
    if not (gravity[1] < 0 and abs(gravity[0]) + abs(gravity[2]) < 1e-9):
        raise ValueError(f"{model_path}: gravity must point along -Y (OpenSim convention), got {gravity}")
    marker_set, body_set = model.getMarkerSet(), model.getBodySet()
    for name in bodies:
        if not body_set.contains(name):
            raise ValueError(f"{model_path}: model has no body {name!r}")
    markers = tuple(dict.fromkeys(n for n in markers if marker_set.contains(n)))
    sources = [(n, marker_set.get(n).getLocationInGround) for n in markers]
    sources += [(n, body_set.get(n).getPositionInGround) for n in bodies]
    coords = model.getCoordinateSet()
    matter = model.getMatterSubsystem()
    n = len(time)
    com, linear, angular = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
    points = {name: np.zeros((n, 3)) for name, _ in sources}
    for i in range(n):
        for j in range(coords.getSize()):
            coords.get(j).setValue(state, float(q[i, j]), False)
            coords.get(j).setSpeedValue(state, float(qd[i, j]))
        model.realizeVelocity(state)
        momentum = matter.calcSystemMomentumAboutGroundOrigin(state)
        angular[i] = momentum.get(0).to_numpy()
        linear[i] = momentum.get(1).to_numpy()
        com[i] = model.calcMassCenterPosition(state).to_numpy()
        for name, position in sources:
            points[name][i] = position(state).to_numpy()
    return BodyKinematics(time, float(model.getTotalMass(state)), gravity, com, linear, angular, points)
