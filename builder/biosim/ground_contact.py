"""Which parts of the body touch the floor, from kinematics alone: contact sites and their detection.

A :class:`ContactSite` is a part of the body that can bear load (a foot, a hand, a knee, an elbow, the
pelvis, the trunk) with marker points that can touch the floor. :func:`detect_contact` flags, per frame,
the points and sites on the floor: a foot point is on it when it is within ``contact_height`` of its
standing height and slower than ``contact_speed`` relative to the floor (whose velocity, the belt of a
treadmill, is that of the lowest foot point, median over frames), or within ``strike_height`` and slower
than ``strike_speed`` (a heel still sliding at strike, coarse frame rates), or sunk more than
``strike_height`` below it (animated feet skate and sink into the floor). Other sites touch when a point
is within the site's ``height`` of the feet's floor and slower than ``contact_speed`` (the trunk, which
rolls over the floor, at any speed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from builder.biosim.body_kinematics import BodyKinematics
from builder.biosim.grf import SIDES


@dataclass(frozen=True)
class ContactSite:
    """A part of the body that can bear load on the floor: applied to ``body``, labelled ``label`` in
    ``grf.mot``; ``points`` are its markers that can touch the floor (feet: heel, 1st and 5th
    metatarsal heads, toe tip, in that order) or, prefixed ``body:``, body origins. A site other than a
    foot touches when a point is within ``height`` (m) of the feet's floor and slower than the contact speed
    (or, if it ``rolls``, at any speed), or within ``resting_height`` and at rest (slower than the still
    speed): animated clips plant hands and knees on a floor of their own, off the feet's by several cm
    (DeepMimic's crawl: its hand spheres rest 3-6 cm above its floor while its knees sink 8-12 cm into it;
    through Anny the planted right hand's knuckle markers rest 5-11 cm above the feet's floor level)."""

    label: str
    body: str
    kind: str                     # "foot", "hand", "knee", "elbow", "pelvis" or "torso"
    points: tuple[str, ...]
    height: float = 0.06
    rolls: bool = False           # touches at any speed (a trunk rolls over the floor)
    resting_height: float = 0.0   # m: a point at rest this close to the floor touches it


RESTING_HEIGHT = 0.12
"""m above the feet's floor level within which a hand or knee at rest is planted (see :class:`ContactSite`)."""


def default_sites() -> tuple[ContactSite, ...]:
    """Feet, hands, knees, elbows, pelvis (sitting, lying) and trunk (lying) of ULBS-112 (markers of
    :mod:`builder.markers`; the trunk's are 2-3 cm of soft tissue above the floor when lying on them)."""
    feet = tuple(ContactSite(s, f"calcn_{s}", "foot", (f"heel_{s}", f"mt1_head_{s}", f"mt5_head_{s}", f"toe_{s}"))
                 for s in SIDES)
    limbs = tuple(site for s in SIDES for site in (
        ContactSite(f"hand_{s}", f"hand_{s}", "hand", (f"mcp2_{s}", f"mcp5_{s}", f"fingertip3_{s}"),
                    resting_height=RESTING_HEIGHT),
        ContactSite(f"knee_{s}", f"tibia_{s}", "knee", (f"patella_{s}", f"tibial_tuberosity_{s}"),
                    resting_height=RESTING_HEIGHT),
        ContactSite(f"elbow_{s}", f"ulna_{s}", "elbow", (f"olecranon_{s}",))))
    trunk = (ContactSite("pelvis", "pelvis", "pelvis", ("sacrum", "psis_r", "psis_l", "asis_r", "asis_l"), 0.10, True),
             ContactSite("torso", "torso", "torso", ("t8", "c7", "scapula_inferior_r", "scapula_inferior_l",
                                                     "acromion_r", "acromion_l", "xiphoid"), 0.10, True))
    return feet + limbs + trunk


def foot_alternatives(side: str) -> tuple[ContactSite, ...]:
    """The foot of models without our foot markers, best first: the Rajagopal2016 walking and running
    trials' marker sets (heel, 5th metatarsal head twice, toe), then the calcaneus and toes origins."""
    upper = side.upper()
    names = ((f"{upper}.Heel", f"{upper}.MT5", f"{upper}.MT5", f"{upper}.Toe"),
             (f"{upper}CAL", f"{upper}MT5", f"{upper}MT5", f"{upper}TOE"),
             (f"body:calcn_{side}", f"body:toes_{side}", f"body:toes_{side}", f"body:toes_{side}"))
    return tuple(ContactSite(side, f"calcn_{side}", "foot", points) for points in names)


