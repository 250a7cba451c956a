"""Fixed vocabularies of BioHuman10M: the 24 SMPL joints and the 112 ULBS-112 muscle channels.

The muscle order defined here is the channel order of every activation array in the dataset
and the order of the muscles in the ULBS-112 OpenSim model (``builder.musculoskeletal``).
Lower-limb names follow the Rajagopal et al. (2016) model; trunk and upper-limb names follow
the same lower-case, side-suffixed style.
"""

from __future__ import annotations

from dataclasses import dataclass

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
"""SMPL joint names in the order of the 72-D axis-angle pose (joint ``j`` uses ``3j:3j+3``)."""

SMPL_JOINT_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
"""Parent index of each SMPL joint (-1 for the root), the SMPL kinematic tree."""

NUM_SMPL_JOINTS = len(SMPL_JOINT_NAMES)
SMPL_POSE_DIM = 3 * NUM_SMPL_JOINTS

MUSCLE_GROUPS: tuple[str, ...] = ("hip", "knee", "ankle", "toes", "trunk", "shoulder", "elbow")
"""Anatomical groups, named after the joint each muscle mainly actuates."""


@dataclass(frozen=True)
class Muscle:
    """One activation channel: model muscle name, body side, anatomical group and full name."""

    name: str
    side: str
    group: str
    description: str


# (base name, group, anatomical name). Lower limb: the 40 muscles per leg of Rajagopal2016.
_LOWER_LIMB: tuple[tuple[str, str, str], ...] = (
    ("addbrev", "hip", "adductor brevis"),
    ("addlong", "hip", "adductor longus"),
    ("addmagDist", "hip", "adductor magnus, distal"),
    ("addmagIsch", "hip", "adductor magnus, ischial"),
    ("addmagMid", "hip", "adductor magnus, middle"),
    ("addmagProx", "hip", "adductor magnus, proximal"),
    ("bflh", "knee", "biceps femoris, long head"),
    ("bfsh", "knee", "biceps femoris, short head"),
    ("edl", "toes", "extensor digitorum longus"),
    ("ehl", "toes", "extensor hallucis longus"),
    ("fdl", "toes", "flexor digitorum longus"),
    ("fhl", "toes", "flexor hallucis longus"),
    ("gaslat", "ankle", "gastrocnemius, lateral head"),
    ("gasmed", "ankle", "gastrocnemius, medial head"),
    ("glmax1", "hip", "gluteus maximus, superior"),
    ("glmax2", "hip", "gluteus maximus, middle"),
    ("glmax3", "hip", "gluteus maximus, inferior"),
    ("glmed1", "hip", "gluteus medius, anterior"),
    ("glmed2", "hip", "gluteus medius, middle"),
    ("glmed3", "hip", "gluteus medius, posterior"),
    ("glmin1", "hip", "gluteus minimus, anterior"),
    ("glmin2", "hip", "gluteus minimus, middle"),
    ("glmin3", "hip", "gluteus minimus, posterior"),
    ("grac", "knee", "gracilis"),
    ("iliacus", "hip", "iliacus"),
    ("perbrev", "ankle", "peroneus brevis"),
    ("perlong", "ankle", "peroneus longus"),
    ("piri", "hip", "piriformis"),
    ("psoas", "hip", "psoas major"),
    ("recfem", "knee", "rectus femoris"),
    ("sart", "knee", "sartorius"),
    ("semimem", "knee", "semimembranosus"),
    ("semiten", "knee", "semitendinosus"),
    ("soleus", "ankle", "soleus"),
    ("tfl", "hip", "tensor fasciae latae"),
    ("tibant", "ankle", "tibialis anterior"),
    ("tibpost", "ankle", "tibialis posterior"),
    ("vasint", "knee", "vastus intermedius"),
    ("vaslat", "knee", "vastus lateralis"),
    ("vasmed", "knee", "vastus medialis"),
)

# Trunk and upper limb: 16 muscles per side.
_TRUNK_UPPER_LIMB: tuple[tuple[str, str, str], ...] = (
    ("ercspn", "trunk", "erector spinae"),
    ("rectabd", "trunk", "rectus abdominis"),
    ("extobl", "trunk", "external oblique"),
    ("intobl", "trunk", "internal oblique"),
    ("deltant", "shoulder", "deltoid, anterior"),
    ("deltmid", "shoulder", "deltoid, middle"),
    ("deltpost", "shoulder", "deltoid, posterior"),
    ("pecmaj", "shoulder", "pectoralis major"),
    ("latdors", "shoulder", "latissimus dorsi"),
    ("biclong", "elbow", "biceps brachii, long head"),
    ("bicshort", "elbow", "biceps brachii, short head"),
    ("trilong", "elbow", "triceps brachii, long head"),
    ("trilat", "elbow", "triceps brachii, lateral head"),
    ("trimed", "elbow", "triceps brachii, medial head"),
    ("brachialis", "elbow", "brachialis"),
    ("brachiorad", "elbow", "brachioradialis"),
)

_SIDE_NAMES = {"r": "right", "l": "left"}


def _sided(table: tuple[tuple[str, str, str], ...], side: str) -> tuple[Muscle, ...]:
    return tuple(
        Muscle(f"{base}_{side}", _SIDE_NAMES[side], group, f"{description} ({_SIDE_NAMES[side]})")
        for base, group, description in table
    )


MUSCLES: tuple[Muscle, ...] = (
    _sided(_LOWER_LIMB, "r") + _sided(_LOWER_LIMB, "l")
    + _sided(_TRUNK_UPPER_LIMB, "r") + _sided(_TRUNK_UPPER_LIMB, "l")
)
"""The 112 activation channels in dataset order: right leg, left leg, right and left trunk/arm."""

MUSCLE_NAMES: tuple[str, ...] = tuple(m.name for m in MUSCLES)
NUM_MUSCLES = len(MUSCLES)
MUSCLE_INDEX: dict[str, int] = {name: i for i, name in enumerate(MUSCLE_NAMES)}


def muscle_indices(*, group: str | None = None, side: str | None = None) -> list[int]:
    """Channel indices of the muscles in ``group`` and/or on ``side`` ("left"/"right")."""
    if group is not None and group not in MUSCLE_GROUPS:
        raise ValueError(f"unknown muscle group {group!r}; known: {', '.join(MUSCLE_GROUPS)}")
    if side is not None and side not in _SIDE_NAMES.values():
        raise ValueError(f"unknown side {side!r}; use 'left' or 'right'")
    return [
        i
        for i, m in enumerate(MUSCLES)
        if (group is None or m.group == group) and (side is None or m.side == side)
    ]
