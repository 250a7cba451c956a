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

from .feature_store import FeatureStore, feature_store
from .window_data import WindowDataset, model_inputs

logger = logging.getLogger(__name__)

Predictor = Callable[[dict[str, Any], dict[str, torch.Tensor]], tuple[np.ndarray | None, np.ndarray]]
"""(collated batch, model inputs) -> (poses (B, T, 72) or None, activations (B, T, 112))."""

MODEL_INPUTS = ("pixel_values", "image_features", "hmr_pose", "boxes", "attention_mask")
"""Inputs a predictor passes to a model: never labels (``hmr_pose`` only for the ground-truth-motion ceiling)."""

MEAN_PREDICTOR = "mean"
"""``evaluate(MEAN_PREDICTOR, ...)`` evaluates the train-split mean activation per muscle."""


def model_predictor(model: torch.nn.Module) -> Predictor:
    """Predictor of a BioHuman-style model (outputs ``pose`` and ``muscle_activations``)."""
    device = next(model.parameters()).device

    @torch.no_grad()
    def predict(batch: dict[str, Any], inputs: dict[str, torch.Tensor]) -> tuple[np.ndarray | None, np.ndarray]:
        forward = {k: inputs[k].to(device) for k in MODEL_INPUTS if k in inputs}
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

    def __call__(self, batch: dict[str, Any] | None, inputs: dict[str, torch.Tensor]) -> tuple[None, np.ndarray]:
        shape = (*inputs["attention_mask"].shape, NUM_MUSCLES)
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


def predict_store(predictor: Predictor, store: FeatureStore, batch_size: int = 8, max_windows: int | None = None,
                  motion_input: str = "video") -> SplitPredictions:
    """Like :func:`predict_split`, on a feature store's windows (same order and masks, no video decoded);
    the predictor gets ``batch=None`` and the store's model inputs (ground-truth poses as ``hmr_pose``
    with ``motion_input="ground_truth"``)."""
    count = len(store) if max_windows is None else min(max_windows, len(store))
    windows = store.windows
    result = SplitPredictions(keys=windows["keys"][:count].tolist(),
                              sequence_ids=windows["sequence_ids"][:count].tolist(),
                              sources=windows["sources"][:count].tolist(),
                              fps=[float(f) for f in windows["fps"][:count]])
    for first in range(0, count, batch_size):
        indices = np.arange(first, min(first + batch_size, count))
        inputs = store.model_inputs(indices, motion_input=motion_input)
        pose, muscles = predictor(None, inputs)
        result.add("muscle_pred", muscles)
        result.add("muscle_true", inputs["muscle_labels"].numpy())
        result.add("muscle_mask", inputs["muscle_mask"].numpy())
        result.add("pose_true", inputs["pose_labels"].numpy())
        result.add("pose_mask", inputs["pose_mask"].numpy())
        result.add("frame_index", windows["frame_index"][indices])
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
        entry = {"num_windows": int(rows.sum()),
                 "muscle": _muscle_metrics(pred[rows], true[rows], mask[rows]).compute()}
        if pose_pred is not None:
            entry["pose"] = _pose_metrics(pose_pred[rows], pose_true[rows], pose_mask[rows])
        result["per_source"][source] = entry
    per_channel = overall.per_channel()
    result["per_muscle"] = {name: {k: float(v[i]) for k, v in per_channel.items()}
                            for i, name in enumerate(MUSCLE_NAMES)}
    return result


def evaluate_model(model: torch.nn.Module, processor, dataset_path: str | os.PathLike, split: str = "test",
                   batch_size: int = 8, max_windows: int | None = None, store: FeatureStore | None = None,
                   motion_input: str = "video") -> dict[str, Any]:
    """Metrics of ``model`` on a split (model left in eval mode), from the split's feature ``store`` when given."""
    model.eval()
    if store is not None:
        return compute_metrics(predict_store(model_predictor(model), store, batch_size, max_windows, motion_input))
    dataset = WindowDataset(dataset_path, split)
    return compute_metrics(predict_split(model_predictor(model), dataset, processor, batch_size, max_windows))


