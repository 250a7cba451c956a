"""The Anny body (NAVER's license-free MakeHuman-based model) driven by SMPL 24-joint poses.

Retargeting: SMPL forward kinematics gives each joint's world rotation; a change of basis takes
it to Anny's frame (Z up, facing -Y, +X the body's left); each Anny bone then gets the world
rotation of the SMPL joint that drives it, composed with a fixed rest-direction correction that
turns the bone from Anny's A-pose rest onto SMPL's T-pose rest direction. Zero SMPL pose thus
gives Anny in SMPL's T-pose, and the SMPL pose moves it joint by joint.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS

from .skeleton import ANNY_TO_SMPL, world_rotations
from .surface import RestBody

log = logging.getLogger(__name__)

# Anny ``cmu_mb`` bone -> (driving SMPL joint, SMPL rest segment (from, to) or None, Anny bone whose
# tail ends the segment, or the bone whose correction it inherits).
_BONES: dict[str, tuple[int, tuple[int, int] | None, str | None]] = {
    "Hips": (0, None, None), "LHipJoint": (0, None, None), "RHipJoint": (0, None, None),
    "LowerBack": (3, None, None), "Spine": (6, None, None), "Spine1": (9, None, None),
    "Neck": (12, None, None), "Neck1": (12, None, None), "Head": (15, None, None),
    **{f"{side}{bone}": (joint + off, seg and (seg[0] + off, seg[1] + off), end and end.format(side=side))
       for side, off in (("Left", 0), ("Right", 1))
       for bone, joint, seg, end in (
           ("UpLeg", 1, (1, 4), "{side}UpLeg"), ("Leg", 4, (4, 7), "{side}Leg"),
           ("Foot", 7, (7, 10), "{side}Foot"), ("ToeBase", 10, None, "{side}Foot"),
           ("Shoulder", 13, (13, 16), "{side}Shoulder"), ("Arm", 16, (16, 18), "{side}Arm"),
           ("ForeArm", 18, (18, 20), "{side}ForeArm"), ("Hand", 20, (20, 22), "{side}Hand"),
           ("FingerBase", 22, None, "{side}Hand"), ("HandFinger1", 22, None, "{side}Hand"))},
    "LThumb": (22, None, "LeftHand"), "RThumb": (23, None, "RightHand"),
}

# SMPL joint -> Anny bone whose head stands for it.
_JOINT_BONES = (
    "Hips", "LeftUpLeg", "RightUpLeg", "LowerBack", "LeftLeg", "RightLeg", "Spine", "LeftFoot",
    "RightFoot", "Spine1", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder",
    "Head", "LeftArm", "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand",
    "LeftFingerBase", "RightFingerBase",
)

GENDER_PHENOTYPE = {"male": 0.0, "female": 1.0, "neutral": 0.5}
"""Anny's ``gender`` phenotype for each SMPL gender (Anny: 0 male, 1 female)."""

DEFAULT_PHENOTYPE = {"age": 2 / 3, "muscle": 0.5, "weight": 0.5, "height": 0.5, "proportions": 0.5}
"""An average young adult (Anny's age anchor 2/3 is 'young'; 0.5 would be a teenager)."""


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation matrix taking direction ``a`` onto direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(axis), a @ b)
    if np.linalg.norm(axis) < 1e-12:
        return np.eye(3)
    return Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()


