"""The validity audits of many sequences (``record.json`` ``validity`` entries) summarised per source and
as histograms for the dataset card (``biohuman10m.card`` renders the table). Needs numpy (matplotlib for
the figure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from builder.io import atomic_path

FIGURES: dict[str, str] = {
    "valid_fraction": "frames whose labels are kept (valid fraction)",
    "reserve_share": "reserve share of the RMS joint moment, leg + lumbar, kept frames",
    "capacity": "median active-fibre-force capacity at the IK poses",
    "saturated": "fraction of raw SO activations >= 0.99",
    "moment_error": "ID moments left unexplained by the published activations (leg + lumbar)",
    "residual_force_bw": "pelvis residual force RMS on kept frames (body weights)",
}
"""Per-sequence figures summarised for the card, with their descriptions."""

LABEL_BOUNDS: dict[str, float] = {"reserve_share": 0.05, "saturated": 0.01}
"""When a kept sequence's labels are muscle-driven on its kept frames: reserves carry under 5 % of the RMS
joint moment over leg and lumbar coordinates (Hicks et al. 2015 ask reserves small next to the net moments)
and under 1 % of raw SO activations sit at their bound. The real Rajagopal walk through ULBS-112 gives .02 /
0.0 %, its 3.8 m/s run .04 / 0.9-1.3 % (plates / BioSim's GRF estimate): running is at the bound."""


def within_bounds(validity: dict) -> bool:
    """Whether a sequence's kept frames meet :data:`LABEL_BOUNDS` (a NaN figure does not; a record without the
    kept frames' saturation is judged by all its frames')."""
    saturated = validity["saturated_fraction"]
    return bool(float(validity["reserve_share_valid_frames"]["leg_lumbar"]) < LABEL_BOUNDS["reserve_share"]
                and float(saturated.get("raw_valid_frames", saturated["raw"])) < LABEL_BOUNDS["saturated"])


def sequence_figures(validity: dict) -> dict[str, float]:
    """The :data:`FIGURES` of one sequence from its record's ``validity`` summary."""
    figures = {"valid_fraction": validity["valid_fraction"],
               "reserve_share": validity["reserve_share_valid_frames"]["leg_lumbar"],
               "capacity": validity["capacity_median"], "saturated": validity["saturated_fraction"]["raw"],
               "moment_error": validity["moment_error"]["published"],
               "residual_force_bw": validity["residual_force_rms_bw_valid_frames"]}
    return {key: float(value) for key, value in figures.items()}   # records store non-finite figures as "nan"


def validity_counts(records: list[dict]) -> dict:
    """Per-sequence figures, per-source medians and masked-frame counts of dataset records
    (``{sequence_id, source, subject, kept, validity}``), and per-motion medians of the motions that several
    sequences play (the embedded default's clips on each subject); sequences without an audit are counted as
    such. ``within_bounds``: kept sequences whose kept frames meet :data:`LABEL_BOUNDS`."""
    from builder.sources.embedded import motion_of  # the sources package imports scipy's rotations

    sequences, masked, unaudited = {}, defaultdict(lambda: defaultdict(int)), defaultdict(int)
    for record in records:
        validity = record.get("validity") or {}
        if not validity.get("frames"):
            unaudited[record["source"]] += 1
            continue
        sequences[record["sequence_id"]] = {"source": record["source"],
                                            "motion": motion_of(record["sequence_id"], record.get("subject")),
                                            "kept": record["kept"],
                                            "within_bounds": record["kept"] and within_bounds(validity),
                                            **sequence_figures(validity)}
        masked[record["source"]]["frames"] += validity["frames"]
        masked[record["source"]]["valid_frames"] += validity["valid_frames"] if record["kept"] else 0
        for reason, count in validity["masked_frames"].items():
            masked[record["source"]][reason] += count
    by_source = {source: {**_summary(rows), "unaudited": unaudited[source], "frames": dict(masked[source])}
                 for source, rows in _grouped(sequences.values(), "source", unaudited).items()}
    by_motion = {motion: {"source": rows[0]["source"], **_summary(rows)}
                 for motion, rows in _grouped(sequences.values(), "motion").items() if len(rows) > 1}
    return {"figures": FIGURES, "bounds": LABEL_BOUNDS, "sequences": sequences, "by_source": by_source,
            "by_motion": by_motion}


def _grouped(rows: Iterable[dict], key: str, also: Iterable[str] = ()) -> dict[str, list[dict]]:
    """``rows`` by their ``key``, in sorted order, with an empty list for each name in ``also`` without rows."""
    groups: dict[str, list[dict]] = defaultdict(list, {name: [] for name in also})
    for row in rows:
        groups[row[key]].append(row)
    return dict(sorted(groups.items()))


def _summary(rows: list[dict]) -> dict:
    """How many sequences were audited, kept and within the bounds, and the medians of their figures."""
    return {"audited": len(rows), "kept": sum(row["kept"] for row in rows),
            "within_bounds": sum(row["within_bounds"] for row in rows),
            **{key: float(np.nanmedian([row[key] for row in rows])) if rows else None for key in FIGURES}}


def validity_histograms(path: Path, counts: dict) -> None:
    """One histogram per figure over all audited sequences (kept and dropped stacked) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(counts["sequences"].values())
    figure, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for axis, (key, text) in zip(axes.ravel(), FIGURES.items()):
        groups = [[row[key] for row in rows if row["kept"] == kept and np.isfinite(row[key])]
                  for kept in (True, False)]
        axis.hist(groups, bins=20, stacked=True, label=["kept", "dropped"], color=["tab:blue", "tab:red"])
        axis.set_title(text, fontsize=8)
        axis.set_ylabel("sequences", fontsize=8)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(f"BioSim validity of {len(rows)} sequences", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
