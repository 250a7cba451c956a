"""Tables and figures of evaluation results: markdown tables, per-muscle CSV, activation-curve PNGs,
and a report folder comparing several methods (``write_report``)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from biohuman10m.vocabulary import MUSCLE_GROUPS, MUSCLE_INDEX, MUSCLE_NAMES
from builder.io import atomic_path, write_text_atomic

MUSCLE_COLUMNS = (("pcc", "PCC"), ("rmse", "RMSE"), ("nrmse", "nRMSE"), ("active_mae", "Active MAE@0.10"),
                  ("mae", "MAE"), ("diff_l1", "DiffL1"))
POSE_COLUMNS = (("pose_rmse", "Pose RMSE (rad)"), ("geodesic_deg", "Geodesic (deg)"), ("pa_mpjpe_mm", "PA-MPJPE (mm)"))
DEFAULT_CURVE_MUSCLES = ("soleus_r", "gasmed_r", "tibant_r", "vaslat_r", "glmed1_r", "bflh_r", "ercspn_r", "deltmid_r")
GAIT_WORDS = ("walk", "run")
"""Sequences whose id names a gait come first in the curve figures."""


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def muscle_table_markdown(results: dict[str, dict[str, Any]]) -> str:
    """Markdown tables of several methods' metrics: muscles, pose, per source, per muscle group."""
    parts = ["## Muscle activations (test split)\n",
             _table(["Method"] + [t for _, t in MUSCLE_COLUMNS] + ["windows"],
                    [[name] + [m["muscle"].get(k) for k, _ in MUSCLE_COLUMNS] + [m["num_windows"]]
                     for name, m in results.items()])]
    posed = {name: m for name, m in results.items() if "pose" in m}
    if posed:
        parts += ["\n## SMPL pose (24 joints, neutral zero-shape skeleton for PA-MPJPE)\n",
                  _table(["Method"] + [t for _, t in POSE_COLUMNS],
                         [[name] + [m["pose"].get(k) for k, _ in POSE_COLUMNS] for name, m in posed.items()])]
    sources = sorted({s for m in results.values() for s in m.get("per_source", {})})
    if sources:
        rows = [[name, source, m["per_source"][source]["num_windows"]]
                + [m["per_source"][source]["muscle"].get(k) for k, _ in MUSCLE_COLUMNS[:4]]
                for name, m in results.items() for source in sources if source in m.get("per_source", {})]
        parts += ["\n## Per source dataset\n",
                  _table(["Method", "Source", "windows"] + [t for _, t in MUSCLE_COLUMNS[:4]], rows)]
    rows = [[name, group] + [m["per_group"][group].get(k) for k, _ in MUSCLE_COLUMNS[:4]]
            for name, m in results.items() for group in MUSCLE_GROUPS if group in m.get("per_group", {})]
    if rows:
        parts += ["\n## Per muscle group\n", _table(["Method", "Group"] + [t for _, t in MUSCLE_COLUMNS[:4]], rows)]
    return "".join(parts)


def write_per_muscle_csv(path: Path, metrics: dict[str, Any]) -> None:
    """One row per muscle with its metrics."""
    buffer = io.StringIO()
    columns = [k for k, _ in MUSCLE_COLUMNS]
    writer = csv.writer(buffer)
    writer.writerow(["muscle"] + columns)
    for name in MUSCLE_NAMES:
        writer.writerow([name] + [f"{metrics['per_muscle'][name][k]:.6g}" for k in columns])
    write_text_atomic(path, buffer.getvalue())


