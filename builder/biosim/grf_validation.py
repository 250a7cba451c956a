"""Estimated ground reactions against force plates: the figures of ``scripts/bench_grf.py`` and the GRF tests.

Plate files are OpenSim .mot/.sto tables with one force, point and torque triple per foot, labelled
either ``ground_force_r_vx`` ... ``ground_torque_l_z`` (``grf_walk.mot``) or ``R_ground_force_vx`` ...
``L_ground_torque_z`` (``grf_run.mot``). Axes are the lab's: x anterior-posterior (the direction of
progression), y vertical, z medio-lateral.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.biosim.body_kinematics import lowpass
from builder.biosim.grf import SIDES, GroundReactions
from builder.biosim.inverse_dynamics import InverseDynamicsResult, run_inverse_dynamics
from builder.biosim.storage import StorageTable, read_storage

COMPONENTS = {"anterior_posterior": 0, "vertical": 1, "medio_lateral": 2}


@dataclass
class ForcePlates:
    """Measured per-foot ground reactions (N, m, N m), feet ordered as ``SIDES``."""

    time: np.ndarray      # (T,)
    force: np.ndarray     # (T, 2, 3)
    cop: np.ndarray       # (T, 2, 3)
    torque: np.ndarray    # (T, 2, 3)

    def at(self, time: np.ndarray) -> ForcePlates:
        """The plates linearly interpolated at ``time`` (s)."""
        def interp(a: np.ndarray) -> np.ndarray:
            flat = a.reshape(len(self.time), -1)
            return np.stack([np.interp(time, self.time, c) for c in flat.T], axis=1).reshape(len(time), 2, 3)

        return ForcePlates(np.asarray(time), interp(self.force), interp(self.cop), interp(self.torque))

    def lowpass(self, cutoff_hz: float, min_vertical: float = 20.0) -> ForcePlates:
        """The plates' wrenches low-pass filtered at ``cutoff_hz`` (zero-lag Butterworth, as the kinematics are):
        force and moment about the lab origin are filtered, then put back as a COP on the floor (held where
        the filtered vertical force is below ``min_vertical`` N) and the free torque that keeps the moment."""
        fps = 1.0 / float(np.median(np.diff(self.time)))
        force = lowpass(self.force, fps, cutoff_hz)
        moment = lowpass(np.cross(self.cop, self.force) + self.torque, fps, cutoff_hz)
        floor = float(np.median(self.cop[self.force[:, :, 1] > min_vertical, 1])) if np.any(
            self.force[:, :, 1] > min_vertical) else 0.0
        cop = np.zeros_like(force)
        cop[..., 1] = floor
        for k in range(force.shape[1]):
            loaded = force[:, k, 1] > min_vertical
            if not loaded.any():
                continue
            fy = force[loaded, k, 1]
            for axis, value in ((0, (moment[loaded, k, 2] + floor * force[loaded, k, 0]) / fy),
                                (2, (floor * force[loaded, k, 2] - moment[loaded, k, 0]) / fy)):
                cop[:, k, axis] = np.interp(self.time, self.time[loaded], value)
        return ForcePlates(self.time, force, cop, moment - np.cross(cop, force))

    def reactions(self, body_weight: float, bodies: tuple[str, str] = ("calcn_r", "calcn_l")) -> GroundReactions:
        """The plates as :class:`GroundReactions` on the feet ``bodies`` (for :meth:`GroundReactions.write`)."""
        return GroundReactions(self.time, self.force, self.cop, self.torque, bodies, body_weight)

    def contact_intervals(self, threshold: float = 20.0) -> dict[str, list[tuple[float, float]]]:
        """(on, off) times (s) of each foot's complete contacts: vertical force above ``threshold`` N."""
        out = {}
        for k, side in enumerate(SIDES):
            edges = np.diff((self.force[:, k, 1] > threshold).astype(int))
            starts, ends = self.time[1:][edges == 1], self.time[1:][edges == -1]
            out[side] = [(float(s), float(e)) for s in starts for e in ends[ends > s][:1]]
        return out


def _plate_labels(labels: list[str], side: str) -> tuple[list[str], list[str], list[str]]:
    upper = side.upper()
    for force, point, torque in ((f"ground_force_{side}_v", f"ground_force_{side}_p", f"ground_torque_{side}_"),
                                 (f"{upper}_ground_force_v", f"{upper}_ground_force_p", f"{upper}_ground_torque_")):
        names = ([force + a for a in "xyz"], [point + a for a in "xyz"], [torque + a for a in "xyz"])
        if all(n in labels for group in names for n in group):
            return names
    raise KeyError(side)


def read_force_plates(path: str | os.PathLike) -> ForcePlates:
    """Per-foot plate data of a GRF .mot file; ValueError naming the file when the labels are not found."""
    table: StorageTable = read_storage(path)
    force, cop, torque = (np.zeros((len(table.time), 2, 3)) for _ in range(3))
    for k, side in enumerate(SIDES):
        try:
            f, p, m = _plate_labels(table.labels, side)
        except KeyError:
            raise ValueError(f"{path}: no force/point/torque columns for foot {side!r} "
                             f"(expected ground_force_{side}_vx... or {side.upper()}_ground_force_vx...)") from None
        force[:, k], cop[:, k], torque[:, k] = table.columns(f), table.columns(p), table.columns(m)
    return ForcePlates(table.time, force, cop, torque)


