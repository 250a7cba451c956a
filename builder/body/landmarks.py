"""Where the 87 virtual markers sit on a body surface: one vertex per marker, per topology.

Each landmark is defined once, geometrically, on a body in SMPL's T-pose: among the vertices
that move mostly with the marker's ULBS-112 body (skinning weight on its SMPL segments of at
least the rule's ``min_weight``), the one farthest from an anchor point on the skeleton in a body-relative
direction, close to the ray from the anchor, and favouring rigidly attached vertices (a vertex
blended across a joint follows neither model body, which shows up as IK marker error). The rule runs once per topology:
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
from builder.markers import LANDMARKS, MARKER_NAMES

from .surface import RestBody

DATA_DIR = Path(__file__).parent / "data"

_MIRROR = {1: 2, 4: 5, 7: 8, 10: 11, 13: 14, 16: 17, 18: 19, 20: 21, 22: 23}
_MIRROR.update({v: k for k, v in list(_MIRROR.items())})


RIGIDITY = 0.1
"""Score bonus (m) per unit skinning weight on the marker's body."""

BODY_JOINTS: dict[str, tuple[int, ...]] = {
    "pelvis": (0,), "torso": (3, 6, 9, 13, 14), "head": (12, 15), "femur": (1,), "tibia": (4,), "calcn": (7,),
    "toes": (10,), "humerus": (16,), "ulna": (18,), "radius": (18,), "hand": (20, 22),
}
"""SMPL joints whose segments make up each ULBS-112 body (left side; side suffix dropped)."""


@dataclass(frozen=True)
class LandmarkRule:
    """Anchor = lerp(joint a, joint b, t) + offset; pick the rigid vertex of the marker's body
    farthest along ``direction`` from it, penalising distance off the ray by ``off_ray``. Vectors
    are in body axes (lateral, up, forward); joints and lateral are given for the left side.
    ``lerp(1, 2, 0.5)`` is the centre of the hip joints, the root of the pelvis and spine rules."""

    a: int
    b: int
    t: float
    direction: tuple[float, float, float]
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    off_ray: float = 2.0
    min_weight: float = 0.5  # least skinning weight on the marker's body (lower where the skin blends)


_LEFT_HIP, _LEFT_KNEE, _LEFT_ANKLE, _LEFT_FOOT = 1, 4, 7, 10
_LEFT_COLLAR, _LEFT_SHOULDER, _LEFT_ELBOW, _LEFT_WRIST, _LEFT_HAND = 13, 16, 18, 20, 22
_UP, _DOWN, _FWD, _BACK, _LAT, _MED = (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1), (1, 0, 0), (-1, 0, 0)

