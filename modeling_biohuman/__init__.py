"""BioHuman model: video -> SMPL motion and 112 muscle activations (transformers-style).

What a Hub model repo holds: ``configuration_biohuman``, ``modeling_biohuman``,
``image_processing_biohuman`` (the video-crop processor), and the model's run-time internals (``hmr``,
``image_encoders``, ``rotations``, ``losses``, ``prompthmr_adapter``, ``inference``: chunked long-video
inference, ``baselines``: the two-stage model). It depends on ``biohuman10m`` only; training, evaluation,
prediction on videos and model cards live in ``builder`` (``builder.training`` etc.).

Importing this package registers the BioHuman classes with ``AutoConfig``, ``AutoModel`` and
``AutoImageProcessor`` (and marks them for ``trust_remote_code`` Hub loading).
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModel

from .baselines import BioHumanTwoStageConfig, BioHumanTwoStageForMuscle
from .configuration_biohuman import BioHumanConfig
from .image_processing_biohuman import BioHumanVideoProcessor
from .inference import predict_in_windows
from .losses import biohuman_loss
from .modeling_biohuman import (
    BioHumanForMotionAndMuscle,
    BioHumanOutput,
    BioHumanPreTrainedModel,
)

AutoConfig.register(BioHumanConfig.model_type, BioHumanConfig, exist_ok=True)
AutoConfig.register(BioHumanTwoStageConfig.model_type, BioHumanTwoStageConfig, exist_ok=True)
AutoModel.register(BioHumanConfig, BioHumanForMotionAndMuscle, exist_ok=True)
AutoModel.register(BioHumanTwoStageConfig, BioHumanTwoStageForMuscle, exist_ok=True)
AutoImageProcessor.register(BioHumanConfig, slow_image_processor_class=BioHumanVideoProcessor, exist_ok=True)
BioHumanConfig.register_for_auto_class()
BioHumanForMotionAndMuscle.register_for_auto_class("AutoModel")
BioHumanVideoProcessor.register_for_auto_class("AutoImageProcessor")

__all__ = [
    "BioHumanConfig",
    "BioHumanForMotionAndMuscle",
    "BioHumanOutput",
    "BioHumanPreTrainedModel",
    "BioHumanTwoStageConfig",
    "BioHumanTwoStageForMuscle",
    "BioHumanVideoProcessor",
    "biohuman_loss",
    "predict_in_windows",
]
