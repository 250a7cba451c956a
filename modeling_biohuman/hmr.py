"""Built-in HMR front-ends (paper 4.2): crop + box prompt -> initial SMPL pose and an HMR feature.

Both encode the box prompt with SAM-style random Fourier features of its two corners and predict
the pose as ``hmr_num_joints`` x 6D ("columns" convention, see :mod:`.rotations`), shape (betas)
and a translation:

* :class:`HMRFrontEnd` (``hmr_head="token_decoder"``): image encoder (pluggable) -> tokens; a
  transformer decoder whose queries are a learned SMPL token, a learned localisation token and the
  2 prompt tokens cross-attends to the image tokens; pose and betas from the SMPL token, translation
  from the localisation token. Feature ``[smpl_token, loc_token, betas, translation]`` (supplementary B).
* :class:`ConvRegressorFrontEnd` (``hmr_head="conv_regressor"``): EfficientNet-Lite0 maps -> a
  trainable conv neck (spatial layout kept) -> flattened with the prompt -> MLP "SMPL token" -> pose,
  betas, translation. Feature ``[smpl_token, betas, translation]``.

The model projects the feature later (the visual stream of the temporal model).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .configuration_biohuman import BioHumanConfig
from .image_encoders import ENCODERS
from .rotations import identity_rot6d, rot6d_to_axis_angle


def pad_to_smpl_pose(body_pose: torch.Tensor, pose_dim: int) -> torch.Tensor:
    """Append identity (zero axis-angle) rotations for the joints the front-end does not predict."""
    missing = pose_dim - body_pose.shape[-1]
    if not missing:
        return body_pose
    return torch.cat([body_pose, body_pose.new_zeros(*body_pose.shape[:-1], missing)], dim=-1)


class BoxPromptEncoder(nn.Module):
    """Two corner tokens: random Fourier features of the corners (normalised to [-1, 1]) + corner type."""

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("gaussian", torch.randn(2, config.num_fourier_features, generator=generator))
        self.proj = nn.Linear(2 * config.num_fourier_features, config.decoder_hidden_size)
        self.corner_embed = nn.Embedding(2, config.decoder_hidden_size)
        self.image_size = tuple(config.image_size)

    def forward(self, boxes: torch.Tensor) -> torch.Tensor:
        height, width = self.image_size
        corners = boxes.reshape(-1, 2, 2) / boxes.new_tensor([width, height]) * 2 - 1
        angles = 2 * math.pi * corners @ self.gaussian
        return self.proj(torch.cat([angles.sin(), angles.cos()], dim=-1)) + self.corner_embed.weight


class FrontEndBase(nn.Module):
    """What both built-in front-ends share: the image encoder (frozen and kept in eval mode when
    ``freeze_image_encoder``), the box-prompt encoder and the SMPL heads.

    ``forward(pixel_values (N,3,H,W), boxes (N,4) crop pixels, image_features=None)`` returns ``pose``
    (N, pose_dim) axis-angle, ``pose_6d`` (N, hmr_num_joints, 6), ``betas`` (N, num_betas), ``transl``
    (N, 3) and ``features`` (N, hmr_feature_size). ``image_features``: the frozen backbone's maps of the
    crops (N, C, h, w), given instead of ``pixel_values`` when they were computed once for many runs
    (training from a feature store).
    """

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__()
        dim = config.decoder_hidden_size
        self.config = config
        self.encoder = ENCODERS[config.image_encoder](config)
        self.prompt_encoder = BoxPromptEncoder(config)
        self.pose_head = nn.Linear(dim, config.hmr_num_joints * 6)
        self.pose_head._biohuman_bias_init = identity_rot6d().repeat(config.hmr_num_joints)
        self.betas_head = nn.Linear(dim, config.num_betas)
        self.transl_head = nn.Linear(dim, 3)
        if config.freeze_image_encoder:
            self.encoder.backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> FrontEndBase:
        super().train(mode)
        if self.config.freeze_image_encoder:
            self.encoder.backbone.eval()
        return self

    def check_image_features(self) -> None:
        if not hasattr(self.encoder, "embed") or not self.config.freeze_image_encoder:
            raise ValueError("image_features need a frozen image encoder with backbone maps "
                             f"(image_encoder={self.config.image_encoder!r}, "
                             f"frozen={self.config.freeze_image_encoder})")

    def smpl_outputs(self, smpl_token: torch.Tensor, loc_token: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Pose and betas from the SMPL token, translation from the localisation token (or the SMPL token)."""
        loc = smpl_token if loc_token is None else loc_token
        pose_6d = self.pose_head(smpl_token).reshape(len(smpl_token), self.config.hmr_num_joints, 6)
        betas, transl = self.betas_head(smpl_token), self.transl_head(loc)
        pose = pad_to_smpl_pose(rot6d_to_axis_angle(pose_6d), self.config.pose_dim)
        tokens = [smpl_token] if loc_token is None else [smpl_token, loc_token]
        features = torch.cat([*tokens, betas, transl], dim=-1)
        return {"pose": pose, "pose_6d": pose_6d, "betas": betas, "transl": transl, "features": features}


class HMRFrontEnd(FrontEndBase):
    """Token-decoder front-end (``hmr_head="token_decoder"``); see the module docstring."""

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__(config)
        dim = config.decoder_hidden_size
        self.encoder_proj = nn.Linear(self.encoder.output_size, dim)
        self.queries = nn.Parameter(torch.zeros(1, 2, dim))
        layer = nn.TransformerDecoderLayer(dim, config.decoder_num_heads, 4 * dim, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, config.decoder_num_layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, pixel_values: torch.Tensor | None, boxes: torch.Tensor,
                image_features: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if image_features is not None:
            self.check_image_features()
            tokens = self.encoder.embed(image_features)
        else:
            tokens = self.encoder(pixel_values)
        memory = self.encoder_proj(tokens)
        queries = torch.cat([self.queries.expand(len(memory), -1, -1), self.prompt_encoder(boxes)], dim=1)
        tokens = self.norm(self.decoder(queries, memory))
        return self.smpl_outputs(tokens[:, 0], tokens[:, 1])


def conv_block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.GroupNorm(8, c_out), nn.GELU()]


class ConvRegressorFrontEnd(FrontEndBase):
    """Conv-regressor front-end (``hmr_head="conv_regressor"``); see the module docstring."""

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__(config)
        width = config.neck_channels
        self.neck = nn.Sequential(*conv_block(self.encoder.map_channels, width, 1), *conv_block(width, width, 2),
                                  *conv_block(width, width, 2), nn.Flatten())
        grid = [math.ceil(math.ceil(math.ceil(size / config.encoder_feature_stride) / 2) / 2)
                for size in config.image_size]
        self.token = nn.Sequential(nn.Dropout(config.dropout),
                                   nn.Linear(width * grid[0] * grid[1] + 2 * config.decoder_hidden_size,
                                             config.decoder_hidden_size), nn.GELU())

    def forward(self, pixel_values: torch.Tensor | None, boxes: torch.Tensor,
                image_features: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if image_features is not None:
            self.check_image_features()
            maps = image_features
        else:
            maps = self.encoder.backbone_features(pixel_values)
        prompt = self.prompt_encoder(boxes).flatten(1)
        neck = self.neck(maps.to(prompt.dtype))
        return self.smpl_outputs(self.token(torch.cat([neck, prompt], dim=-1)))
