"""Load a saved BioHuman (or baseline) model folder for evaluation and prediction, with clear errors.

Accepted: a ``save_pretrained`` folder, or a training output folder holding one in ``model/``.
A folder whose weights do not fit its ``config.json`` (a checkpoint from another config), a
model of another type, one trained for another muscle set, or whose weights file is truncated,
corrupt or holds NaN/inf values is refused with the reason, naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from biohuman10m.errors import InputError, MissingInputError
from biohuman10m.vocabulary import NUM_MUSCLES, SMPL_POSE_DIM


def model_folder(path: str | os.PathLike) -> Path:
    """The ``save_pretrained`` folder at ``path`` (or in ``path/model``)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(path, "model folder not found")
    if not (path / "config.json").is_file() and (path / "model" / "config.json").is_file():
        path = path / "model"
    if not (path / "config.json").is_file():
        raise MissingInputError(path, "no config.json; expected a folder written by save_pretrained "
                                "(or a training output folder with model/ inside)")
    return path


WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
"""The weights file names ``from_pretrained`` reads, in the order it looks for them."""


def weights_file(folder: Path) -> Path:
    """The weights file of a model folder (the folder itself when it has none), for error messages."""
    return next((folder / name for name in WEIGHTS_FILES if (folder / name).is_file()), folder)


def check_finite_weights(model: torch.nn.Module, source: Path) -> None:
    """Raise :class:`InputError` naming ``source`` if any parameter or buffer holds NaN or inf."""
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    bad = [name for name, value in tensors.items() if value.is_floating_point() and not torch.isfinite(value).all()]
    if bad:
        raise InputError(source, f"{len(bad)} of {len(tensors)} weight tensors hold NaN or inf (e.g. {bad[0]}); "
                         "the file is corrupt: download or save the model again")


def load_model_and_processor(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """``(model, processor)`` of a saved folder, the model in eval mode on ``device``."""
    from transformers import AutoConfig, AutoModel

    from modeling_biohuman import (  # also registers the Auto classes
        BioHumanConfig,
        BioHumanTwoStageConfig,
        BioHumanVideoProcessor,
    )

    folder = model_folder(path)
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except json.JSONDecodeError as error:
        raise InputError(folder / "config.json", f"not valid JSON ({error})") from None
    known = {BioHumanConfig.model_type, BioHumanTwoStageConfig.model_type}
    if model_type not in known:
        raise InputError(folder, f"model type {model_type!r} is not a BioHuman model "
                                 f"(expected one of {sorted(known)})")
    config = AutoConfig.from_pretrained(folder)
    muscles, pose_dim = getattr(config, "num_muscles", None), getattr(config, "pose_dim", SMPL_POSE_DIM)
    if muscles != NUM_MUSCLES or pose_dim != SMPL_POSE_DIM:
        raise InputError(folder, f"checkpoint predicts {muscles} muscles and {pose_dim}-D poses; this "
                         f"library's vocabulary has {NUM_MUSCLES} muscles and {SMPL_POSE_DIM}-D SMPL poses")
    from safetensors import SafetensorError

    weights = weights_file(folder)
    try:
        model, info = AutoModel.from_pretrained(folder, config=config, output_loading_info=True)
    except (SafetensorError, OSError, EOFError) as error:
        raise InputError(weights, f"cannot be read, truncated or corrupt ({str(error).splitlines()[0]}); download "
                         "or save the model again") from None
    except (RuntimeError, ValueError) as error:
        raise InputError(folder, "the weights do not match config.json, a checkpoint saved from another "
                         f"config? ({str(error).splitlines()[0]})") from None
    problems = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if problems:
        detail = "; ".join(f"{k}: {sorted(map(str, v))[:3]}" for k, v in problems.items())
        raise InputError(folder, "the weights do not match config.json, a checkpoint saved from another "
                         f"config? ({detail})")
    check_finite_weights(model, weights)
    if (folder / "preprocessor_config.json").is_file():
        processor = BioHumanVideoProcessor.from_pretrained(folder)
    else:
        height, width = config.image_size
        processor = BioHumanVideoProcessor(crop_size={"height": height, "width": width})
    return model.to(device).eval(), processor