def _r(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else float("nan")


def compare_to_plates(estimated: GroundReactions, plates: ForcePlates, window: tuple[float, float],
                      stance_fraction: float = 0.1) -> dict[str, float]:
    """Agreement of ``estimated``'s feet with ``plates`` at the estimate's frames inside ``window`` (s).

    Per component (both feet's series joined): ``<component>_rmse_bw`` and ``_r``; per stance of each
    foot (the part inside the window): the largest error of the peak (``vertical_peak_err_bw``,
    ``anterior_posterior_peak_err_bw`` over the propulsive maximum and the braking minimum,
    ``medio_lateral_peak_err_bw``); centre of pressure on the frames where the plate's vertical force is
    above ``stance_fraction`` of body weight: RMS horizontal distance ``cop_err_m`` and its along (x,
    ``cop_along_err_m``) and across (z) parts. Forces in body weights.
    """
    keep = (estimated.time >= window[0]) & (estimated.time <= window[1])
    feet = [estimated.labels.index(side) for side in SIDES]
    time = estimated.time[keep]
    bw = estimated.body_weight
    est_f, meas = estimated.force[keep][:, feet] / bw, plates.at(time)
    est_cop = estimated.cop[keep][:, feet]
    meas_f = meas.force / bw
    out: dict[str, float] = {}
    for name, axis in COMPONENTS.items():
        e, m = est_f[:, :, axis].ravel(), meas_f[:, :, axis].ravel()
        out[f"{name}_rmse_bw"] = float(np.sqrt(np.mean((e - m) ** 2)))
        out[f"{name}_r"] = _r(e, m)
    peak_errors: dict[str, list[float]] = {name: [] for name in COMPONENTS}
    for k, side in enumerate(SIDES):
        for on, off in plates.contact_intervals().get(side, []):
            span = (time >= on) & (time <= off)
            if span.sum() < 3:
                continue
            for name, axis in COMPONENTS.items():
                e, m = est_f[span, k, axis], meas_f[span, k, axis]
                peak_errors[name] += [abs(e.max() - m.max()), abs(e.min() - m.min())] if name != "vertical" else [
                    abs(e.max() - m.max())]
    for name, errors in peak_errors.items():
        out[f"{name}_peak_err_bw"] = float(max(errors)) if errors else float("nan")
    out["stances"] = float(len(peak_errors["vertical"]))
    loaded = meas_f[:, :, 1] > stance_fraction
    diff = (est_cop - meas.cop)[loaded]
    out["cop_err_m"] = float(np.sqrt(np.mean(diff[:, 0] ** 2 + diff[:, 2] ** 2))) if len(diff) else float("nan")
    out["cop_along_err_m"] = float(np.sqrt(np.mean(diff[:, 0] ** 2))) if len(diff) else float("nan")
    out["cop_across_err_m"] = float(np.sqrt(np.mean(diff[:, 2] ** 2))) if len(diff) else float("nan")
    return out


SAGITTAL_MOMENTS = tuple(f"{joint}_{side}_moment" for joint in ("hip_flexion", "knee_angle", "ankle_angle")
                         for side in SIDES)
OUT_OF_PLANE_MOMENTS = tuple(f"{joint}_{side}_moment" for joint in ("hip_adduction", "hip_rotation", "subtalar_angle")
                             for side in SIDES)
"""Where the estimate's medio-lateral force and the centre of pressure's path across the foot show."""


def moment_rmse(estimated: StorageTable, measured: StorageTable, mass: float,
                labels: tuple[str, ...] = SAGITTAL_MOMENTS) -> dict[str, float]:
    """RMSE (N m/kg) of generalized forces ``labels`` of two ID results on the same frames."""
    if len(estimated.time) != len(measured.time) or not np.allclose(estimated.time, measured.time):
        raise ValueError("the two inverse dynamics results are not on the same frames")
    return {label: float(np.sqrt(np.mean((estimated.column(label) - measured.column(label)) ** 2)) / mass)
            for label in labels}


def score_against_plates(estimated: GroundReactions, plates: ForcePlates, model: str | os.PathLike,
                         coordinates: str | os.PathLike, measured: InverseDynamicsResult, window: tuple[float, float],
                         mass: float, folder: str | os.PathLike, name: str
                         ) -> tuple[dict[str, float], InverseDynamicsResult]:
    """``estimated`` scored against ``plates``: :func:`compare_to_plates`, the :func:`moment_rmse` of inverse
    dynamics with it (written to ``folder`` as ``grf_<name>.mot/.xml``, ``_contact.sto`` if it has residuals,
    ``id_<name>.sto``) against ``measured`` (ID with the plates over ``window``, same model and coordinates)
    for the :data:`SAGITTAL_MOMENTS` and :data:`OUT_OF_PLANE_MOMENTS`, and that ID's pelvis
    ``residual_force_rms_bw``. Returns the metrics and the ID result."""
    folder = Path(folder)
    contact = folder / f"grf_{name}_contact.sto" if estimated.residual_force is not None else None
    estimated.write(folder / f"grf_{name}.mot", folder / f"grf_{name}.xml", contact)
    result = run_inverse_dynamics(model, coordinates, folder / f"id_{name}.sto", folder / f"grf_{name}.xml",
                                  time_range=window)
    moments = moment_rmse(result.table, measured.table, mass, SAGITTAL_MOMENTS + OUT_OF_PLANE_MOMENTS)
    metrics = {**compare_to_plates(estimated, plates, window), **moments,
               "residual_force_rms_bw": result.residuals["residual_force_rms_bw"]}
    return metrics, result
