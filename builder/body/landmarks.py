"""Where the 87 virtual markers sit on a body surface: one vertex per marker, per topology.

Each landmark is defined once, geometrically, on a body in SMPL's T-pose: the surface vertex
of the named segments that lies farthest from an anchor point (a point on the skeleton) in a
body-relative direction, close to the ray from the anchor. The rule runs once per topology:
the Anny table ships as package data (``data/markers_anny.csv``); any other topology (a user's
SMPL model) gets its table derived from its own rest body on first use and cached on disk.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.io import write_text_atomic
from builder.markers import MARKER_NAMES

from .surface import RestBody

DATA_DIR = Path(__file__).parent / "data"

_MIRROR = {1: 2, 4: 5, 7: 8, 10: 11, 13: 14, 16: 17, 18: 19, 20: 21, 22: 23}
_MIRROR.update({v: k for k, v in list(_MIRROR.items())})


@dataclass(frozen=True)
class LandmarkRule:
    """Anchor = lerp(joint a, joint b, t) + offset; pick the vertex of ``segments`` farthest along
    ``direction`` from it, penalising distance off the ray by ``off_ray``. Vectors are in body
    axes (lateral, up, forward); joints and lateral are given for the left side."""

    segments: tuple[int, ...]
    a: int
    b: int
    t: float
    direction: tuple[float, float, float]
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    off_ray: float = 2.0


_LEFT_HIP, _LEFT_KNEE, _LEFT_ANKLE, _LEFT_FOOT = 1, 4, 7, 10
_LEFT_COLLAR, _LEFT_SHOULDER, _LEFT_ELBOW, _LEFT_WRIST, _LEFT_HAND = 13, 16, 18, 20, 22
_UP, _DOWN, _FWD, _BACK, _LAT, _MED = (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1), (1, 0, 0), (-1, 0, 0)

RULES: dict[str, LandmarkRule] = {
    "head_top": LandmarkRule((15,), 15, 15, 0, _UP, off_ray=0.5),
    "glabella": LandmarkRule((15,), 15, 15, 0, _FWD, offset=(0, 0.075, 0)),
    "inion": LandmarkRule((15,), 15, 15, 0, _BACK, offset=(0, 0.04, 0)),
    "mentum": LandmarkRule((15, 12), 15, 15, 0, (0, -0.6, 0.8), offset=(0, -0.02, 0)),
    "c7": LandmarkRule((12, 9), 12, 12, 0, _BACK, offset=(0, -0.03, 0)),
    "t8": LandmarkRule((9, 6), 6, 12, 0.5, _BACK),
    "l1": LandmarkRule((3, 6), 3, 6, 0.7, _BACK),
    "jugular_notch": LandmarkRule((12, 9, 13, 14), 12, 12, 0, _FWD, offset=(0, -0.05, 0)),
    "xiphoid": LandmarkRule((9, 6), 12, 12, 0, _FWD, offset=(0, -0.22, 0)),
    "sacrum": LandmarkRule((0, 3), 0, 0, 0, _BACK, offset=(0, 0.0, 0)),
    "pubic_symphysis": LandmarkRule((0, 1, 2), 1, 2, 0.5, _FWD, offset=(0, -0.03, 0)),
    "tragus": LandmarkRule((15,), 15, 15, 0, _LAT, offset=(0, 0.04, 0)),
    "clavicle": LandmarkRule((13, 9, 16), 12, _LEFT_SHOULDER, 0.5, (0, 0.4, 1), offset=(0, -0.03, 0)),
    "acromion": LandmarkRule((13, 16, 9), _LEFT_SHOULDER, _LEFT_SHOULDER, 0, (0.3, 1, 0)),
    "scapula_inferior": LandmarkRule((9, 6, 13), 9, 9, 0, _BACK, offset=(0.09, -0.06, 0)),
    "deltoid_tuberosity": LandmarkRule((16,), _LEFT_SHOULDER, _LEFT_ELBOW, 0.4, _UP),
    "humerus_posterior": LandmarkRule((16,), _LEFT_SHOULDER, _LEFT_ELBOW, 0.55, _BACK),
    "elbow_lateral": LandmarkRule((16, 18), _LEFT_ELBOW, _LEFT_ELBOW, 0, _UP),
    "elbow_medial": LandmarkRule((16, 18), _LEFT_ELBOW, _LEFT_ELBOW, 0, _DOWN),
    "olecranon": LandmarkRule((16, 18), _LEFT_ELBOW, _LEFT_WRIST, 0.04, _BACK),
    "forearm": LandmarkRule((18,), _LEFT_ELBOW, _LEFT_WRIST, 0.5, _UP),
    "wrist_radial": LandmarkRule((18, 20), _LEFT_WRIST, _LEFT_WRIST, 0, _FWD),
    "wrist_ulnar": LandmarkRule((18, 20), _LEFT_WRIST, _LEFT_WRIST, 0, _BACK),
    "mcp2": LandmarkRule((20, 22), _LEFT_HAND, _LEFT_HAND, 0, _UP, offset=(0, 0, 0.025)),
    "mcp5": LandmarkRule((20, 22), _LEFT_HAND, _LEFT_HAND, 0, _UP, offset=(0, 0, -0.025)),
    "fingertip3": LandmarkRule((20, 22), _LEFT_HAND, _LEFT_HAND, 0, _LAT, off_ray=1.0),
    "thumb_tip": LandmarkRule((20, 22), _LEFT_WRIST, _LEFT_HAND, 0.5, (0.3, 0, 1), off_ray=0.5),
    "asis": LandmarkRule((0, 3, 1), _LEFT_HIP, _LEFT_HIP, 0, _FWD, offset=(0.01, 0.09, 0)),
    "psis": LandmarkRule((0, 3), 0, 0, 0, _BACK, offset=(0.045, 0.04, 0)),
    "iliac_crest": LandmarkRule((0, 3), 0, 0, 0, _LAT, offset=(0, 0.12, 0)),
    "trochanter": LandmarkRule((0, 1), _LEFT_HIP, _LEFT_HIP, 0, _LAT, offset=(0, -0.03, 0)),
    "thigh_lateral": LandmarkRule((1,), _LEFT_HIP, _LEFT_KNEE, 0.5, _LAT),
    "thigh_anterior": LandmarkRule((1,), _LEFT_HIP, _LEFT_KNEE, 0.5, _FWD),
    "knee_lateral": LandmarkRule((1, 4), _LEFT_KNEE, _LEFT_KNEE, 0, _LAT),
    "knee_medial": LandmarkRule((1, 4), _LEFT_KNEE, _LEFT_KNEE, 0, _MED),
    "patella": LandmarkRule((1, 4), _LEFT_KNEE, _LEFT_KNEE, 0, _FWD, offset=(0, 0.01, 0)),
    "tibial_tuberosity": LandmarkRule((4,), _LEFT_KNEE, _LEFT_ANKLE, 0.12, _FWD),
    "fibular_head": LandmarkRule((4,), _LEFT_KNEE, _LEFT_ANKLE, 0.08, (1, 0, -0.3)),
    "shank_anterior": LandmarkRule((4,), _LEFT_KNEE, _LEFT_ANKLE, 0.5, _FWD),
    "shank_lateral": LandmarkRule((4,), _LEFT_KNEE, _LEFT_ANKLE, 0.5, _LAT),
    "ankle_lateral": LandmarkRule((4, 7), _LEFT_ANKLE, _LEFT_ANKLE, 0, _LAT),
    "ankle_medial": LandmarkRule((4, 7), _LEFT_ANKLE, _LEFT_ANKLE, 0, _MED),
    "heel": LandmarkRule((7,), _LEFT_ANKLE, _LEFT_ANKLE, 0, _BACK, offset=(0, -0.04, 0), off_ray=1.0),
    "heel_lateral": LandmarkRule((7,), _LEFT_ANKLE, _LEFT_ANKLE, 0, _LAT, offset=(0, -0.04, -0.02)),
    "navicular": LandmarkRule((7,), _LEFT_ANKLE, _LEFT_FOOT, 0.45, (-0.3, 1, 0)),
    "mt1_base": LandmarkRule((7,), _LEFT_ANKLE, _LEFT_FOOT, 0.65, _MED),
    "mt1_head": LandmarkRule((7, 10), _LEFT_FOOT, _LEFT_FOOT, 0, _MED),
    "mt5_head": LandmarkRule((7, 10), _LEFT_FOOT, _LEFT_FOOT, 0, _LAT, offset=(0, 0, -0.01)),
    "toe": LandmarkRule((10, 7), _LEFT_FOOT, _LEFT_FOOT, 0, _FWD, offset=(-0.015, 0, 0)),
}
"""The landmark rules by marker name without side suffix (see ``builder.markers``)."""


def _rule_for(marker: str) -> tuple[LandmarkRule, int]:
    """The rule of a marker and its side sign (+1 left/midline, -1 right)."""
    if marker.endswith(("_r", "_l")):
        return RULES[marker[:-2]], (-1 if marker.endswith("_r") else 1)
    return RULES[marker], 1


def find_landmark(rest: RestBody, marker: str) -> int:
    """Vertex id of one marker on a rest body, by its landmark rule."""
    rule, side = _rule_for(marker)
    mirror = (lambda j: _MIRROR.get(j, j)) if side < 0 else (lambda j: j)
    flip = np.array([side, 1.0, 1.0])
    anchor = (1 - rule.t) * rest.joints[mirror(rule.a)] + rule.t * rest.joints[mirror(rule.b)]
    anchor = anchor + flip * np.asarray(rule.offset)
    direction = flip * np.asarray(rule.direction, dtype=float)
    direction /= np.linalg.norm(direction)
    candidates = np.flatnonzero(np.isin(rest.vertex_joint, [mirror(j) for j in rule.segments]))
    rel = rest.vertices[candidates] - anchor
    along = rel @ direction
    off = np.linalg.norm(rel - along[:, None] * direction, axis=1)
    return int(candidates[np.argmax(along - rule.off_ray * off)])


def find_landmarks(rest: RestBody) -> np.ndarray:
    """Vertex ids (87,) of every marker, in ``MARKER_NAMES`` order."""
    return np.array([find_landmark(rest, name) for name in MARKER_NAMES], dtype=np.int64)


def read_marker_table(path: Path) -> np.ndarray:
    """Vertex ids (87,) from a ``marker,vertex`` CSV table, checked against ``MARKER_NAMES``."""
    with open(path, newline="") as f:
        rows = {row["marker"]: int(row["vertex"]) for row in csv.DictReader(f)}
    missing = [name for name in MARKER_NAMES if name not in rows]
    if missing:
        raise ValueError(f"{path}: marker table lacks {missing}")
    return np.array([rows[name] for name in MARKER_NAMES], dtype=np.int64)


def write_marker_table(path: Path, vertex_ids: np.ndarray) -> None:
    """Write a ``marker,vertex`` CSV table atomically."""
    lines = ["marker,vertex"] + [f"{name},{int(v)}" for name, v in zip(MARKER_NAMES, vertex_ids)]
    write_text_atomic(path, "\n".join(lines) + "\n")


def _cache_dir() -> Path:
    return Path(os.environ.get("BIOHUMAN_CACHE", Path.home() / ".cache" / "biohuman")) / "markers"


def marker_vertex_ids(body) -> np.ndarray:
    """Marker vertex ids (87,) of a body surface's topology: the shipped table or a derived, cached one."""
    shipped = DATA_DIR / f"markers_{body.topology}.csv"
    if shipped.is_file():
        return read_marker_table(shipped)
    rest = body.rest_body()
    key = hashlib.sha256(np.ascontiguousarray(rest.faces, dtype=np.int64).tobytes()).hexdigest()[:16]
    cached = _cache_dir() / f"markers_{body.topology}_{key}.csv"
    if cached.is_file():
        return read_marker_table(cached)
    ids = find_landmarks(rest)
    write_marker_table(cached, ids)
    return ids