RULES: dict[str, LandmarkRule] = {
    "head_top": LandmarkRule(15, 15, 0, _UP, off_ray=0.5),
    "glabella": LandmarkRule(15, 15, 0, _FWD, offset=(0, 0.075, 0)),
    "inion": LandmarkRule(15, 15, 0, _BACK, offset=(0, 0.04, 0)),
    "mentum": LandmarkRule(15, 15, 0, (0, -0.6, 0.8), offset=(0, -0.02, 0)),
    "c7": LandmarkRule(12, 12, 0, _BACK, offset=(0, 0.035, 0), min_weight=0.3),
    "t8": LandmarkRule(6, 12, 0.5, _BACK),
    "l1": LandmarkRule(1, 2, 0.5, _BACK, offset=(0, 0.26, 0)),
    "jugular_notch": LandmarkRule(12, 12, 0, _FWD, offset=(0, -0.05, 0)),
    "xiphoid": LandmarkRule(12, 12, 0, _FWD, offset=(0, -0.22, 0)),
    "sacrum": LandmarkRule(1, 2, 0.5, _BACK, offset=(0, 0.07, 0)),
    "pubic_symphysis": LandmarkRule(1, 2, 0.5, _FWD, offset=(0, -0.03, 0)),
    "tragus": LandmarkRule(15, 15, 0, _LAT, offset=(0, 0.04, 0)),
    "clavicle": LandmarkRule(12, _LEFT_SHOULDER, 0.45, _FWD, offset=(0, -0.02, 0), off_ray=4.0, min_weight=0.3),
    "acromion": LandmarkRule(_LEFT_SHOULDER, _LEFT_SHOULDER, 0, _UP, off_ray=3.0, min_weight=0.25),
    "scapula_inferior": LandmarkRule(9, 9, 0, _BACK, offset=(0.09, 0.06, 0)),
    "deltoid_tuberosity": LandmarkRule(_LEFT_SHOULDER, _LEFT_ELBOW, 0.4, _UP),
    "humerus_posterior": LandmarkRule(_LEFT_SHOULDER, _LEFT_ELBOW, 0.55, _BACK),
    "elbow_lateral": LandmarkRule(_LEFT_ELBOW, _LEFT_ELBOW, 0, _UP),
    "elbow_medial": LandmarkRule(_LEFT_ELBOW, _LEFT_ELBOW, 0, _DOWN),
    "olecranon": LandmarkRule(_LEFT_ELBOW, _LEFT_ELBOW, 0, _BACK, off_ray=3.0, min_weight=0.3),
    "forearm": LandmarkRule(_LEFT_ELBOW, _LEFT_WRIST, 0.5, _UP),
    "wrist_radial": LandmarkRule(_LEFT_WRIST, _LEFT_WRIST, 0, _FWD),
    "wrist_ulnar": LandmarkRule(_LEFT_WRIST, _LEFT_WRIST, 0, _BACK),
    "mcp2": LandmarkRule(_LEFT_HAND, _LEFT_HAND, 0, _UP, offset=(0, 0, 0.025)),
    "mcp5": LandmarkRule(_LEFT_HAND, _LEFT_HAND, 0, _UP, offset=(0, 0, -0.025)),
    "fingertip3": LandmarkRule(_LEFT_HAND, _LEFT_HAND, 0, _LAT, off_ray=1.0),
    "thumb_tip": LandmarkRule(_LEFT_WRIST, _LEFT_HAND, 0.5, (0.3, 0, 1), off_ray=0.5),
    "asis": LandmarkRule(_LEFT_HIP, _LEFT_HIP, 0, _FWD, offset=(0.01, 0.09, 0)),
    "psis": LandmarkRule(1, 2, 0.5, _BACK, offset=(0.045, 0.07, 0)),
    "iliac_crest": LandmarkRule(1, 2, 0.5, (1, 0, 0.3), offset=(0, 0.22, 0)),
    "trochanter": LandmarkRule(_LEFT_HIP, _LEFT_HIP, 0, _LAT, offset=(0, -0.03, 0)),
    "thigh_lateral": LandmarkRule(_LEFT_HIP, _LEFT_KNEE, 0.5, _LAT),
    "thigh_anterior": LandmarkRule(_LEFT_HIP, _LEFT_KNEE, 0.65, _FWD),
    "knee_lateral": LandmarkRule(_LEFT_KNEE, _LEFT_KNEE, 0, _LAT),
    "knee_medial": LandmarkRule(_LEFT_KNEE, _LEFT_KNEE, 0, _MED),
    "patella": LandmarkRule(_LEFT_KNEE, _LEFT_KNEE, 0, _FWD, offset=(0, 0.01, 0)),
    "tibial_tuberosity": LandmarkRule(_LEFT_KNEE, _LEFT_ANKLE, 0.12, _FWD),
    "fibular_head": LandmarkRule(_LEFT_KNEE, _LEFT_ANKLE, 0.08, (1, 0, -0.3)),
    "shank_anterior": LandmarkRule(_LEFT_KNEE, _LEFT_ANKLE, 0.5, _FWD),
    "shank_lateral": LandmarkRule(_LEFT_KNEE, _LEFT_ANKLE, 0.5, _LAT),
    "ankle_lateral": LandmarkRule(_LEFT_ANKLE, _LEFT_ANKLE, 0, _LAT),
    "ankle_medial": LandmarkRule(_LEFT_ANKLE, _LEFT_ANKLE, 0, _MED),
    "heel": LandmarkRule(_LEFT_ANKLE, _LEFT_ANKLE, 0, _BACK, offset=(0, -0.04, 0), off_ray=1.0),
    "heel_lateral": LandmarkRule(_LEFT_ANKLE, _LEFT_ANKLE, 0, _LAT, offset=(0, -0.04, -0.02)),
    "navicular": LandmarkRule(_LEFT_ANKLE, _LEFT_FOOT, 0.45, (-0.3, 1, 0)),
    "mt1_base": LandmarkRule(_LEFT_ANKLE, _LEFT_FOOT, 0.65, _MED),
    "mt1_head": LandmarkRule(_LEFT_FOOT, _LEFT_FOOT, 0, _MED),
    "mt5_head": LandmarkRule(_LEFT_FOOT, _LEFT_FOOT, 0, _LAT, offset=(0, 0, -0.01)),
    "toe": LandmarkRule(_LEFT_FOOT, _LEFT_FOOT, 0, _FWD, offset=(-0.015, 0, 0)),
}
"""The landmark rules by marker name without side suffix (see ``builder.markers``)."""


