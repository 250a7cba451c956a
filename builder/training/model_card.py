"""Model card (README.md with ``model-index``) for a trained BioHuman model, via huggingface_hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from modeling_biohuman.configuration_biohuman import BioHumanConfig

_METRIC_NAMES = {
    "pcc": "PCC", "rmse": "RMSE", "nrmse": "nRMSE", "active_mae": "Active MAE@0.10", "mae": "MAE",
    "diff_l1": "DiffL1", "pose_rmse": "Pose RMSE (rad)", "geodesic_deg": "Geodesic error (deg)",
    "pa_mpjpe_mm": "PA-MPJPE (mm, 24 SMPL joints)",
}

_TEMPLATE = """---
{card_data}
---

# {model_name}

BioHuman predicts SMPL motion (24 joints, 72-D axis-angle) and the activations of the 112 muscles of
the ULBS-112 musculoskeletal model from monocular video and per-frame person boxes.

## Architecture
- Front-end: `{image_encoder}` image encoder (frozen: {frozen}), box-prompt encoder, {hmr_head}
  -> initial pose ({hmr_num_joints} joints as 6D) and an HMR feature (SMPL token, shape, translation).
- Residual pose adapter, pose temporal encoder on [pose, velocity, acceleration], visual projection.
- Fusion mode `{fusion_mode}`; temporal transformer: {num_hidden_layers} layers, {num_attention_heads} heads,
  width {hidden_size}; windows of {window_length} frames.
- Heads: residual pose head and a {num_muscles}-muscle activation head (sigmoid, values in [0, 1]).
- Parameters: {num_parameters:,}.

## Training data
{dataset_text}

## Training domain and what it means for real video
{domain_text}

## Evaluation
{metrics_text}

## Intended use and limits
Research on monocular biomechanics: motion analysis, sports and rehabilitation studies where a
physics-based musculoskeletal simulation is too slow. Activations are learned from simulated
(OpenSim static optimisation) labels, not measured EMG: there is a domain gap to real muscles.
Only foot-ground contact is modelled in the training labels; the neck (3 DOF) has no muscles;
predictions are for one person per box track. Not a medical device; do not use for diagnosis.