def alternating(other: np.ndarray, a: int, b: int, airborne: int = 3) -> bool:
    """Whether a stance a..b of one foot alternates with the ``other`` foot's contact (T,) bool, as in walking and
    running: the other foot is off the floor for part of it, and did not land with it (touch down within a
    frame of ``a`` after at least ``airborne`` frames off the floor, as in a jump's landing)."""
    single = bool((~other[a:b + 1]).any())
    landings = [i for i in range(max(a - 1, airborne), min(a + 2, len(other)))
                if other[i] and not other[i - airborne:i].any()]
    return single and not landings


@dataclass
class ContactState:
    """Detected contact: per site (T, N) and per point (name -> (T,)) flags, the floor's height (m) and
    horizontal velocity (3,) m/s (a treadmill belt's; ~0 overground)."""

    contact: np.ndarray
    flags: dict[str, np.ndarray]
    floor: float
    floor_velocity: np.ndarray


def standing_levels(height: np.ndarray, speed: np.ndarray, still_speed: float, floor_percentile: float) -> np.ndarray:
    """Each foot point's height when it stands on the floor (2, P) from its heights (T, 2, P) and horizontal
    speeds (T, 2, P): the median of its heights on the frames where it is still (slower than ``still_speed``)
    in the lower half of its heights. A median, not a low percentile: animated feet sink into the floor now
    and then. A foot never still takes its mirror's levels; with neither, the ``floor_percentile`` of the pair."""
    level = np.full(height.shape[1:], np.nan)
    for k in range(height.shape[1]):
        for j in range(height.shape[2]):
            h = height[:, k, j]
            still = (speed[:, k, j] < still_speed) & (h <= np.median(h))
            if still.sum() >= 3:
                level[k, j] = np.median(h[still])
    fallback = np.percentile(height, floor_percentile, axis=0).min(axis=0)
    mirror = level[::-1]
    return np.where(np.isnan(level), np.where(np.isnan(mirror), fallback, mirror), level)


def detect_contact(kin: BodyKinematics, sites: tuple[ContactSite, ...], contact_height: float = 0.05,
                   contact_speed: float = 1.0, strike_height: float = 0.02, strike_speed: float = 1.5,
                   still_speed: float = 0.3, floor_percentile: float = 2.0) -> ContactState:
    """Contact of ``sites`` (the two feet first) along ``kin`` (its ``points`` hold every site point)."""
    t = kin.time
    feet = [s for s in sites if s.kind == "foot"]
    foot_points = np.stack([np.stack([kin.points[p] for p in s.points], axis=1) for s in feet], axis=1)
    height = foot_points[..., 1]                                              # (T, 2, P)
    foot_velocity = np.gradient(foot_points, t, axis=0)
    lowest = height.reshape(len(t), -1).argmin(axis=1)
    floor_velocity = np.median(foot_velocity.reshape(len(t), -1, 3)[np.arange(len(t)), lowest], axis=0)
    floor_velocity[1] = 0.0
    relative = foot_velocity - floor_velocity
    level = standing_levels(height, np.hypot(relative[..., 0], relative[..., 2]), still_speed, floor_percentile)
    floor = float(level.min())
    flags, contact = {}, np.zeros((len(t), len(sites)), bool)
    for k, site in enumerate(sites):
        for j, p in enumerate(site.points):
            rel = np.gradient(kin.points[p], t, axis=0) - floor_velocity
            speed = np.hypot(rel[:, 0], rel[:, 2])
            if site.kind == "foot":
                above = kin.points[p][:, 1] - level[k, j]
                flags[p] = (((above < contact_height) & (speed < contact_speed))
                            | ((above < strike_height) & (speed < strike_speed)) | (above < -strike_height))
            else:
                above = kin.points[p][:, 1] - floor
                flags[p] = (((above < site.height) & ((speed < contact_speed) | site.rolls))
                            | ((above < site.resting_height) & (speed < still_speed)))
            contact[:, k] |= flags[p]
    return ContactState(contact, flags, floor, floor_velocity)
