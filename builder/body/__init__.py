"""Body surface of a motion sequence, its 87 virtual markers, and the subject's height and mass.

``make_body(sequence, smpl_model=None)`` gives the SMPL body via ``smplx`` when a user's SMPL
model path is given, otherwise the Anny body driven by the same SMPL pose. Every body returns
vertices in SMPL's world frame (Y up, Z forward, metres).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.sources.motion import MotionSequence

from .landmarks import marker_vertex_ids
from .measure import BODY_DENSITY, body_height, body_mass
from .surface import BodySurface, RestBody

_BODY_CLASSES = {"AnnyBody": ".anny_body", "SmplBody": ".smpl_body"}

__all__ = [
    "BODY_DENSITY",
    "NEUTRAL_POSE",
    "AnnyBody",
    "BodySurface",
    "RestBody",
    "SmplBody",
    "Subject",
    "body_height",
    "body_mass",
    "make_body",
    "marker_trajectories",
    "marker_vertex_ids",
    "measure_subject",
    "posed_vertices",
]


def __getattr__(name: str) -> type:
    """The body classes, imported on first use (they load torch; ``biohuman --help`` should not)."""
    if name in _BODY_CLASSES:
        return getattr(importlib.import_module(_BODY_CLASSES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_body(sequence: MotionSequence, smpl_model: str | Path | None = None) -> BodySurface:
    """The body surface for a sequence: SMPL (shape ``betas``) if a model path is given, else Anny."""
    if smpl_model is not None:
        from .smpl_body import SmplBody

        return SmplBody(smpl_model, gender=sequence.gender, betas=sequence.betas)
    from .anny_body import AnnyBody

    return AnnyBody(gender=sequence.gender, phenotype=sequence.body_phenotype)


def posed_vertices(sequence: MotionSequence, body: BodySurface | None = None) -> np.ndarray:
    """Posed body vertices (T, V, 3) float32 in SMPL's world frame, metres (Anny body by default)."""
    body = body or make_body(sequence)
    return body.posed_vertices(sequence.poses, sequence.trans)


def marker_trajectories(sequence: MotionSequence, body: BodySurface) -> np.ndarray:
    """The 87 virtual markers (T, 87, 3) float64 in SMPL's world frame, in ``MARKER_NAMES`` order."""
    ids = marker_vertex_ids(body)
    out = np.empty((sequence.num_frames, len(ids), 3))
    step = 256
    for start in range(0, sequence.num_frames, step):
        stop = start + step
        out[start:stop] = body.posed_vertices(sequence.poses[start:stop], sequence.trans[start:stop])[:, ids]
    return out


NEUTRAL_POSE = np.zeros(72)
NEUTRAL_POSE[16 * 3 + 2], NEUTRAL_POSE[17 * 3 + 2] = -np.radians(75), np.radians(75)
"""Standing with the arms down beside the body (shoulders adducted 75 deg from SMPL's T-pose), the
anatomical pose of an OpenSim model at zero coordinates: the static trial for scaling."""


@dataclass(frozen=True)
class Subject:
    """Anthropometry of a body: height (m), mass (kg), and its neutral standing markers (87, 3)
    and joint centres (24, 3) in SMPL's frame."""

    height: float
    mass: float
    static_markers: np.ndarray
    static_joints: np.ndarray


def measure_subject(body: BodySurface) -> Subject:
    """Height (head top to heel) and mass (volume x 985 kg/m^3) of a body's rest pose (SMPL's zero
    pose, upright T-pose), and its markers and joint centres in ``NEUTRAL_POSE`` at the origin."""
    rest = body.rest_body()
    pose, origin = NEUTRAL_POSE[None], np.zeros((1, 3))
    static = body.posed_vertices(pose, origin)[0, marker_vertex_ids(body)]
    return Subject(height=body_height(rest.vertices), mass=body_mass(rest.vertices, rest.faces),
                   static_markers=static.astype(np.float64), static_joints=body.posed_joints(pose, origin)[0])