def sequence_curves(predictions: dict[str, np.ndarray], sequence_id: str) -> dict[str, np.ndarray]:
    """Frames of one sequence reassembled from its windows: times, predicted, true and mask (F, 112)."""
    rows = np.flatnonzero(predictions["sequence_ids"] == sequence_id)
    index = predictions["frame_index"][rows]
    valid = index >= 0
    num_frames = int(index[valid].max()) + 1
    out = {name: np.zeros((num_frames, len(MUSCLE_NAMES))) for name in ("pred", "true")}
    out["mask"] = np.zeros((num_frames, len(MUSCLE_NAMES)), bool)
    for row, frames in zip(rows, index):
        keep = frames >= 0
        out["pred"][frames[keep]] = predictions["muscle_pred"][row][keep]
        out["true"][frames[keep]] = predictions["muscle_true"][row][keep]
        mask = predictions["muscle_mask"][row][keep]
        out["mask"][frames[keep]] = mask[:, None] if mask.ndim == 1 else mask
    out["times"] = np.arange(num_frames) / float(predictions["fps"][rows[0]])
    return out


def curve_sequences(sequence_ids: list[str], max_sequences: int, prefer: tuple[str, ...] = GAIT_WORDS) -> list[str]:
    """Up to ``max_sequences`` sequence ids to plot: the first sequence naming each gait (``prefer``, in that
    order) first, since walk and run activation timing is what biomechanists read best, then the other
    gait sequences, then the rest in order."""
    def rank(sequence_id: str) -> int:
        return next((i for i, word in enumerate(prefer) if word in sequence_id.lower()), len(prefer))

    unique = list(dict.fromkeys(sequence_ids))
    firsts = [next(s for s in unique if rank(s) == i) for i in range(len(prefer)) if any(rank(s) == i for s in unique)]
    return (firsts + [s for s in sorted(unique, key=rank) if s not in firsts])[:max_sequences]


def plot_activation_curves(prediction_files: dict[str, str | os.PathLike], output_dir: Path,
                           muscles: tuple[str, ...] | None = None, max_sequences: int = 2) -> list[Path]:
    """``curves_<sequence>.png``: ground truth vs each method's prediction for chosen muscles, for up
    to ``max_sequences`` sequences chosen by :func:`curve_sequences` (masked frames left blank)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    muscles = tuple(muscles or DEFAULT_CURVE_MUSCLES)
    unknown = [m for m in muscles if m not in MUSCLE_INDEX]
    if unknown:
        raise ValueError(f"unknown muscles {unknown}; names follow biohuman10m.MUSCLE_NAMES")
    loaded = {name: dict(np.load(path)) for name, path in prediction_files.items()}
    first = next(iter(loaded.values()))
    sequences = curve_sequences(first["sequence_ids"].tolist(), max_sequences)
    written = []
    for sequence_id in sequences:
        fig, axes = plt.subplots(len(muscles), 1, figsize=(9, 1.6 * len(muscles)), sharex=True, squeeze=False)
        for name, predictions in loaded.items():
            curves = sequence_curves(predictions, sequence_id)
            for axis, muscle in zip(axes[:, 0], muscles):
                j = MUSCLE_INDEX[muscle]
                valid = curves["mask"][:, j]
                if name == next(iter(loaded)):
                    axis.plot(curves["times"], np.where(valid, curves["true"][:, j], np.nan), "k-", lw=2,
                              label="ground truth")
                axis.plot(curves["times"], np.where(valid, curves["pred"][:, j], np.nan), lw=1.2, label=name)
                axis.set_ylabel(muscle, rotation=0, ha="right", fontsize=8)
                axis.set_ylim(-0.02, max(0.2, float(np.nanmax(np.where(valid, curves["true"][:, j], 0))) * 1.2))
        axes[0, 0].legend(loc="upper right", fontsize=7, ncol=len(loaded) + 1)
        axes[0, 0].set_title(f"Muscle activations, sequence {sequence_id}")
        axes[-1, 0].set_xlabel("time (s)")
        fig.tight_layout()
        path = output_dir / f"curves_{sequence_id}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)
        written.append(path)
    return written


def plot_group_pcc(results: dict[str, dict[str, Any]], path: Path) -> None:
    """Bar chart of muscle PCC per muscle group for each method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / max(1, len(results))
    x = np.arange(len(MUSCLE_GROUPS))
    for i, (name, metrics) in enumerate(results.items()):
        values = [metrics["per_group"][g]["pcc"] for g in MUSCLE_GROUPS]
        axis.bar(x + i * width, np.nan_to_num(values), width, label=name)
    axis.set_xticks(x + width * (len(results) - 1) / 2, MUSCLE_GROUPS)
    axis.set_ylabel("muscle PCC")
    axis.axhline(0, color="k", lw=0.5)
    axis.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


