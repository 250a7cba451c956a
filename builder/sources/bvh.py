"""BVH (Biovision hierarchy) motion files, e.g. the CMU mocap conversions, retargeted to SMPL.

BVH joints have world-aligned rest frames: the rest pose is the skeleton of OFFSETs with every
rotation at identity, and a joint's rotation channels (Euler angles in degrees, applied in the
listed order as intrinsic rotations) turn the bone from that joint to its children. This is
SMPL's convention, so each SMPL joint takes the world rotation of the BVH joint of the same
segment (:mod:`builder.sources.retarget`). The source axes are found from the rest skeleton
(left = right hip to left hip, up = hips to head), so Y-up files facing +Z (CMU) and other
orientations both work. Sizes are scaled so the rest skeleton spans ``height`` metres, unless
``scale`` (metres per file unit) is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import MotionSourceError
from .motion import MotionSequence
from .retarget import LIMB_BONES, J, RetargetSpec, retarget, source_basis
from .timing import nice_rate
from .validate import checked_sequence, make_id

DEFAULT_HEIGHT = 1.70
"""Height (m) of the rest skeleton (head end site to lowest foot end site) when no scale is given."""

_POSITION = ("xposition", "yposition", "zposition")
_ROTATION = ("xrotation", "yrotation", "zrotation")


@dataclass
class BvhSkeleton:
    """Joints of a BVH hierarchy in file order (a parent always precedes its children)."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray            # (J, 3) rest offset from the parent joint, file units
    channels: list[list[str]]      # per joint, lower-case channel names in file order
    end_sites: dict[int, np.ndarray]  # joint index -> End Site offset

    def index(self, name: str) -> int | None:
        """Index of the joint called ``name`` (case-insensitive, ignoring prefixes like ``mixamorig:``), or None."""
        lowered = [n.rsplit(":", 1)[-1].lower() for n in self.names]
        return lowered.index(name.lower()) if name.lower() in lowered else None

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions of the rest pose, root at its offset."""
        positions = np.zeros((len(self.names), 3))
        for j, parent in enumerate(self.parents):
            positions[j] = self.offsets[j] + (positions[parent] if parent >= 0 else 0.0)
        return positions


@dataclass
class BvhMotion:
    """A parsed BVH file: skeleton, frame time (s) and the (F, channels) motion table."""

    skeleton: BvhSkeleton
    frame_time: float
    values: np.ndarray


def parse_bvh(path: str | Path) -> BvhMotion:
    """Parse a BVH file; raises :class:`MotionSourceError` describing any syntax problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise MotionSourceError(path, f"cannot read BVH file ({error})") from None
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise MotionSourceError(path, "no MOTION section; not a complete BVH file")
    tokens = head.split()
    if not tokens or tokens[0] != "HIERARCHY":
        raise MotionSourceError(path, "does not start with HIERARCHY; not a BVH file")
    skeleton = BvhSkeleton([], [], np.zeros((0, 3)), [], {})
    offsets: list[np.ndarray] = []
    stack: list[int] = []
    pos = 1

    def take(count: int = 1) -> list[str]:
        nonlocal pos
        if pos + count > len(tokens):
            raise MotionSourceError(path, "hierarchy ends early (truncated file?)")
        pos += count
        return tokens[pos - count:pos]

    def numbers(count: int, what: str) -> np.ndarray:
        try:
            return np.array([float(v) for v in take(count)])
        except ValueError:
            raise MotionSourceError(path, f"{what}: expected {count} numbers") from None

    while pos < len(tokens):
        keyword = take()[0]
        if keyword in ("ROOT", "JOINT"):
            name = take()[0]
            if take()[0] != "{":
                raise MotionSourceError(path, f"expected '{{' after {keyword} {name}")
            if take()[0] != "OFFSET":
                raise MotionSourceError(path, f"joint {name}: expected OFFSET")
            offsets.append(numbers(3, f"OFFSET of {name}"))
            if take()[0] != "CHANNELS":
                raise MotionSourceError(path, f"joint {name}: expected CHANNELS")
            try:
                count = int(take()[0])
            except ValueError:
                raise MotionSourceError(path, f"joint {name}: channel count is not an integer") from None
            channels = [c.lower() for c in take(count)]
            unknown = [c for c in channels if c not in _POSITION + _ROTATION]
            if unknown:
                raise MotionSourceError(path, f"joint {name}: unknown channels {unknown}")
            skeleton.names.append(name)
            skeleton.parents.append(stack[-1] if stack else -1)
            skeleton.channels.append(channels)
            stack.append(len(skeleton.names) - 1)
        elif keyword == "End":
            take()  # "Site"
            if take(2) != ["{", "OFFSET"]:
                raise MotionSourceError(path, "End Site: expected '{ OFFSET'")
            skeleton.end_sites[stack[-1]] = numbers(3, "End Site OFFSET")
            if take()[0] != "}":
                raise MotionSourceError(path, "End Site: expected '}'")
        elif keyword == "}":
            if not stack:
                raise MotionSourceError(path, "unbalanced '}' in hierarchy")
            stack.pop()
        else:
            raise MotionSourceError(path, f"unexpected {keyword!r} in hierarchy")
    if stack or not skeleton.names:
        raise MotionSourceError(path, "hierarchy is empty or has unclosed braces")
    skeleton.offsets = np.array(offsets)

    lines = motion.strip().splitlines()
    try:
        num_frames = int(lines[0].split(":")[1])
        frame_time = float(lines[1].split(":")[1])
        values = np.array([[float(v) for v in line.split()] for line in lines[2:] if line.strip()], dtype=np.float64)
    except (IndexError, ValueError):
        raise MotionSourceError(path, "MOTION section needs 'Frames: N', 'Frame Time: dt' "
                                      "and rows of numbers") from None
    width = sum(len(c) for c in skeleton.channels)
    if len(values) != num_frames:
        raise MotionSourceError(path, f"header says {num_frames} frames but {len(values)} rows follow "
                                      "(truncated file?)")
    if num_frames and (values.ndim != 2 or values.shape[1] != width):
        raise MotionSourceError(path, f"motion rows must have {width} values (the hierarchy's channels)")
    if frame_time <= 0:
        raise MotionSourceError(path, f"Frame Time must be positive, got {frame_time}")
    return BvhMotion(skeleton, frame_time, values.reshape(num_frames, width))