class AnnyBody:
    """Anny's body surface (rig ``cmu_mb``) posed by SMPL poses, in SMPL's world frame."""

    topology = "anny"

    def __init__(self, gender: str = "neutral", phenotype: dict[str, float] | None = None,
                 batch_size: int = 64) -> None:
        import anny  # heavy import (warp, assets): only when an Anny body is built

        if gender not in GENDER_PHENOTYPE:
            raise ValueError(f"unknown gender {gender!r}; expected one of {tuple(GENDER_PHENOTYPE)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = anny.Anny(rig="cmu_mb", topology="anny-quads", pose_parameterization="world-orient")
        self.phenotype = {**DEFAULT_PHENOTYPE, "gender": GENDER_PHENOTYPE[gender], **(phenotype or {})}
        self.batch_size = batch_size
        labels = list(self.model.bone_labels)
        self._bone_index = {name: i for i, name in enumerate(labels)}
        with torch.no_grad():
            rest = self.model(phenotype_kwargs=self._phenotype_tensors(1), return_bone_ends=True)
        self._rest_rot = rest["rest_bone_poses"][0, :, :3, :3].double().numpy()
        heads = rest["rest_bone_heads"][0].double().numpy()
        tails = rest["rest_bone_tails"][0].double().numpy()
        self.faces = self.model.get_triangular_faces().numpy().astype(np.int64)
        self._drivers = np.array([_BONES[name][0] for name in labels])
        self._corrections = self._rest_corrections(labels, heads, tails)
        # Anny's hip centre sits where SMPL's pelvis is, lifted so its ankles match SMPL's at rest.
        smpl_leg = SMPL_NEUTRAL_REST_JOINTS[0, 1] - SMPL_NEUTRAL_REST_JOINTS[7:9, 1].mean()
        anny_leg = heads[0, 2] - heads[[self._bone_index["LeftFoot"], self._bone_index["RightFoot"]], 2].mean()
        self._root_offset = SMPL_NEUTRAL_REST_JOINTS[0] + np.array([0.0, anny_leg - smpl_leg, 0.0])
        self._vertex_weights = self._smpl_joint_weights()

    def _smpl_joint_weights(self) -> np.ndarray:
        """Anny's skinning weights summed per driving SMPL joint: (V, 24), rows summing to 1."""
        bone_weights = self.model.vertex_bone_weights.double().numpy()
        joints = self._drivers[self.model.vertex_bone_indices.numpy()]
        weights = np.zeros((len(bone_weights), 24))
        rows = np.arange(len(bone_weights))[:, None].repeat(bone_weights.shape[1], 1)
        np.add.at(weights, (rows, joints), bone_weights)
        return weights / weights.sum(1, keepdims=True)

    def _phenotype_tensors(self, batch: int) -> dict[str, torch.Tensor]:
        return {k: torch.full((batch,), float(v), dtype=torch.float64) for k, v in self.phenotype.items()}

    def _rest_corrections(self, labels: list[str], heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """Per-bone rotation (Anny frame) from Anny's rest direction onto SMPL's T-pose direction."""
        corrections = np.tile(np.eye(3), (len(labels), 1, 1))
        to_anny = ANNY_TO_SMPL.T
        for i, name in enumerate(labels):
            _, segment, end = _BONES[name]
            if segment is not None:
                smpl_dir = to_anny @ (SMPL_NEUTRAL_REST_JOINTS[segment[1]] - SMPL_NEUTRAL_REST_JOINTS[segment[0]])
                corrections[i] = _min_rotation(tails[self._bone_index[end]] - heads[i], smpl_dir)
        for i, name in enumerate(labels):  # bones without a segment of their own inherit one
            _, segment, end = _BONES[name]
            if segment is None and end is not None:
                corrections[i] = corrections[self._bone_index[end]]
        return corrections

    def _forward(self, poses: np.ndarray, trans: np.ndarray) -> dict[str, torch.Tensor]:
        """Anny's forward pass for one batch of SMPL poses; returns Anny-frame outputs."""
        to_anny = ANNY_TO_SMPL.T
        world = world_rotations(poses)[:, self._drivers]                      # (B, 31, 3, 3) SMPL frame
        world = to_anny @ world @ ANNY_TO_SMPL                                # Anny frame
        orient = world @ self._corrections @ self._rest_rot                   # bone world orientations
        delta = np.zeros((len(poses), len(self._drivers), 4, 4))
        delta[:, :, :3, :3] = orient
        delta[:, :, 3, 3] = 1.0
        delta[:, 0, :3, 3] = (trans + self._root_offset) @ ANNY_TO_SMPL       # SMPL -> Anny frame
        with torch.no_grad():
            return self.model(pose_parameters=torch.from_numpy(delta),
                              phenotype_kwargs=self._phenotype_tensors(len(poses)))

    def posed_vertices(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """Vertices (T, V, 3) float32 in SMPL's world frame for poses (T, 72) and ``trans`` (T, 3)."""
        poses, trans = np.asarray(poses, np.float64), np.asarray(trans, np.float64)
        out = np.empty((len(poses), len(self._vertex_weights), 3), dtype=np.float32)
        for start in range(0, len(poses), self.batch_size):
            stop = start + self.batch_size
            verts = self._forward(poses[start:stop], trans[start:stop])["vertices"].numpy()
            out[start:stop] = verts @ ANNY_TO_SMPL.T
        return out

    def posed_joints(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """Rotation centres (T, 24, 3) of the SMPL joints on Anny (heads of their bones), SMPL frame."""
        poses, trans = np.asarray(poses, np.float64), np.asarray(trans, np.float64)
        bones = [self._bone_index[name] for name in _JOINT_BONES]
        out = np.empty((len(poses), len(bones), 3))
        for start in range(0, len(poses), self.batch_size):
            stop = start + self.batch_size
            heads = self._forward(poses[start:stop], trans[start:stop])["bone_poses"][:, bones, :3, 3]
            out[start:stop] = heads.double().numpy() @ ANNY_TO_SMPL.T
        return out

    def rest_body(self) -> RestBody:
        """Anny in SMPL's zero pose, with the SMPL joints at the heads of their Anny bones."""
        zero_pose, origin = np.zeros((1, 72)), np.zeros((1, 3))
        joints = self.posed_joints(zero_pose, origin)[0]
        vertices = self._forward(zero_pose, origin)["vertices"][0].double().numpy() @ ANNY_TO_SMPL.T
        return RestBody(vertices=vertices, faces=self.faces, joints=joints, vertex_weights=self._vertex_weights)
