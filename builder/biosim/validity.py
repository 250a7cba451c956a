"""How far one sequence's labels can be trusted: per-frame validity figures, the frame mask, a summary.

Figures (per frame, written to ``validity.sto``; summarised in ``record.json`` under ``validity``):

* ``marker_error_max_m``: IK's largest marker error of the frame.
* ``unexplained_moment``: share of the frame's joint moments (ID, the coordinates of
  :data:`COORDINATE_GROUPS` that muscles cross) that the
  muscles do not produce in the frame-wise SO, i.e. carried by the bounded reserves or left
  unmet where even they cannot reach; the norm over the frame's coordinates divided by the
  sequence's RMS norm (a frame of small moments is not judged by its own small denominator).
* ``residual_force_bw`` / ``residual_moment_bwh``: pelvis residual force of ID per body weight,
  residual moment per body weight x height: the part of the motion the external loads do not explain.
* ``valid``: 1 when every figure is within :class:`ValidityThresholds`, else 0.

Sequence figures: reserve share of the RMS joint moment per coordinate group (RMS of what the muscles do not
produce / RMS of the ID moment over the group's coordinates and frames) and each coordinate's part of it on
the valid frames (:func:`coordinate_shares`: which joint axis the muscles fail), saturated activations
(>= 0.99), median active-fibre-force capacity at the IK poses (the SO's force per unit activation /
``max_isometric_force``, force-length-velocity: by default with compliant tendons in OpenSim's equilibrium
at the solved activations, else OpenSim's ``calcInextensibleTendonActiveFiberForce(s, 1)`` with a rigid
tendon), how well raw SO, the published activations and the post-hoc Savitzky-Golay filter reproduce the ID
moments, activation roughness, pelvis residuals and IK error on the valid frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from builder.biosim.storage import StorageTable

COORDINATE_GROUPS: dict[str, tuple[str, ...]] = {
    "hip": ("hip_flexion", "hip_adduction", "hip_rotation"),
    "knee": ("knee_angle",),
    "ankle": ("ankle_angle", "subtalar_angle", "mtp_angle"),
    "lumbar": ("lumbar_extension", "lumbar_bending", "lumbar_rotation"),
    "shoulder": ("arm_flex", "arm_add", "arm_rot"),
    "elbow": ("elbow_flex", "pro_sup"),
}
"""Coordinate groups of the reserve-share figures, by coordinate-name prefix (both sides)."""
LEG_AND_LUMBAR = ("hip", "knee", "ankle", "lumbar")
SATURATED = 0.99


@dataclass(frozen=True)
class ValidityThresholds:
    """When a frame's labels are trusted, and when too little of a sequence is left to keep it.

    * ``max_marker_error`` 0.15 m: the paper's limit; good fits of virtual markers sit at 1-3 cm,
      a marker 15 cm off means the body was not tracked.
    * ``max_unexplained_moment`` 0.25: what the muscles leave to the reserves (bounded to 10 N m
      each) or unmet, per frame, as a share of the sequence's RMS joint moment. Hicks et al. (2015,
      J Biomech Eng 137:020905) ask reserves to stay small next to the net joint moments (the
      acceptance figure is 5 % RMS over a sequence); a single frame may spike higher, a quarter of
      the typical moment means the muscles are not producing that frame's motion.
    * ``max_residual_force`` 0.15 body weights: the pelvis residual force of ID; the physics GRF
      balances the body wherever a foot is on the ground (about 0.01 BW on walks), so a larger
      residual means contact the estimator does not model (hands, knees, back) or a motion that is
      not physical. (Hicks et al. ask 5 % of the peak external force after a full residual reduction;
      BioSim's root reduction only shifts the pelvis translations, by at most 5 cm, and changes no mass.)
    * ``max_residual_moment``: the same for the pelvis residual moment (body weight x height); reported,
      not used by default (inf): the physics GRF estimator's centre-of-pressure model leaves moment
      residuals of up to ~0.2 BW x height even in walks whose muscles and forces are sound.
    * ``min_valid_fraction`` 0.25: a sequence with fewer valid frames is dropped whole; otherwise
      its invalid frames are masked (the dataset's ``muscle_mask``).
    """

    max_marker_error: float = 0.15
    max_unexplained_moment: float = 0.25
    max_residual_force: float = 0.15
    max_residual_moment: float = float("inf")
    min_valid_fraction: float = 0.25


def coordinate_group(coordinate: str) -> str | None:
    """The group of a coordinate (``hip_flexion_r`` -> ``hip``), None for the pelvis, wrists, etc."""
    for group, prefixes in COORDINATE_GROUPS.items():
        if coordinate.startswith(prefixes):
            return group
    return None


def muscle_moments(moment_arms: np.ndarray, active_force: np.ndarray, activations: np.ndarray) -> np.ndarray:
    """Generalized forces (T, dofs) of muscles at ``activations`` (T, muscles) with the force-length-
    velocity ``active_force`` (T, muscles; N at full activation) and ``moment_arms`` (T, dofs, muscles)."""
    return np.einsum("tdm,tm->td", moment_arms, activations * active_force)


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else float("nan")


def _group_columns(dofs: list[str]) -> dict[str, list[int]]:
    """Column indices of ``dofs`` per coordinate group, and over leg + lumbar (``"leg_lumbar"``)."""
    groups = [coordinate_group(d) for d in dofs]
    columns = {group: [k for k, g in enumerate(groups) if g == group] for group in COORDINATE_GROUPS}
    columns["leg_lumbar"] = [k for k, g in enumerate(groups) if g in LEG_AND_LUMBAR]
    return columns


def group_shares(dofs: list[str], reference: np.ndarray, difference: np.ndarray) -> dict[str, float]:
    """RMS(``difference``) / RMS(``reference``) per coordinate group and over leg + lumbar (T, dofs)."""
    out = {}
    for group, cols in _group_columns(dofs).items():
        denominator = _rms(reference[:, cols])
        out[group] = _rms(difference[:, cols]) / denominator if cols and denominator > 0 else float("nan")
    return out


def coordinate_shares(dofs: list[str], reference: np.ndarray, difference: np.ndarray) -> dict[str, float]:
    """Each grouped coordinate's part of its group's share (:func:`group_shares`): the RMS of its ``difference``
    over the group's RMS ``reference``, divided by the root of the group's coordinate count, so that the
    squares of a group's parts add up to the square of its share. Unlike a coordinate's own ratio, a part is
    not inflated by a coordinate that carries almost no moment (the toes' ``mtp_angle``)."""
    columns, out = _group_columns(dofs), {}
    for group in COORDINATE_GROUPS:
        cols = columns[group]
        denominator = _rms(reference[:, cols]) * np.sqrt(len(cols)) if cols else 0.0
        out.update({dofs[k]: _rms(difference[:, k]) / denominator for k in cols if denominator > 0})
    return out


def roughness(activations: np.ndarray) -> float:
    """RMS second difference over RMS value of activations (T, muscles): 0 for straight lines."""
    if len(activations) < 3:
        return float("nan")
    return _rms(np.diff(activations, 2, axis=0)) / max(_rms(activations), 1e-12)


@dataclass
class SequenceAudit:
    """The per-frame figures (``frames``, a StorageTable for ``validity.sto``) and the summary dict."""

    frames: StorageTable
    summary: dict

    @property
    def valid(self) -> np.ndarray:
        return self.frames.column("valid") > 0.5


def audit_sequence(times: np.ndarray, dofs: list[str], id_moments: np.ndarray, moment_arms: np.ndarray,
                   active_force: np.ndarray, max_isometric_force: np.ndarray, raw: np.ndarray,
                   published: np.ndarray, savgol: np.ndarray, marker_error_max: np.ndarray,
                   residual_force_bw: np.ndarray, residual_moment_bwh: np.ndarray,
                   thresholds: ValidityThresholds = ValidityThresholds()) -> SequenceAudit:
    """Audit one sequence (arrays over its T frames; ``dofs`` the free coordinates of ``id_moments``
    (T, dofs) and ``moment_arms`` (T, dofs, muscles)); activations ``raw`` (frame-wise SO),
    ``published`` (the label) and ``savgol`` (the post-hoc filter, for comparison) are (T, muscles)."""
    # judged: the grouped coordinates that muscles cross (not, e.g., Rajagopal's actuator-driven lumbar joint)
    judged = np.array([coordinate_group(d) is not None for d in dofs]) & (np.abs(moment_arms).max(axis=(0, 2)) > 0)
    dofs = [d for d, keep in zip(dofs, judged) if keep]
    id_moments, moment_arms = id_moments[:, judged], moment_arms[:, judged]
    produced = muscle_moments(moment_arms, active_force, raw)
    unexplained = id_moments - produced
    scale = _rms(np.linalg.norm(id_moments, axis=1))
    unexplained_frame = np.linalg.norm(unexplained, axis=1) / max(scale, 1e-9)
    checks = {
        "marker_error": marker_error_max <= thresholds.max_marker_error,
        "unexplained_moment": unexplained_frame <= thresholds.max_unexplained_moment,
        "residual_force": residual_force_bw <= thresholds.max_residual_force,
        "residual_moment": residual_moment_bwh <= thresholds.max_residual_moment,
    }
    valid = np.logical_and.reduce(list(checks.values()))
    capacity = active_force / max_isometric_force[None, :]

    def moment_error(activations):
        return group_shares(dofs, id_moments, id_moments - muscle_moments(moment_arms, active_force, activations))

    kept = valid if valid.any() else np.ones(len(valid), bool)
    summary = {
        "frames": int(len(times)), "valid_frames": int(valid.sum()), "valid_fraction": float(valid.mean()),
        "masked_frames": {name: int((~ok).sum()) for name, ok in checks.items()},
        "reserve_share": moment_error(raw),
        "reserve_share_valid_frames": group_shares(dofs, id_moments[kept], unexplained[kept]),
        "reserve_share_by_coordinate_valid_frames": coordinate_shares(dofs, id_moments[kept], unexplained[kept]),
        "moment_error": {name: moment_error(a)["leg_lumbar"] for name, a in
                         (("raw", raw), ("published", published), ("savgol", savgol))},
        "roughness": {name: roughness(a) for name, a in (("raw", raw), ("published", published), ("savgol", savgol))},
        "saturated_fraction": {"raw": float(np.mean(raw >= SATURATED)),
                               "published": float(np.mean(published >= SATURATED)),
                               "raw_valid_frames": float(np.mean(raw[kept] >= SATURATED))},
        "capacity_median": float(np.median(capacity)),
        "residual_force_rms_bw_valid_frames": _rms(residual_force_bw[kept]),
        "marker_error_max_m_valid_frames": float(marker_error_max[kept].max()),
        "thresholds": dict(vars(thresholds)),
    }
    columns = {"valid": valid.astype(float), "marker_error_max_m": marker_error_max,
               "unexplained_moment": unexplained_frame, "residual_force_bw": residual_force_bw,
               "residual_moment_bwh": residual_moment_bwh, "capacity_median": np.median(capacity, axis=1),
               "saturated_fraction": np.mean(raw >= SATURATED, axis=1)}
    frames = StorageTable(np.asarray(times), list(columns), np.stack(list(columns.values()), axis=1), name="validity")
    return SequenceAudit(frames, summary)


def drop_reasons(summary: dict, thresholds: ValidityThresholds = ValidityThresholds()) -> list[str]:
    """Why a whole sequence is dropped (empty: keep it, masking its invalid frames)."""
    if summary["valid_fraction"] >= thresholds.min_valid_fraction:
        return []
    masked = ", ".join(f"{name} {count}" for name, count in summary["masked_frames"].items() if count)
    return [f"valid frames {summary['valid_frames']}/{summary['frames']} < {thresholds.min_valid_fraction:.0%} "
            f"(frames failing: {masked})"]