GAIT_MUSCLES = ("soleus_r", "soleus_l", "gasmed_r", "gasmed_l", "gaslat_r", "gaslat_l", "tibant_r", "tibant_l",
                "vaslat_r", "vaslat_l")
"""The muscles whose gait bursts a reader checks first (per-muscle PCC table of the report)."""
SUMMARY_COLUMNS = (("muscle", "pcc", "PCC"), ("muscle", "pcc_channel_mean", "per-channel PCC"),
                   ("muscle", "rmse", "RMSE"), ("muscle", "nrmse", "nRMSE"), ("muscle", "active_mae", "Active MAE"),
                   ("pose", "pa_mpjpe_mm", "PA-MPJPE (mm)"), ("pose", "geodesic_deg", "Geodesic (deg)"))


def _spread(values: list[float], digits: int = 3) -> str:
    from .uncertainty import mean_and_spread

    mean, spread = mean_and_spread(values)
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f}" + (f" ± {spread:.{digits}f}" if len(values) > 1 else "")


def _interval(bounds: tuple[float, float]) -> str:
    return "n/a" if not all(map(math.isfinite, bounds)) else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def _metric(run: dict[str, Any], part: str, key: str) -> float:
    value = run.get(part, {}).get(key)
    return math.nan if value is None else float(value)


def summary_markdown(runs: dict[str, list[dict[str, Any]]], intervals: dict[str, dict[str, tuple[float, float]]],
                     reference_rows: tuple[str, str] | None = None) -> str:
    """Seed-mean ± s.d. table with bootstrap intervals, the gap-closed table, the gait-muscle PCC table and
    every seed's row."""
    from .uncertainty import nanmean

    digits = {"pa_mpjpe_mm": 1, "geodesic_deg": 1}
    header = ["Method", "seeds", "PCC", "PCC 95% CI", "per-channel PCC", "per-channel 95% CI"]
    header += [title for _, key, title in SUMMARY_COLUMNS[2:]]
    rows = []
    for name, method_runs in runs.items():
        cells = [name, str(len(method_runs)), _spread([_metric(r, "muscle", "pcc") for r in method_runs]),
                 _interval(intervals[name]["pcc"]),
                 _spread([_metric(r, "muscle", "pcc_channel_mean") for r in method_runs]),
                 _interval(intervals[name]["pcc_channel_mean"])]
        cells += [_spread([_metric(r, part, key) for r in method_runs], digits.get(key, 3))
                  for part, key, _ in SUMMARY_COLUMNS[2:]]
        rows.append(cells)
    parts = ["## Summary (test split: mean ± s.d. over training seeds; 95% CI: bootstrap over test sequences)\n\n",
             _table(header, rows)]
    means = {name: {key: float(nanmean([_metric(r, "muscle", key) for r in method_runs]))
                    for key in ("pcc", "pcc_channel_mean", "rmse")} for name, method_runs in runs.items()}
    if reference_rows and all(name in runs for name in reference_rows):
        floor, ceiling = reference_rows
        gap = means[ceiling]["pcc"] - means[floor]["pcc"]
        rows = [[name, (means[name]["pcc"] - means[floor]["pcc"]) / gap if gap else math.nan,
                 means[name]["pcc_channel_mean"] / means[ceiling]["pcc_channel_mean"],
                 means[name]["rmse"] - means[floor]["rmse"]]
                for name in runs if name not in reference_rows]
        parts += [f"\n## Against the references (floor: {floor}, ceiling: {ceiling})\n\n",
                  _table(["Method", "share of the floor->ceiling PCC gap closed", "per-channel PCC / ceiling's",
                          "RMSE - floor's RMSE"], rows)]
    rows = [[name] + [_spread([r["per_muscle"][m]["pcc"] for r in method_runs if "per_muscle" in r])
                      for m in GAIT_MUSCLES] for name, method_runs in runs.items()]
    parts += ["\n## Gait muscles: per-muscle PCC over the test split (mean ± s.d. over seeds)\n\n",
              _table(["Method", *GAIT_MUSCLES], rows)]
    rows = [[name, str(i)] + [_metric(r, part, key) for part, key, _ in SUMMARY_COLUMNS]
            for name, method_runs in runs.items() for i, r in enumerate(method_runs)]
    parts += ["\n## Every seed\n\n", _table(["Method", "seed"] + [t for _, _, t in SUMMARY_COLUMNS], rows)]
    return "".join(parts)


