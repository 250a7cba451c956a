"""The paper's evaluation protocol: every method sees the same ordered windows and masks.

A *predictor* maps a collated batch (:func:`biohuman10m.collate.collate_windows`) to
per-frame SMPL poses (or ``None`` for muscle-only methods) and 112 activations. The windows of a
split are visited in dataset order, and the evaluation masks are the dataset's pose / muscle
masks restricted to real frames with a usable person box (:func:`.window_data.model_inputs`).

Metrics: muscle PCC, RMSE, nRMSE, Active MAE@0.10, MAE, DiffL1 (``biohuman10m.metrics``), pose
RMSE, geodesic error and PA-MPJPE over the 24 SMPL joints of the zero-shape neutral skeleton
(``biohuman10m.skeleton.SMPL_NEUTRAL_REST_JOINTS``: the labels carry betas but no SMPL model can
ship with the library), overall, per source dataset and per muscle group; per-muscle values too.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biohuman10m.collate import collate_windows
from biohuman10m.metrics import MuscleMetrics, PoseMetrics
from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import (
    MUSCLE_GROUPS,
    MUSCLE_NAMES,
    NUM_MUSCLES,
    muscle_indices,
)
from builder.io import write_text_atomic

from .window_data import WindowDataset, model_inputs

logger = logging.getLogger(__name__)

Predictor = Callable[[dict[str, Any], dict[str, torch.Tensor]], tuple[np.ndarray | None, np.ndarray]]
"""(collated batch, model inputs) -> (poses (B, T, 72) or None, activations (B, T, 112))."""

MEAN_PREDICTOR = "mean"
"""``evaluate(MEAN_PREDICTOR, ...)`` evaluates the train-split mean activation per muscle."""


def model_predictor(model: torch.nn.Module) -> Predictor:
    """Predictor of a BioHuman-style model (outputs ``pose`` and ``muscle_activations``)."""
    device = next(model.parameters()).device

    @torch.no_grad()
    def predict(batch: dict[str, Any], inputs: dict[str, torch.Tensor]) -> tuple[np.ndarray | None, np.ndarray]:
        forward = {k: inputs[k].to(device) for k in ("pixel_values", "boxes", "attention_mask")}
        output = model(**forward)
        pose = getattr(output, "pose", None)
        return (None if pose is None else pose.float().cpu().numpy(),
                output.muscle_activations.float().cpu().numpy())

    return predict


@dataclass
class MeanActivationPredictor:
    """Baseline: every frame gets the mean training activation of each muscle (no pose)."""

    means: np.ndarray

    @classmethod
    def fit(cls, dataset_path: str | os.PathLike, split: str = "train") -> MeanActivationPredictor:
        arrays = WindowDataset(dataset_path, split).arrays(["activations", "muscle_mask", "frame_mask"])
        valid = (arrays["muscle_mask"] & arrays["frame_mask"])[..., None]
        counts = valid.sum((0, 1))
        if not counts.any():
            raise ValueError(f"{dataset_path} [{split}]: no valid activation label to average")
        means = (arrays["activations"] * valid).sum((0, 1)) / np.maximum(counts, 1)
        return cls(means.astype(np.float32))

    def __call__(self, batch: dict[str, Any], inputs: dict[str, torch.Tensor]) -> tuple[None, np.ndarray]:
        shape = (*batch["frame_mask"].shape, NUM_MUSCLES)
        return None, np.broadcast_to(self.means, shape).copy()


@dataclass
class SplitPredictions:
    """Predictions and labels of every window of a split, in dataset order."""

    keys: list[str] = field(default_factory=list)
    sequence_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    fps: list[float] = field(default_factory=list)
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, name: str, value: np.ndarray) -> None:
        self.arrays.setdefault(name, []).append(np.asarray(value))

    def stacked(self, name: str) -> np.ndarray | None:
        return np.concatenate(self.arrays[name]) if name in self.arrays else None

    def save(self, path: Path) -> None:
        """Write an ``.npz`` of the arrays plus keys, sequence ids, sources and fps."""
        arrays = {name: self.stacked(name) for name in self.arrays}
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez_compressed(tmp, keys=np.array(self.keys), sequence_ids=np.array(self.sequence_ids),
                            sources=np.array(self.sources), fps=np.array(self.fps), **arrays)
        os.replace(tmp, path)


def predict_split(predictor: Predictor, dataset: WindowDataset, processor, batch_size: int = 8,
                  max_windows: int | None = None) -> SplitPredictions:
    """Run ``predictor`` over the first ``max_windows`` windows of ``dataset`` in order."""
    from tqdm.auto import tqdm

    count = len(dataset) if max_windows is None else min(max_windows, len(dataset))
    result = SplitPredictions()
    for first in tqdm(range(0, count, batch_size), desc=f"evaluate {dataset.split}", leave=False):
        batch = collate_windows([dataset[i] for i in range(first, min(first + batch_size, count))])
        inputs = model_inputs(batch, processor)
        pose, muscles = predictor(batch, inputs)
        result.keys += batch["key"]
        result.sequence_ids += batch["sequence_id"]
        result.sources += batch["source"]
        result.fps += [float(f) for f in batch["fps"]]
        result.add("muscle_pred", muscles)
        result.add("muscle_true", batch["activations"].numpy())
        result.add("muscle_mask", inputs["muscle_mask"].numpy())
        result.add("pose_true", batch["poses"].numpy())
        result.add("pose_mask", inputs["pose_mask"].numpy())
        result.add("frame_index", batch["frame_index"].numpy())
        if pose is not None:
            result.add("pose_pred", pose)
    return result


def _muscle_metrics(pred: np.ndarray, true: np.ndarray, mask: np.ndarray) -> MuscleMetrics:
    metrics = MuscleMetrics()
    metrics.update(pred, true, mask)
    return metrics


def _pose_metrics(pred: np.ndarray, true: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    metrics = PoseMetrics()
    metrics.update(pred, true, mask, rest_joints=SMPL_NEUTRAL_REST_JOINTS)
    return metrics.compute()


def compute_metrics(predictions: SplitPredictions) -> dict[str, Any]:
    """Overall, per-source and per-muscle-group metrics, plus per-muscle values."""
    pred, true, mask = (predictions.stacked(n) for n in ("muscle_pred", "muscle_true", "muscle_mask"))
    pose_pred, pose_true, pose_mask = (predictions.stacked(n) for n in ("pose_pred", "pose_true", "pose_mask"))
    overall = _muscle_metrics(pred, true, mask)
    result: dict[str, Any] = {"num_windows": len(predictions.keys), "muscle": overall.compute()}
    if pose_pred is not None:
        result["pose"] = _pose_metrics(pose_pred, pose_true, pose_mask)
    result["per_group"] = {group: overall.compute(channels=muscle_indices(group=group)) for group in MUSCLE_GROUPS}
    sources = np.array(predictions.sources)
    result["per_source"] = {}
    for source in sorted(set(predictions.sources)):
        rows = sources == source
        entry = {"num_windows": int(rows.sum()), "muscle": _muscle_metrics(pred[rows], true[rows], mask[rows]).compute()}
        if pose_pred is not None:
            entry["pose"] = _pose_metrics(pose_pred[rows], pose_true[rows], pose_mask[rows])
        result["per_source"][source] = entry
    per_channel = overall.per_channel()
    result["per_muscle"] = {name: {k: float(v[i]) for k, v in per_channel.items()} for i, name in enumerate(MUSCLE_NAMES)}
    return result


def evaluate_model(model: torch.nn.Module, processor, dataset_path: str | os.PathLike, split: str = "test",
                   batch_size: int = 8, max_windows: int | None = None) -> dict[str, Any]:
    """Metrics of ``model`` on a split (model left in eval mode)."""
    model.eval()
    dataset = WindowDataset(dataset_path, split)
    return compute_metrics(predict_split(model_predictor(model), dataset, processor, batch_size, max_windows))


def evaluate(model_path: str | os.PathLike, dataset_path: str | os.PathLike, output_dir: str | os.PathLike,
             split: str = "test", batch_size: int = 8, max_windows: int | None = None,
             curve_muscles: tuple[str, ...] | None = None, verify_checksums: bool = False) -> dict[str, Any]:
    """Evaluate a saved model folder (or :data:`MEAN_PREDICTOR`) on ``split`` and write to ``output_dir``:
    ``metrics.json``, ``metrics.md`` (tables), ``per_muscle.csv``, ``predictions.npz`` and
    ``curves_<sequence>.png`` (predicted vs ground-truth activations). Returns the metrics.
    The shards are checked against the manifest first (every sha256 too with ``verify_checksums``)."""
    from builder.prediction.checkpoint_loading import load_model_and_processor, model_folder

    from .report import (
        muscle_table_markdown,
        plot_activation_curves,
        write_per_muscle_csv,
    )

    dataset = WindowDataset(dataset_path, split, verify_checksums=verify_checksums)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if str(model_path) == MEAN_PREDICTOR:
        predictor: Predictor = MeanActivationPredictor.fit(dataset_path)
        card = None
        from modeling_biohuman.image_processing_biohuman import BioHumanVideoProcessor

        processor, name = BioHumanVideoProcessor(crop_size={"height": 32, "width": 32}), "mean activation"
    else:
        model, processor = load_model_and_processor(model_path)
        predictor, name = model_predictor(model), Path(model_path).name
        card = model_folder(model_path) / "README.md"
    predictions = predict_split(predictor, dataset, processor, batch_size, max_windows)
    metrics = compute_metrics(predictions)
    metrics["method"] = name
    metrics["split"] = split
    metrics["model_card"] = str(card) if card is not None and card.is_file() else None
    predictions.save(output_dir / "predictions.npz")
    write_text_atomic(output_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    write_text_atomic(output_dir / "metrics.md", muscle_table_markdown({name: metrics}))
    write_per_muscle_csv(output_dir / "per_muscle.csv", metrics)
    plot_activation_curves({name: output_dir / "predictions.npz"}, output_dir, curve_muscles)
    logger.info("%s on %s: muscle PCC %.3f", name, split, metrics["muscle"]["pcc"])
    return metrics


def evaluate_methods(models: dict[str, str | os.PathLike], dataset_path: str | os.PathLike,
                     output_dir: str | os.PathLike, split: str = "test", batch_size: int = 8,
                     max_windows: int | None = None, with_mean: bool = True,
                     curve_muscles: tuple[str, ...] | None = None,
                     verify_checksums: bool = False) -> tuple[dict[str, dict[str, Any]], Path]:
    """Evaluate several models (display name -> model folder; ``MEAN_PREDICTOR`` allowed) on the same
    windows, plus the mean-activation baseline when ``with_mean``, each into ``output_dir/<name>/``,
    and write the comparison report ``output_dir/report.md``. Returns ``(metrics by name, report path)``."""
    from .report import write_report

    output_dir = Path(output_dir)
    models = dict(models)
    if with_mean and MEAN_PREDICTOR not in models.values():
        models["Mean activation"] = MEAN_PREDICTOR
    folders = {name: output_dir / name.replace("/", "_") for name in models}
    results = {name: evaluate(path, dataset_path, folders[name], split, batch_size, max_windows, curve_muscles,
                              verify_checksums=verify_checksums and index == 0)
               for index, (name, path) in enumerate(models.items())}
    return results, write_report(folders, output_dir)