def _rule_for(marker: str) -> tuple[LandmarkRule, int]:
    """The rule of a marker and its side sign (+1 left/midline, -1 right)."""
    if marker.endswith(("_r", "_l")):
        return RULES[marker[:-2]], (-1 if marker.endswith("_r") else 1)
    return RULES[marker], 1


_BODY = {m.name: m.body.removesuffix("_r").removesuffix("_l") for m in LANDMARKS}


def _body_weight(rest: RestBody, marker: str, side: int) -> np.ndarray:
    joints = [_MIRROR.get(j, j) if side < 0 else j for j in BODY_JOINTS[_BODY[marker]]]
    return rest.vertex_weights[:, joints].sum(1)


def find_landmark(rest: RestBody, marker: str) -> int:
    """Vertex id of one marker on a rest body, by its landmark rule.

    Right-side markers mirror their left twin (nearest vertex to its mirror image), so the two
    sides are symmetric on a symmetric body.
    """
    rule, side = _rule_for(marker)
    if side < 0:
        twin = rest.vertices[find_landmark(rest, marker[:-2] + "_l")] * np.array([-1.0, 1.0, 1.0])
        candidates = np.flatnonzero(_body_weight(rest, marker, side) >= rule.min_weight)
        return int(candidates[np.argmin(np.linalg.norm(rest.vertices[candidates] - twin, axis=1))])
    anchor = (1 - rule.t) * rest.joints[rule.a] + rule.t * rest.joints[rule.b] + np.asarray(rule.offset)
    direction = np.asarray(rule.direction, dtype=float) / np.linalg.norm(rule.direction)
    body_weight = _body_weight(rest, marker, side)
    candidates = np.flatnonzero(body_weight >= rule.min_weight)
    rel = rest.vertices[candidates] - anchor
    along = rel @ direction
    off = np.linalg.norm(rel - along[:, None] * direction, axis=1)
    return int(candidates[np.argmax(along - rule.off_ray * off + RIGIDITY * body_weight[candidates])])


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
    digest = hashlib.sha256(np.ascontiguousarray(rest.faces, dtype=np.int64).tobytes())
    digest.update(repr((RULES, BODY_JOINTS, RIGIDITY, _BODY)).encode())  # new rules: a new table
    key = digest.hexdigest()[:16]
    cached = _cache_dir() / f"markers_{body.topology}_{key}.csv"
    if cached.is_file():
        return read_marker_table(cached)
    ids = find_landmarks(rest)
    write_marker_table(cached, ids)
    return ids