def evaluate(model_path: str | os.PathLike, dataset_path: str | os.PathLike, output_dir: str | os.PathLike,
             split: str = "test", batch_size: int = 8, max_windows: int | None = None,
             curve_muscles: tuple[str, ...] | None = None, feature_root: str | os.PathLike | None = None,
             motion_input: str = "video", verify_checksums: bool = False) -> dict[str, Any]:
    """Evaluate a saved model folder (or :data:`MEAN_PREDICTOR`) on ``split`` and write to ``output_dir``:
    ``metrics.json``, ``metrics.md`` (tables), ``per_muscle.csv``, ``predictions.npz`` and
    ``curves_<sequence>.png`` (predicted vs ground-truth activations). Returns the metrics.
    The shards are checked against the manifest first (every sha256 too with ``verify_checksums``).

    ``feature_root``: read a frozen-encoder model's crops from the feature store there (built if
    missing) instead of decoding video and running the encoder; ``motion_input="ground_truth"`` feeds
    the true poses to a pose-only model (the ground-truth-motion ceiling; needs ``feature_root``)."""
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
    frozen = getattr(model.config, "freeze_image_encoder", False) if str(model_path) != MEAN_PREDICTOR else False
    if motion_input != "video" and feature_root is None:
        raise ValueError("motion_input='ground_truth' reads the true poses from a feature store: give feature_root")
    if feature_root is not None and frozen and hasattr(getattr(model.hmr, "encoder", None), "backbone_features"):
        store = feature_store(model, processor, Path(dataset_path), split, Path(feature_root))
        predictions = predict_store(predictor, store, batch_size, max_windows, motion_input)
    else:
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


@dataclass(frozen=True)
class MethodRuns:
    """One report row: the saved model folders of its training seeds (or :data:`MEAN_PREDICTOR`) and
    its motion input ("video", or "ground_truth" for the ground-truth-motion ceiling)."""

    paths: tuple[str | os.PathLike, ...]
    motion_input: str = "video"


def evaluate_methods(models: dict[str, str | os.PathLike | MethodRuns], dataset_path: str | os.PathLike,
                     output_dir: str | os.PathLike, split: str = "test", batch_size: int = 8,
                     max_windows: int | None = None, with_mean: bool = True,
                     curve_muscles: tuple[str, ...] | None = None, feature_root: str | os.PathLike | None = None,
                     reference_rows: tuple[str, str] | None = None, notes: str = "",
                     verify_checksums: bool = False) -> tuple[dict[str, dict[str, Any]], Path]:
    """Evaluate several methods (display name -> model folder, or :class:`MethodRuns` of several seeds;
    ``MEAN_PREDICTOR`` allowed) on the same windows, plus the mean-activation baseline when ``with_mean``,
    each run into ``output_dir/<name>/`` (``<name>/seed-<i>/`` for several), and write the comparison
    report ``output_dir/report.md`` (``reference_rows``: names of the floor and ceiling rows whose PCC gap
    the report measures the others against; ``verify_checksums``: hash every shard once, on the first run).
    Returns ``(metrics by name, report path)``: a method's ``muscle`` and ``pose`` metrics are the means over
    its runs, ``runs`` lists each run's metrics."""
    from .report import write_report
    from .uncertainty import mean_and_spread

    output_dir = Path(output_dir)
    methods = {name: spec if isinstance(spec, MethodRuns) else MethodRuns((spec,)) for name, spec in models.items()}
    if with_mean and not any(MEAN_PREDICTOR in map(str, m.paths) for m in methods.values()):
        methods["Mean activation"] = MethodRuns((MEAN_PREDICTOR,))
    folders: dict[str, list[Path]] = {}
    results: dict[str, dict[str, Any]] = {}
    for name, method in methods.items():
        base = output_dir / name.replace("/", "_")
        folders[name] = [base / f"seed-{i}" for i in range(len(method.paths))] if len(method.paths) > 1 else [base]
        runs = [evaluate(path, dataset_path, folder, split, batch_size, max_windows, curve_muscles, feature_root,
                         method.motion_input, verify_checksums=verify_checksums and not results and index == 0)
                for index, (path, folder) in enumerate(zip(method.paths, folders[name]))]
        results[name] = {**runs[0], "runs": runs}
        for part in ("muscle", "pose"):
            if part in runs[0]:
                results[name][part] = {k: mean_and_spread([r[part][k] for r in runs])[0] for k in runs[0][part]}
    return results, write_report(folders, output_dir, notes=notes, reference_rows=reference_rows)