def forward_kinematics(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (F, J, 3, 3) and positions (F, J, 3, file units) of every joint.

    A joint with position channels is placed at those values (relative to its parent), others
    at their OFFSET.
    """
    skeleton, values = motion.skeleton, motion.values
    frames, joints = len(values), len(skeleton.names)
    rotations = np.empty((frames, joints, 3, 3))
    positions = np.empty((frames, joints, 3))
    column = 0
    for j, (parent, channels) in enumerate(zip(skeleton.parents, skeleton.channels)):
        block = values[:, column:column + len(channels)]
        column += len(channels)
        order = "".join(c[0].upper() for c in channels if c in _ROTATION)
        angles = block[:, [i for i, c in enumerate(channels) if c in _ROTATION]]
        local = (Rotation.from_euler(order, angles, degrees=True).as_matrix() if order
                 else np.broadcast_to(np.eye(3), (frames, 3, 3)))
        offset = np.broadcast_to(skeleton.offsets[j], (frames, 3)).copy()
        for axis, name in enumerate(_POSITION):
            if name in channels:
                offset[:, axis] = block[:, channels.index(name)]
        if parent < 0:
            rotations[:, j], positions[:, j] = local, offset
        else:
            rotations[:, j] = rotations[:, parent] @ local
            positions[:, j] = positions[:, parent] + np.einsum("fij,fj->fi", rotations[:, parent], offset)
    return rotations, positions


# SMPL joint -> BVH joint names, first match wins (CMU conversions, then common Biovision/Mixamo names).
_CMU_SPINE = {"spine1": ("LowerBack",), "spine2": ("Spine",), "spine3": ("Spine1",)}
_GENERIC_SPINE = {"spine1": ("Spine", "Abdomen"), "spine2": ("Spine1", "Chest"),
                  "spine3": ("Spine2", "Chest2", "Spine3")}
_NAMES = {
    "pelvis": ("Hips", "Hip", "Pelvis", "Root"),
    "left_hip": ("LeftUpLeg", "LeftHip", "LeftThigh", "lThigh", "LHip"),
    "right_hip": ("RightUpLeg", "RightHip", "RightThigh", "rThigh", "RHip"),
    "left_knee": ("LeftLeg", "LeftKnee", "LeftShin", "lShin", "LKnee"),
    "right_knee": ("RightLeg", "RightKnee", "RightShin", "rShin", "RKnee"),
    "left_ankle": ("LeftFoot", "LeftAnkle", "lFoot", "LAnkle"),
    "right_ankle": ("RightFoot", "RightAnkle", "rFoot", "RAnkle"),
    "left_foot": ("LeftToeBase", "LeftToe", "LeftToes"),
    "right_foot": ("RightToeBase", "RightToe", "RightToes"),
    "neck": ("Neck", "Neck1"),
    "head": ("Head",),
    "left_collar": ("LeftShoulder", "LeftCollar", "lCollar"),
    "right_collar": ("RightShoulder", "RightCollar", "rCollar"),
    "left_shoulder": ("LeftArm", "LeftUpArm", "lShldr"),
    "right_shoulder": ("RightArm", "RightUpArm", "rShldr"),
    "left_elbow": ("LeftForeArm", "LeftLowArm", "lForeArm"),
    "right_elbow": ("RightForeArm", "RightLowArm", "rForeArm"),
    "left_wrist": ("LeftHand", "lHand"),
    "right_wrist": ("RightHand", "rHand"),
    "left_hand": ("LeftFingerBase",),
    "right_hand": ("RightFingerBase",),
}
_REQUIRED = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "head")


def smpl_drivers(skeleton: BvhSkeleton) -> dict[int, int]:
    """SMPL joint -> BVH joint index, by joint name (CMU or common Biovision/Mixamo naming)."""
    spine = _CMU_SPINE if skeleton.index("LowerBack") is not None else _GENERIC_SPINE
    drivers = {}
    for smpl_name, candidates in {**_NAMES, **spine}.items():
        found = next((i for name in candidates if (i := skeleton.index(name)) is not None), None)
        if found is not None:
            drivers[J[smpl_name]] = found
    return drivers


def retarget_spec(skeleton: BvhSkeleton, drivers: dict[int, int]) -> RetargetSpec:
    """Axes and rest-bone corrections of a BVH skeleton (see :mod:`builder.sources.retarget`)."""
    rest = skeleton.rest_positions()
    left = rest[drivers[J["left_hip"]]] - rest[drivers[J["right_hip"]]]
    up = rest[drivers[J["head"]]] - rest[drivers[J["pelvis"]]]
    directions = {}
    for joint, child in LIMB_BONES.items():
        if joint not in drivers:
            continue
        start = drivers[joint]
        if child in drivers:
            bone = rest[drivers[child]] - rest[start]
        else:
            children = [c for c, p in enumerate(skeleton.parents) if p == start]
            bone = skeleton.offsets[children[0]] if children else skeleton.end_sites.get(start, np.zeros(3))
        if np.linalg.norm(bone) > 1e-9:
            directions[joint] = bone
    return RetargetSpec(to_smpl=source_basis(left, up), drivers=drivers, bone_directions=directions)


def rest_height(skeleton: BvhSkeleton, up: np.ndarray) -> float:
    """Extent of the rest skeleton (joints and end sites) along ``up``, file units."""
    rest = skeleton.rest_positions()
    ends = [rest[j] + offset for j, offset in skeleton.end_sites.items()]
    heights = np.concatenate([rest, np.array(ends).reshape(-1, 3)]) @ (up / np.linalg.norm(up))
    return float(heights.max() - heights.min())


def read_bvh(path: str | Path, height: float = DEFAULT_HEIGHT, scale: float | None = None,
             subject: str | None = None) -> list[MotionSequence]:
    """One SMPL :class:`MotionSequence` retargeted from a BVH file.

    ``scale``: metres per file unit; when None the rest skeleton is scaled to ``height`` metres.
    """
    path = Path(path)
    motion = parse_bvh(path)
    skeleton = motion.skeleton
    drivers = smpl_drivers(skeleton)
    missing = [name for name in _REQUIRED if J[name] not in drivers]
    if missing:
        raise MotionSourceError(path, f"no BVH joints for SMPL {missing}; joint names found: {skeleton.names}")
    spec = retarget_spec(skeleton, drivers)
    if scale is None:
        scale = height / rest_height(skeleton, spec.to_smpl[1])
    rotations, positions = forward_kinematics(motion)
    hip_centre = 0.5 * (positions[:, drivers[J["left_hip"]]] + positions[:, drivers[J["right_hip"]]]) * scale
    poses, trans = retarget(rotations, hip_centre, spec)
    return [checked_sequence(path, sequence_id=make_id("bvh", path.stem), source="bvh",
                             subject=subject or path.parent.name,
                             poses=poses, trans=trans, fps=nice_rate(1.0 / motion.frame_time))]
