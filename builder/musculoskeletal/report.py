"""The ULBS-112 report folder (``biohuman model``): the built model, a summary JSON and moment-arm plots."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from builder.biosim.opensim_model import opensim
from builder.io import atomic_path, write_text_atomic
from builder.musculoskeletal.anatomy import KEY_MOMENT_ARMS, coordinate_grid, moment_arms
from builder.musculoskeletal.generator import MODEL_NAME, build_model

logger = logging.getLogger(__name__)


def model_summary(model, state) -> dict:
    """Muscle count and names, coordinates with ranges (degrees for rotations), total mass, markers."""
    coordinates = []
    for c in model.getCoordinateSet():
        rotational = c.getMotionType() == 1
        convert = math.degrees if rotational else float
        coordinates.append({"name": c.getName(), "unit": "deg" if rotational else "m",
                            "range": [convert(c.getRangeMin()), convert(c.getRangeMax())]})
    muscles = model.getMuscles()
    return {"model": model.getName(), "muscle_count": muscles.getSize(),
            "muscles": [muscles.get(i).getName() for i in range(muscles.getSize())],
            "coordinate_count": len(coordinates), "coordinates": coordinates,
            "total_mass_kg": float(model.getTotalMass(state)),
            "marker_count": model.getMarkerSet().getSize(), "body_count": model.getBodySet().getSize()}


def plot_moment_arms(model, state, out_png: Path) -> None:
    """One panel per key coordinate: moment arms (cm) of its key muscles over the coordinate's range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (coordinate, muscles) in zip(axes.flat, KEY_MOMENT_ARMS.items()):
        values = coordinate_grid(model, coordinate)
        arms = moment_arms(model, state, muscles, coordinate, values)
        for j, name in enumerate(muscles):
            ax.plot(np.degrees(values), 100 * arms[:, j], label=name)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set(title=coordinate, xlabel=f"{coordinate} (deg)", ylabel="moment arm (cm)")
        ax.legend(fontsize=8)
    fig.suptitle(f"{model.getName()}: moment arms (positive = drives the coordinate positive)")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_report(out_dir: str | Path) -> Path:
    """Build the model into ``out_dir`` and write ``report.json`` and ``moment_arms.png`` there."""
    out_dir = Path(out_dir)
    model_path = build_model(out_dir / f"{MODEL_NAME}.osim")
    model = opensim().Model(str(model_path))
    state = model.initSystem()
    summary = model_summary(model, state)
    write_text_atomic(out_dir / "report.json", json.dumps(summary, indent=2))
    plot_moment_arms(model, state, out_dir / "moment_arms.png")
    logger.info("%s: %d muscles, %d coordinates, %.1f kg -> %s", MODEL_NAME, summary["muscle_count"],
                summary["coordinate_count"], summary["total_mass_kg"], out_dir)
    return out_dir

