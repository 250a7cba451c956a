"""Retarget a skeleton's world segment rotations to SMPL 24-joint axis-angle poses.

Both skeletons have world-aligned rest frames (every joint frame parallel to the world in the
rest pose), so an SMPL segment takes the world orientation of the source segment that drives it:

    G_smpl[j] = C @ G_src[driver(j)] @ C.T @ A[j]

``C`` re-expresses source world axes in SMPL's (X = body's left, Y = up, Z = forward), found
from the source's rest skeleton. ``A[j]`` corrects rest-direction differences: it turns the
SMPL rest bone of ``j`` (towards its child in the neutral SMPL T-pose) onto the source's rest
bone, e.g. SMPL's horizontal T-pose arm onto a source arm that hangs down. SMPL joints without a
driver keep their parent's world rotation (identity local rotation); ``spreads`` share one
source rotation evenly over a chain of SMPL joints (e.g. a single chest joint over spine1-3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import NUM_SMPL_JOINTS, SMPL_JOINT_NAMES, SMPL_JOINT_PARENTS

from .smpl_frames import SMPL_PELVIS_REST

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}

LIMB_BONES = {
    J["left_hip"]: J["left_knee"], J["right_hip"]: J["right_knee"],
    J["left_knee"]: J["left_ankle"], J["right_knee"]: J["right_ankle"],
    J["left_ankle"]: J["left_foot"], J["right_ankle"]: J["right_foot"],
    J["left_collar"]: J["left_shoulder"], J["right_collar"]: J["right_shoulder"],
    J["left_shoulder"]: J["left_elbow"], J["right_shoulder"]: J["right_elbow"],
    J["left_elbow"]: J["left_wrist"], J["right_elbow"]: J["right_wrist"],
    J["left_wrist"]: J["left_hand"], J["right_wrist"]: J["right_hand"],
}
"""Limb joints whose rest bone direction is corrected; trunk, neck and head are upright in both."""


def smpl_rest_direction(joint: int) -> np.ndarray:
    """Unit direction of the rest bone from SMPL ``joint`` to its child (neutral T-pose)."""
    bone = SMPL_NEUTRAL_REST_JOINTS[LIMB_BONES[joint]] - SMPL_NEUTRAL_REST_JOINTS[joint]
    return bone / np.linalg.norm(bone)


def source_basis(left: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``C`` (3, 3) taking source world vectors to SMPL axes, from the source body's left and up.

    ``left`` is the rest direction from the right hip to the left hip, ``up`` from the hips
    towards the head (both in source coordinates); ``up`` is orthogonalised against ``left``.
    Rest skeletons stand along the world axes but are rarely exactly symmetric, so the result is
    snapped to the nearest axis-aligned frame when one lies within 30 degrees.
    """
    x = np.asarray(left, np.float64) / np.linalg.norm(left)
    y = np.asarray(up, np.float64) - np.dot(up, x) * x
    y /= np.linalg.norm(y)
    basis = np.stack([x, y, np.cross(x, y)])
    snapped = np.zeros((3, 3))
    for row, axis in enumerate(np.argmax(np.abs(basis), axis=1)):
        snapped[row, axis] = np.sign(basis[row, axis])
    if np.isclose(np.linalg.det(snapped), 1.0) and (np.sum(basis * snapped, axis=1) > np.cos(np.radians(30))).all():
        return snapped
    return basis


@dataclass(frozen=True)
class RetargetSpec:
    """How a source skeleton drives SMPL.

    ``to_smpl``: ``C`` (3, 3). ``drivers``: SMPL joint -> source segment index.
    ``bone_directions``: SMPL limb joint -> rest direction of the driving source bone (source
    coordinates). ``spreads``: parent-to-child chains of SMPL joints sharing their rotation.
    """

    to_smpl: np.ndarray
    drivers: dict[int, int]
    bone_directions: dict[int, np.ndarray] = field(default_factory=dict)
    spreads: tuple[tuple[int, ...], ...] = ()

    def rest_corrections(self) -> np.ndarray:
        """``A`` (24, 3, 3): identity except limb joints whose source rest bone differs."""
        corrections = np.tile(np.eye(3), (NUM_SMPL_JOINTS, 1, 1))
        for joint, direction in self.bone_directions.items():
            target = self.to_smpl @ (np.asarray(direction, np.float64) / np.linalg.norm(direction))
            rotation, _ = Rotation.align_vectors(target[None], smpl_rest_direction(joint)[None])
            corrections[joint] = rotation.as_matrix()
        return corrections


def smpl_world_rotations(source_world: np.ndarray, spec: RetargetSpec) -> np.ndarray:
    """SMPL world rotations (T, 24, 3, 3) from source world segment rotations (T, S, 3, 3)."""
    c = spec.to_smpl
    corrections = spec.rest_corrections()
    world = np.empty((len(source_world), NUM_SMPL_JOINTS, 3, 3))
    for j, parent in enumerate(SMPL_JOINT_PARENTS):
        if j in spec.drivers:
            world[:, j] = c @ source_world[:, spec.drivers[j]] @ c.T @ corrections[j]
        elif parent < 0:
            raise ValueError("the SMPL pelvis needs a driving source segment")
        else:
            world[:, j] = world[:, parent]
    return world


def local_poses(world: np.ndarray, spreads: tuple[tuple[int, ...], ...] = ()) -> np.ndarray:
    """(T, 72) axis-angle local rotations from SMPL world rotations, with chains spread evenly."""
    local = np.empty_like(world)
    for j, parent in enumerate(SMPL_JOINT_PARENTS):
        local[:, j] = world[:, j] if parent < 0 else np.swapaxes(world[:, parent], -1, -2) @ world[:, j]
    rotvecs = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(len(world), NUM_SMPL_JOINTS, 3)
    for chain in spreads:
        if any(SMPL_JOINT_PARENTS[b] != a for a, b in zip(chain, chain[1:])):
            raise ValueError(f"spread chain {chain} is not a parent-to-child chain of SMPL joints")
        total = Rotation.identity(len(world))
        for joint in chain:
            total = total * Rotation.from_rotvec(rotvecs[:, joint])
        share = total.as_rotvec() / len(chain)
        for joint in chain:
            rotvecs[:, joint] = share
    return rotvecs.reshape(len(world), -1)


def smpl_trans(hip_centre: np.ndarray, world: np.ndarray) -> np.ndarray:
    """SMPL ``trans`` (T, 3) placing the SMPL hip centre at ``hip_centre`` (T, 3, SMPL world, metres).

    The pelvis joint sits at ``hip_centre + R_root (J0 - hip_centre_rest)`` and ``trans`` is the
    pelvis minus its rest location ``J0`` (SMPL's convention).
    """
    hip_rest = SMPL_NEUTRAL_REST_JOINTS[[J["left_hip"], J["right_hip"]]].mean(axis=0)
    pelvis = hip_centre + world[:, 0] @ (SMPL_PELVIS_REST - hip_rest)
    return pelvis - SMPL_PELVIS_REST


def retarget(source_world: np.ndarray, hip_centre: np.ndarray, spec: RetargetSpec) -> tuple[np.ndarray, np.ndarray]:
    """SMPL ``poses`` (T, 72) and ``trans`` (T, 3) from source world rotations and hip centre.

    ``hip_centre`` is in source world coordinates, already in metres.
    """
    world = smpl_world_rotations(source_world, spec)
    poses = local_poses(world, spec.spreads)
    # Spreading changes no chain's end rotation, so the root (and the hips) are as computed.
    return poses, smpl_trans(np.asarray(hip_centre, np.float64) @ spec.to_smpl.T, world)
