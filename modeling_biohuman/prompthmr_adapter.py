"""Adapter that runs a user's PromptHMR as BioHuman's HMR front-end (paper 4.2, supplementary B).

PromptHMR's code and weights are non-commercial and cannot be fetched here, so BioHuman never
imports it. The user points ``config.prompthmr_factory`` at a ``"module:callable"`` that takes
the checkpoint path (``config.prompthmr_checkpoint``) and returns a ``torch.nn.Module`` with this
interface (wrap PromptHMR's own model in a few lines to provide it):

``module(images, boxes) -> dict`` with ``images`` (N, 3, 896, 896) letterboxed, ImageNet-normalised
frames (``BioHumanVideoProcessor(crop_mode="letterbox", crop_size={"height": 896, "width": 896})``)
and ``boxes`` (N, 4) xyxy in those pixels; the dict holds ``body_pose_6d`` (N, 22, 6: global
orientation + 21 SMPL-X body joints, 6D read as *rows*, the pytorch3d convention), ``betas``
(N, num_betas), ``transl`` (N, 3), ``smpl_token`` (N, 1024) and ``loc_token`` (N, 1024).

Note: a BioHuman model saved with this adapter stores the PromptHMR weights in its safetensors,
which then fall under PromptHMR's licence.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch
from torch import nn

from .configuration_biohuman import BioHumanConfig
from .hmr import pad_to_smpl_pose
from .rotations import matrix_to_rot6d, rot6d_to_axis_angle, rot6d_to_matrix

PROMPTHMR_TOKEN_SIZE = 1024
PROMPTHMR_NUM_JOINTS = 22


def load_factory(spec: str) -> Callable[[str | None], nn.Module]:
    """Resolve a ``"package.module:callable"`` string."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"prompthmr_factory must look like 'package.module:callable', got {spec!r}")
    return getattr(importlib.import_module(module_name), attr)


class PromptHMRAdapter(nn.Module):
    """Wraps a PromptHMR-interface module; same outputs as :class:`~modeling_biohuman.hmr.HMRFrontEnd`."""

    def __init__(self, config: BioHumanConfig, model: nn.Module | None = None) -> None:
        super().__init__()
        if model is None:
            if not config.prompthmr_factory:
                raise ValueError("image_encoder='prompthmr' needs config.prompthmr_factory ('module:callable') "
                                 "returning the user's PromptHMR module")
            model = load_factory(config.prompthmr_factory)(config.prompthmr_checkpoint)
        for module in model.modules():  # the user's weights: never re-initialised by BioHuman
            module._biohuman_external = True
        self.model = model
        self.config = config
        if config.freeze_image_encoder and hasattr(model, "image_encoder"):
            model.image_encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> PromptHMRAdapter:
        super().train(mode)
        if self.config.freeze_image_encoder and hasattr(self.model, "image_encoder"):
            self.model.image_encoder.eval()
        return self

    def forward(self, pixel_values: torch.Tensor, boxes: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.model(pixel_values, boxes)
        pose_6d = out["body_pose_6d"]
        if pose_6d.shape[1:] != (PROMPTHMR_NUM_JOINTS, 6):
            raise ValueError(f"PromptHMR body_pose_6d must be (N, 22, 6), got {tuple(pose_6d.shape)}")
        pose = pad_to_smpl_pose(rot6d_to_axis_angle(pose_6d, convention="rows"), self.config.pose_dim)
        features = torch.cat([out["smpl_token"], out["loc_token"], out["betas"], out["transl"]], dim=-1)
        pose_6d = matrix_to_rot6d(rot6d_to_matrix(pose_6d, convention="rows"))  # BioHuman's "columns"
        return {"pose": pose, "pose_6d": pose_6d, "betas": out["betas"], "transl": out["transl"], "features": features}
