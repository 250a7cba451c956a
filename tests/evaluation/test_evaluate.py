"""Evaluation protocol: saved-model metrics reproduce the model card, the mean-activation baseline,
shared windows and masks across methods, breakdowns, tables, plots and the comparison report."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from huggingface_hub import ModelCard

from biohuman10m.vocabulary import MUSCLE_GROUPS, MUSCLE_NAMES
from builder.evaluation.protocol import (
    MEAN_PREDICTOR,
    MeanActivationPredictor,
    evaluate,
    evaluate_methods,
)
from builder.evaluation.report import curve_sequences


def _parquet_arrays(dataset, split, names):
    table = pq.read_table(next((dataset / "data").glob(f"{split}-*.parquet"))).to_pydict()
    return table["key"], {n: np.array(table[n]) for n in names}


@pytest.fixture(scope="module")
def evaluated(tiny_trained_run, tiny_dataset, tmp_path_factory):
    run, train_metrics = tiny_trained_run
    out = tmp_path_factory.mktemp("evaluation")
    model_metrics = evaluate(run / "model", tiny_dataset, out / "biohuman")
    mean_metrics = evaluate(MEAN_PREDICTOR, tiny_dataset, out / "mean")
    return run, train_metrics, model_metrics, mean_metrics, out


def test_evaluating_the_saved_model_reproduces_its_model_card(evaluated):
    run, train_metrics, metrics, _, _ = evaluated
    card = ModelCard.load(run / "model" / "README.md")
    recorded = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert {"pcc", "rmse", "nrmse", "active_mae", "mae", "diff_l1", "pose_rmse", "pa_mpjpe_mm"} <= set(recorded)
    measured = {**metrics["muscle"], **metrics["pose"]}
    for name, value in recorded.items():
        assert measured[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert metrics["muscle"] == pytest.approx(train_metrics["muscle"], rel=1e-9)


def test_all_methods_see_the_same_ordered_windows_and_masks(evaluated, tiny_dataset):
    *_, out = evaluated
    model = np.load(out / "biohuman" / "predictions.npz")
    mean = np.load(out / "mean" / "predictions.npz")
    for name in ("keys", "muscle_mask", "pose_mask", "muscle_true", "frame_index"):
        np.testing.assert_array_equal(model[name], mean[name])
    keys, arrays = _parquet_arrays(tiny_dataset, "test", ["muscle_mask", "frame_mask", "box_visible", "activations"])
    assert model["keys"].tolist() == keys  # dataset order
    expected_mask = arrays["muscle_mask"] & arrays["frame_mask"] & arrays["box_visible"]
    np.testing.assert_array_equal(model["muscle_mask"], expected_mask)
    assert (~expected_mask).any() and expected_mask.any()
    np.testing.assert_allclose(model["muscle_true"], arrays["activations"])


def test_model_metrics_match_an_independent_computation(evaluated):
    _, _, metrics, _, out = evaluated
    p = np.load(out / "biohuman" / "predictions.npz")
    valid = np.broadcast_to(p["muscle_mask"][..., None], p["muscle_pred"].shape)
    pred, true = p["muscle_pred"][valid], p["muscle_true"][valid]
    assert metrics["muscle"]["pcc"] == pytest.approx(np.corrcoef(pred, true)[0, 1], rel=1e-9)
    rmse = np.sqrt(np.mean((pred - true) ** 2))
    assert metrics["muscle"]["rmse"] == pytest.approx(rmse, rel=1e-9)
    assert metrics["muscle"]["nrmse"] == pytest.approx(rmse / true.std(), rel=1e-9)
    active = true > 0.10
    assert metrics["muscle"]["active_mae"] == pytest.approx(np.abs(pred - true)[active].mean(), rel=1e-9)


def test_mean_predictor_uses_the_train_split_mean_per_muscle(evaluated, tiny_dataset):
    *_, mean_metrics, out = evaluated
    _, arrays = _parquet_arrays(tiny_dataset, "train", ["activations", "muscle_mask", "frame_mask"])
    valid = arrays["muscle_mask"] & arrays["frame_mask"]
    expected = arrays["activations"][valid].mean(0)
    np.testing.assert_allclose(MeanActivationPredictor.fit(tiny_dataset).means, expected, rtol=1e-5)
    predictions = np.load(out / "mean" / "predictions.npz")
    np.testing.assert_allclose(predictions["muscle_pred"][0, 0], expected, rtol=1e-5)
    assert "pose" not in mean_metrics
    assert all(math.isnan(v["pcc"]) for v in mean_metrics["per_muscle"].values())  # constant per muscle


def test_breakdowns_tables_and_plots(evaluated):
    _, _, metrics, _, out = evaluated
    assert set(metrics["per_group"]) == set(MUSCLE_GROUPS)
    assert sum(m["muscle"]["num_entries"] for m in metrics["per_source"].values()) == metrics["muscle"]["num_entries"]
    assert sum(m["num_entries"] for m in metrics["per_group"].values()) == metrics["muscle"]["num_entries"]
    assert set(metrics["per_source"]) == {"Human3.6M", "default"}
    folder = out / "biohuman"
    table = (folder / "metrics.md").read_text()
    for header in ("PCC", "RMSE", "nRMSE", "Active MAE@0.10", "MAE", "DiffL1", "PA-MPJPE", "Per source",
                   "Per muscle group"):
        assert header in table
    rows = (folder / "per_muscle.csv").read_text().splitlines()
    assert len(rows) == 1 + len(MUSCLE_NAMES) and rows[1].startswith(MUSCLE_NAMES[0])
    curves = sorted(folder.glob("curves_*.png"))
    assert curves and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in curves)
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["muscle"]["pcc"] == pytest.approx(metrics["muscle"]["pcc"])


def test_report_compares_methods(evaluated, tiny_dataset, tmp_path):
    run, _, model_metrics, mean_metrics, _ = evaluated
    results, report = evaluate_methods({"BioHuman": run / "model"}, tiny_dataset, tmp_path / "report")
    assert set(results) == {"BioHuman", "Mean activation"}
    assert results["BioHuman"]["muscle"] == pytest.approx(model_metrics["muscle"])
    assert results["Mean activation"]["muscle"] == pytest.approx(mean_metrics["muscle"], nan_ok=True)
    text = report.read_text()
    assert "| BioHuman |" in text and "| Mean activation |" in text
    assert (tmp_path / "report" / "group_pcc.png").is_file()
    card = (tmp_path / "report" / "model_card_BioHuman.md").read_text()
    assert card == (run / "model" / "README.md").read_text() and "model_card_BioHuman.md" in text
    figures = [line.split("(")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert any(f.startswith("curves_") for f in figures)
    assert all((tmp_path / "report" / f).is_file() for f in figures)


def test_unknown_model_folder_is_a_clear_error(tiny_dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        evaluate(tmp_path / "missing", tiny_dataset, tmp_path / "out")


def test_curve_figures_show_gaits_first():
    ids = ["deepmimic_backflip__a", "deepmimic_cartwheel__a", "deepmimic_run__a", "deepmimic_walk__a",
           "deepmimic_walk__a"]
    assert curve_sequences(ids, 2) == ["deepmimic_walk__a", "deepmimic_run__a"]
    assert curve_sequences(ids[:2], 2) == ids[:2]  # no gait: the first sequences in order