def write_report(evaluations: dict[str, str | os.PathLike | list[str | os.PathLike]], output_dir: str | os.PathLike,
                 title: str = "BioHuman evaluation report", notes: str = "",
                 reference_rows: tuple[str, str] | None = None) -> Path:
    """Report folder from evaluation folders (method name -> the folder written by ``evaluate``, or the
    folders of its training seeds): ``report.md`` with the summary (mean ± s.d. over seeds, bootstrap
    intervals over test sequences, gap to the ``reference_rows`` (floor, ceiling), gait-muscle PCC, every
    seed) and the first seed's breakdown tables, ``metrics.json`` of all methods, ``group_pcc.png``, the
    activation-curve PNGs of every method's first seed against the ground truth and a copy of each
    evaluated model's card (``model_card_<name>.md``). Returns ``report.md``."""
    from .uncertainty import bootstrap_pcc, load_sums, nanmean

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    folders = {name: [Path(f) for f in (value if isinstance(value, (list, tuple)) else [value])]
               for name, value in evaluations.items()}
    runs = {name: [json.loads((f / "metrics.json").read_text()) for f in method] for name, method in folders.items()}
    intervals = {name: bootstrap_pcc(load_sums([f / "predictions.npz" for f in method]))
                 for name, method in folders.items()}
    results = {name: method_runs[0] for name, method_runs in runs.items()}
    plot_group_pcc(results, output_dir / "group_pcc.png")
    curves = plot_activation_curves({name: method[0] / "predictions.npz" for name, method in folders.items()},
                                    output_dir)
    summary = {name: {**{part: {k: float(nanmean([_metric(r, part, k) for r in method_runs]))
                                for k in method_runs[0][part]}
                         for part in ("muscle", "pose") if part in method_runs[0]},
                      "runs": [{k: v for k, v in r.items() if k != "per_muscle"} for r in method_runs],
                      "pcc_interval_95": intervals[name]["pcc"],
                      "pcc_channel_mean_interval_95": intervals[name]["pcc_channel_mean"]}
               for name, method_runs in runs.items()}
    write_text_atomic(output_dir / "metrics.json", json.dumps(summary, indent=2, sort_keys=True))
    body = [f"# {title}\n\n", notes + ("\n\n" if notes else ""), summary_markdown(runs, intervals, reference_rows),
            "\n# Breakdowns (first seed of each method)\n\n", muscle_table_markdown(results),
            "\n## Figures\n\n![muscle PCC per group](group_pcc.png)\n\n"]
    body += [f"![{p.stem}]({p.name})\n\n" for p in curves]
    cards = {name: Path(m["model_card"]) for name, m in results.items() if m.get("model_card")}
    if cards:
        body.append("## Model cards\n\n")
    for name, card in cards.items():
        copy = output_dir / f"model_card_{name.replace('/', '_').replace(' ', '_')}.md"
        write_text_atomic(copy, card.read_text())
        body.append(f"- {name}: [{copy.name}]({copy.name})\n")
    path = output_dir / "report.md"
    write_text_atomic(path, "".join(body))
    return path
