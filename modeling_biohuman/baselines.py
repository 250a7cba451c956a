"""Baselines of the paper's tables.

* Two-stage "HMR + MinT-style" (section 5.2): stage 1 is the HMR front-end, trained on pose labels
  only; stage 2 sees the *detached* HMR pose, builds 22-joint trajectories by forward kinematics
  (``biohuman10m.metrics.smpl_forward_kinematics``), turns them into HumanML3D-style 263-D motion
  features and predicts muscles with a MinT-style network (Conv1d 263 -> D, sinusoidal positions,
  16-layer / 16-head transformer encoder, muscle head). No muscle gradient reaches the front-end.
* Pose-only ablation (section 5.4): ``BioHumanConfig(fusion_mode="pose_only")`` on the main model
  (same pose encoder, transformer and heads; no visual tokens or gates; HMR pose detached).

HumanML3D-style features per frame (263 = 1 + 2 + 1 + 63 + 126 + 66 + 4), y-up, facing = root
orientation's +z axis projected on the ground: root yaw velocity; root xz velocity in the facing
frame; root height above the floor (the rest skeleton's lowest foot joint); the 21 non-root joints
relative to the root's point on the floor, in the facing frame (so heights count from the floor
whatever the rest skeleton's origin); their local rotations as 6D ("columns");
all 22 joint velocities in the facing frame; foot contacts (left ankle, left foot, right ankle,
right foot) where the squared joint speed is below ``contact_velocity_threshold``. Velocities are
forward differences (zero on the last frame and wherever a neighbour frame is invalid).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import roma
import torch
from torch import nn

from biohuman10m.metrics import smpl_forward_kinematics
from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS

from .configuration_biohuman import BioHumanConfig
from .losses import biohuman_loss
from .modeling_biohuman import (
    BioHumanOutput,
    BioHumanPreTrainedModel,
    MuscleHead,
    build_front_end,
    encode_valid,
    first_given,
    frame_mask_from,
    sinusoidal_positions,
    temporal_transformer,
    training_noise,
)
from .rotations import axis_angle_to_rot6d

MOTION_JOINTS = 22
MOTION_FEATURE_SIZE = 263
FOOT_JOINTS = (7, 10, 8, 11)

class BioHumanTwoStageConfig(BioHumanConfig):
    """``BioHumanConfig`` plus the MinT-style stage: motion_hidden_size, motion_num_layers,
    motion_num_heads, rest_joints (24 x 3, metres, SMPL's frame: the pelvis at its rest place plus
    ``transl``; default the zero-shape neutral skeleton ``biohuman10m.skeleton.SMPL_NEUTRAL_REST_JOINTS``,
    pass the subject's ``J_regressor @ v_shaped`` when known) and contact_velocity_threshold (squared m/frame)."""

    model_type = "biohuman_two_stage"

    def __init__(self, motion_hidden_size: int = 256, motion_num_layers: int = 16, motion_num_heads: int = 16,
                 rest_joints: list[list[float]] | None = None, contact_velocity_threshold: float = 0.002,
                 **kwargs: Any) -> None:
        self.motion_hidden_size = motion_hidden_size
        self.motion_num_layers = motion_num_layers
        self.motion_num_heads = motion_num_heads
        self.rest_joints = [list(j) for j in (rest_joints or SMPL_NEUTRAL_REST_JOINTS.tolist())]
        if np.asarray(self.rest_joints).shape != (24, 3):
            raise ValueError(f"rest_joints must be 24 x 3, got {np.asarray(self.rest_joints).shape}")
        self.contact_velocity_threshold = contact_velocity_threshold
        super().__init__(**kwargs)


def _rotate_about_y(vectors: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate (..., N, 3) vectors about +y by (...) angles."""
    c, s = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    x, y, z = vectors.unbind(-1)
    return torch.stack([c * x + s * z, y, -s * x + c * z], dim=-1)


def humanml3d_features(pose: torch.Tensor, mask: torch.Tensor, rest_joints: torch.Tensor,
                       transl: torch.Tensor | None = None, contact_threshold: float = 0.002) -> torch.Tensor:
    """(B, T, 72) SMPL poses (+ optional (B, T, 3) root translation) -> (B, T, 263) motion features."""
    joints = torch.as_tensor(smpl_forward_kinematics(pose, rest_joints), dtype=pose.dtype, device=pose.device)
    joints = joints[..., :MOTION_JOINTS, :]
    if transl is not None:
        joints = joints + transl[..., None, :]
    m = mask.to(pose.dtype)
    pair = (m[:, 1:] * m[:, :-1])[..., None]
    root_rot = roma.rotvec_to_rotmat(pose[..., :3])
    forward = root_rot[..., :, 2]
    yaw = torch.atan2(forward[..., 0], forward[..., 2])
    yaw_velocity = torch.zeros_like(yaw)
    yaw_velocity[:, :-1] = torch.remainder(yaw[:, 1:] - yaw[:, :-1] + torch.pi, 2 * torch.pi) - torch.pi
    yaw_velocity[:, :-1] *= pair[..., 0]
    velocity = torch.zeros_like(joints)
    velocity[:, :-1] = (joints[:, 1:] - joints[:, :-1]) * pair[..., None]
    local_velocity = _rotate_about_y(velocity, -yaw)
    floor = rest_joints[list(FOOT_JOINTS), 1].min()
    root_ground = joints[..., :1, :].clone()
    root_ground[..., 1] = floor   # the root's point on the floor: joint heights count from the floor
    ric = _rotate_about_y(joints[..., 1:, :] - root_ground, -yaw)
    root_height = joints[..., 0, 1] - floor
    rot6d = axis_angle_to_rot6d(pose[..., 3:MOTION_JOINTS * 3])
    contacts = ((velocity[..., list(FOOT_JOINTS), :] ** 2).sum(-1) < contact_threshold).to(pose.dtype)
    features = torch.cat([
        yaw_velocity[..., None], local_velocity[..., 0, [0, 2]], root_height[..., None],
        ric.flatten(-2), rot6d.flatten(-2), local_velocity.flatten(-2), contacts,
    ], dim=-1)
    return features * m[..., None]


class BioHumanTwoStageForMuscle(BioHumanPreTrainedModel):
    """Two-stage HMR + MinT-style baseline; same forward signature and output as the main model
    (``pose`` is the HMR pose; gates are None), plus optional ``transl`` (B, T, 3) root translation."""

    config_class = BioHumanTwoStageConfig

    def __init__(self, config: BioHumanTwoStageConfig) -> None:
        super().__init__(config)
        dim = config.motion_hidden_size
        self.hmr = build_front_end(config)
        self.motion_in = nn.Conv1d(MOTION_FEATURE_SIZE, dim, 1)
        self.transformer = temporal_transformer(config, dim, config.motion_num_layers, config.motion_num_heads)
        self.muscle_head = MuscleHead(dim, config.num_muscles)
        self.post_init()
        self.load_pretrained_encoder()

    def forward(self, pixel_values: torch.Tensor | None = None, boxes: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, pose_labels: torch.Tensor | None = None,
                muscle_labels: torch.Tensor | None = None, pose_mask: torch.Tensor | None = None,
                muscle_mask: torch.Tensor | None = None, lengths: torch.Tensor | None = None,
                hmr_pose: torch.Tensor | None = None, hmr_features: torch.Tensor | None = None,
                image_features: torch.Tensor | None = None, transl: torch.Tensor | None = None,
                return_dict: bool | None = None, **kwargs: Any) -> BioHumanOutput:
        reference = first_given(pixel_values, image_features, hmr_pose)
        batch, frames = reference.shape[:2]
        mask = frame_mask_from(attention_mask, lengths, batch, frames, reference.device)
        front = (self.run_front_end(pixel_values, boxes, mask, image_features) if hmr_pose is None
                 else {"pose": hmr_pose})
        m = mask[..., None].to(front["pose"].dtype)
        pose = torch.where(mask[..., None], front["pose"], 0.0)  # masked frames may hold NaN
        rest_joints = torch.tensor(self.config.rest_joints, dtype=pose.dtype, device=pose.device)
        motion_pose = pose.detach()
        if self.training:
            motion_pose = training_noise(motion_pose, self.config.motion_noise_std) * m
        motion = humanml3d_features(motion_pose, mask, rest_joints, transl,
                                    self.config.contact_velocity_threshold)
        h = self.motion_in(motion.transpose(1, 2)).transpose(1, 2)
        h = h + sinusoidal_positions(frames, h.shape[-1], h.device)[None]
        h = encode_valid(self.transformer, h, mask)
        muscles = self.muscle_head(h) * m
        loss = terms = None
        if pose_labels is not None or muscle_labels is not None:
            loss, terms = biohuman_loss(self.config, mask, pose, pose_labels, pose_mask,
                                        muscles, muscle_labels, muscle_mask)
        return BioHumanOutput(loss=loss, loss_terms=terms, pose=pose, muscle_activations=muscles, initial_pose=pose,
                              betas=front.get("betas"), transl=front.get("transl"), hidden_states=h * m,
                              attention_mask=mask)