## Usage
```python
import modeling_biohuman  # registers the Auto classes
from transformers import AutoModel, AutoImageProcessor
model = AutoModel.from_pretrained("{repo_id}")
processor = AutoImageProcessor.from_pretrained("{repo_id}")
inputs = processor(video_frames, person_boxes)
out = model(**{{k: inputs[k] for k in ("pixel_values", "boxes", "attention_mask")}})
out.pose, out.muscle_activations
```
"""  # noqa: E501 (the card text keeps its long line)


HMR_HEAD_TEXT = {"token_decoder": "SMPL-token decoder (with a localisation token)",
                 "conv_regressor": "conv regressor on the encoder's maps (pretrained on single frames)"}

RENDERED_SOURCES = {"deepmimic": "the DeepMimic clips of the `pybullet` wheel (walk, run, jump, kick, punch, spin, "
                                  "spinkick, cartwheel, backflip, crawl, roll, two dances, two get-ups) performed by "
                                  "Anny bodies rendered on the CPU"}
"""Sources whose video is rendered by ``builder.render`` rather than filmed."""

GPU_CONFIGURATION = ("`biohuman_gpu` (packaged training config, not run on the CPU machines this card was made on): "
                     "256x192 crops, 16 windows per step, 20,000 steps (and 20,000 front-end pretraining steps), "
                     "the same frozen encoder, feature store and conv-regressor front-end; "
                     "meant for a larger build (more Anny subjects and clips, or licensed sources). No GPU figures "
                     "exist for it yet.")


def training_domain_text(manifest: dict | None) -> str:
    """What the training data covers (sources, subjects, sequences per split, from the dataset's
    ``manifest.json``) and what that means for real video."""
    if not manifest:
        return "The training dataset's manifest was not available: its domain is not recorded here."
    lines = []
    for split, sources in manifest.get("counts", {}).get("splits", {}).items():
        for source, c in sources.items():
            kind = RENDERED_SOURCES.get(source.lower().replace(" ", ""), "filmed or user-supplied video")
            views = f" ({c['views']} of them extra rendered views of the others)" if c.get("views") else ""
            lines.append(f"- {split}: `{source}`: {c.get('sequences', '?')} sequences{views}, "
                         f"{c.get('subjects', '?')} subjects, {c.get('windows', '?')} windows ({kind})")
    splits = manifest.get("counts", {}).get("splits", {})
    rendered = any(source.lower() in RENDERED_SOURCES for sources in splits.values() for source in sources)
    text = "\n".join(lines)
    if rendered:
        text += ("\n\nRendered sequences show one untextured, single-colour Anny body (no clothes, hair or face) in "
                 "front of a plain or two-colour gradient background, lit by two directional lights, seen by a level "
                 "pinhole camera that tracks the body from a random direction at 0.5-2 m height. The test subjects "
                 "are other Anny bodies performing the same clips, so test scores measure generalisation to new "
                 "body shapes, cameras and colours, not to new motions, and not to real people. On real video "
                 "expect lower accuracy: clothing, textures, cluttered backgrounds, occlusion, other people, "
                 "motion blur and motions outside these clips are all unseen. Fine-tune on filmed sources (the "
                 "readers for Human3.6M, 3DPW, EMDB, BEDLAM, MotionPRO are in `builder.sources`) before use.")
    return text + "\n\nLarger configuration: " + GPU_CONFIGURATION


def generate_model_card(config: BioHumanConfig, num_parameters: int, metrics: dict[str, float] | None = None,
                        dataset_id: str = "biohuman10m", repo_id: str = "biohuman/biohuman",
                        split: str = "test", manifest: dict | None = None) -> ModelCard:
    """A ``huggingface_hub.ModelCard`` whose YAML carries ``model-index`` results for ``metrics``."""
    metrics = metrics or {}
    results = [
        EvalResult(task_type="video-to-biomechanics", task_name="Motion and muscle activation estimation",
                   dataset_type=dataset_id, dataset_name=dataset_id, dataset_split=split,
                   metric_type=key, metric_name=_METRIC_NAMES.get(key, key), metric_value=float(value))
        for key, value in metrics.items()
    ]
    model_name = repo_id.split("/")[-1]
    data = ModelCardData(license="apache-2.0", library_name="transformers",
                         tags=["biomechanics", "smpl", "muscle-activation", "video"],
                         datasets=[dataset_id], model_name=model_name, eval_results=results or None,
                         pipeline_tag="other")
    metrics_text = ("\n".join(f"| {_METRIC_NAMES.get(k, k)} | {v:.4f} |" for k, v in metrics.items())
                    if metrics else "No evaluation results were supplied.")
    if metrics:
        metrics_text = f"Split `{split}` of `{dataset_id}`:\n\n| Metric | Value |\n|---|---|\n" + metrics_text
    text = _TEMPLATE.format(
        card_data=data.to_yaml(), model_name=model_name, image_encoder=config.image_encoder,
        frozen=config.freeze_image_encoder, hmr_num_joints=config.hmr_num_joints, fusion_mode=config.fusion_mode,
        hmr_head=HMR_HEAD_TEXT[config.hmr_head],
        num_hidden_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
        hidden_size=config.hidden_size, window_length=config.window_length, num_muscles=config.num_muscles,
        num_parameters=num_parameters, repo_id=repo_id, metrics_text=metrics_text,
        domain_text=training_domain_text(manifest),
        dataset_text=(f"Trained on `{dataset_id}` (BioHuman10M format): video windows with person boxes, SMPL pose "
                      "labels and OpenSim-derived activations of 112 muscles, with pose and muscle validity masks."),
    )
    return ModelCard(text)


def write_model_card(save_directory: str | Path, config: BioHumanConfig, num_parameters: int,
                     metrics: dict[str, float] | None = None, **kwargs: Any) -> Path:
    """Write README.md into ``save_directory`` atomically; returns its path."""
    path = Path(save_directory) / "README.md"
    tmp = path.with_suffix(".md.tmp")
    generate_model_card(config, num_parameters, metrics, **kwargs).save(tmp)
    tmp.replace(path)
    return path
