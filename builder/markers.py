"""The 87 virtual bony-landmark markers shared by the body surface and the ULBS-112 model.

Each marker is defined once here by name, the ULBS-112 body it rides on and the landmark it
stands for. ``builder.body`` places the same names on the body-surface topologies (vertex ids),
``builder.musculoskeletal`` places them on the model's bodies; both must use exactly this list.
Bilateral landmarks carry the ``_r``/``_l`` suffix, like the muscles.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Landmark:
    """A virtual marker: name, ULBS-112 body (without side suffix) and anatomical landmark."""

    name: str
    body: str
    description: str


_MIDLINE: tuple[tuple[str, str, str], ...] = (
    ("head_top", "head", "vertex of the skull"),
    ("glabella", "head", "glabella, between the brows"),
    ("inion", "head", "external occipital protuberance"),
    ("mentum", "head", "chin, mental protuberance"),
    ("c7", "torso", "spinous process of C7"),
    ("t8", "torso", "spinous process of T8"),
    ("l1", "torso", "spinous process of L1"),
    ("jugular_notch", "torso", "suprasternal (jugular) notch"),
    ("xiphoid", "torso", "xiphoid process"),
    ("sacrum", "pelvis", "sacrum, midway between the PSIS"),
    ("pubic_symphysis", "pelvis", "pubic symphysis"),
)

_BILATERAL: tuple[tuple[str, str, str], ...] = (
    ("tragus", "head", "tragus of the ear"),
    ("clavicle", "torso", "mid-shaft of the clavicle"),
    ("acromion", "torso", "acromion process"),
    ("scapula_inferior", "torso", "inferior angle of the scapula"),
    ("deltoid_tuberosity", "humerus", "deltoid tuberosity of the humerus"),
    ("humerus_posterior", "humerus", "posterior mid-shaft of the humerus"),
    ("elbow_lateral", "humerus", "lateral epicondyle of the humerus"),
    ("elbow_medial", "humerus", "medial epicondyle of the humerus"),
    ("olecranon", "ulna", "olecranon process"),
    ("forearm", "radius", "dorsal mid-shaft of the forearm"),
    ("wrist_radial", "radius", "radial styloid process"),
    ("wrist_ulnar", "ulna", "ulnar styloid process"),
    ("mcp2", "hand", "head of the 2nd metacarpal"),
    ("mcp5", "hand", "head of the 5th metacarpal"),
    ("fingertip3", "hand", "tip of the middle finger"),
    ("thumb_tip", "hand", "tip of the thumb"),
    ("asis", "pelvis", "anterior superior iliac spine"),
    ("psis", "pelvis", "posterior superior iliac spine"),
    ("iliac_crest", "pelvis", "highest point of the iliac crest"),
    ("trochanter", "femur", "greater trochanter"),
    ("thigh_lateral", "femur", "lateral mid-shaft of the femur"),
    ("thigh_anterior", "femur", "anterior mid-shaft of the femur"),
    ("knee_lateral", "femur", "lateral femoral epicondyle"),
    ("knee_medial", "femur", "medial femoral epicondyle"),
    ("patella", "tibia", "apex of the patella"),
    ("tibial_tuberosity", "tibia", "tibial tuberosity"),
    ("fibular_head", "tibia", "head of the fibula"),
    ("shank_anterior", "tibia", "anterior tibial crest, mid-shaft"),
    ("shank_lateral", "tibia", "lateral mid-shaft of the fibula"),
    ("ankle_lateral", "tibia", "lateral malleolus"),
    ("ankle_medial", "tibia", "medial malleolus"),
    ("heel", "calcn", "posterior calcaneus"),
    ("heel_lateral", "calcn", "lateral calcaneus"),
    ("navicular", "calcn", "navicular tuberosity, dorsum of the midfoot"),
    ("mt1_base", "calcn", "base of the 1st metatarsal"),
    ("mt1_head", "calcn", "head of the 1st metatarsal"),
    ("mt5_head", "calcn", "head of the 5th metatarsal"),
    ("toe", "toes", "tip of the hallux"),
)

MIDLINE_BODIES: frozenset[str] = frozenset({"pelvis", "torso", "head"})
"""ULBS-112 bodies on the midline (no side suffix)."""

LANDMARKS: tuple[Landmark, ...] = (
    tuple(Landmark(*row) for row in _MIDLINE)
    + tuple(Landmark(f"{name}_{s}", f"{body}_{s}" if body not in MIDLINE_BODIES else body, desc)
            for s in ("r", "l") for name, body, desc in _BILATERAL)
)
"""All 87 markers: 11 midline, then the right side, then the left side."""

MARKER_NAMES: tuple[str, ...] = tuple(m.name for m in LANDMARKS)
NUM_MARKERS = len(MARKER_NAMES)
