"""Print the validity figures of every sequence in a BioSim work folder, and their summary per clip.

    python3 scripts/audit_biosim.py runs/biosim                # figures from each record.json
    python3 scripts/audit_biosim.py runs/old --recompute       # audit built folders from their files
    python3 scripts/audit_biosim.py runs/biosim --json out.json
    python3 scripts/audit_biosim.py runs/new --before old.json --figure before_after.png   # per-clip bars
    python3 scripts/audit_biosim.py runs/biosim --reference ../shared/reference/opensim-models/Pipelines/Rajagopal

``--reference`` adds the same figures for the real Rajagopal walk and 3.8 m/s treadmill run through ULBS-112
(scaled to their subject, IK of their markers), once with their measured force plates and once with BioSim's
GRF estimate: what the model and the SO reach on real motion, the reference a simulated clip is judged against.

Columns: status, valid frames, reserve share of the RMS joint moment over leg + lumbar coordinates
(all frames, valid frames), median active-force capacity at the IK poses, saturated raw activations,
how much of the ID moments raw SO / the published label / the Savitzky-Golay filter leave unexplained,
and the pelvis residual force RMS on valid frames (body weights). Below the table, per clip, the leg and
lumbar coordinates whose moments the muscles fail most: their parts of the reserve share on valid frames.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder import layout  # noqa: E402
from builder.biosim.record import read_record  # noqa: E402
from builder.biosim.storage import read_storage  # noqa: E402
from builder.biosim.validity import LEG_AND_LUMBAR, coordinate_group  # noqa: E402
from builder.sources.embedded import SUBJECT_MARK  # noqa: E402

COLUMNS = ("valid", "share", "share_valid", "capacity", "saturated", "sat_valid", "err_raw", "err_pub", "err_sg",
           "res_bw")


def figures(record, validity: dict, frames=None) -> dict:
    """One row of the table from a record's ``validity`` summary (and its ``validity.sto`` ``frames``)."""
    saturated = validity["saturated_fraction"]
    if "raw_valid_frames" not in saturated and frames is not None:   # summaries written before that figure
        valid = frames.column("valid") > 0.5
        saturated = {**saturated, "raw_valid_frames": float(frames.column("saturated_fraction")[valid].mean())
                     if valid.any() else float("nan")}
    return {"status": record.status if record else "?", "valid": validity["valid_fraction"],
            "sat_valid": saturated.get("raw_valid_frames", float("nan")),
            "share": validity["reserve_share"]["leg_lumbar"],
            "share_valid": validity["reserve_share_valid_frames"]["leg_lumbar"],
            "capacity": validity["capacity_median"], "saturated": validity["saturated_fraction"]["raw"],
            "err_raw": validity["moment_error"]["raw"], "err_pub": validity["moment_error"]["published"],
            "err_sg": validity["moment_error"]["savgol"], "res_bw": validity["residual_force_rms_bw_valid_frames"],
            "parts": validity.get("reserve_share_by_coordinate_valid_frames", {})}


def audit_work_folder(work: Path, recompute: bool = False) -> dict[str, dict]:
    """``{sequence_id: row}`` for every sequence folder under ``work/sequences`` that has dynamics outputs; an
    extra rendered view (its record's ``sources.view_of``) repeats its sequence's labels and is left out."""
    from builder.biosim.dynamics import audit_folder

    rows = {}
    folders = sorted(p for p in (work / "sequences").iterdir() if p.is_dir())
    for folder in tqdm(folders, desc="audit", unit="seq"):
        record = read_record(folder / layout.RECORD)
        if record and (record.sources or {}).get("view_of"):
            continue
        if recompute and (folder / layout.SO_ACTIVATIONS).is_file():
            audit = audit_folder(folder)
            rows[folder.name] = figures(record, audit.summary, audit.frames)
        elif record and record.validity:
            frames = read_storage(folder / layout.VALIDITY) if (folder / layout.VALIDITY).is_file() else None
            rows[folder.name] = figures(record, record.validity, frames)
        else:
            rows[folder.name] = {"status": record.status if record else "missing"}
    return rows


def audit_reference_trials(pipeline: Path, work: Path) -> dict[str, dict]:
    """Rows for the real walk and run of the Rajagopal ``pipeline`` folder, with the measured plates
    (``<trial>__plates``) and with BioSim's GRF estimate (``<trial>__estimated``), built under ``work``."""
    from builder.biosim.dynamics import DynamicsSettings
    from builder.biosim.grf import make_estimator
    from builder.biosim.reference_trials import prepare_ulbs_trial, reference_sequence_folder

    rows = {}
    for name in tqdm(("walk", "run"), desc="reference trials", unit="trial"):
        trial = prepare_ulbs_trial(pipeline, work / name, name)
        estimate = make_estimator(DynamicsSettings().grf_estimator).estimate(trial.model, trial.ik)
        estimate.write(work / name / "grf_estimated.mot", work / name / "grf_estimated.xml")
        for loads, xml in (("plates", trial.measured_xml), ("estimated", work / name / "grf_estimated.xml")):
            audit = reference_sequence_folder(trial, xml, work / "sequences" / f"reference_{name}__{loads}")
            rows[f"reference_{name}__{loads}"] = {**figures(None, audit.summary, audit.frames), "status": "real"}
    return rows


def clip_of(name: str) -> str:
    """The clip of an embedded sequence (``deepmimic_run__anny01`` -> ``deepmimic_run``)."""
    return name.split(SUBJECT_MARK)[0]


def print_table(rows: dict[str, dict]) -> None:
    print(f"{'sequence':34s} {'status':8s} " + " ".join(f"{c:>11s}" for c in COLUMNS))
    for name, row in rows.items():
        print(f"{name:34s} {row['status']:8s} " + " ".join(f"{row[c]:11.3f}" if c in row else f"{'-':>11s}"
                                                        for c in COLUMNS))
    by_clip = defaultdict(list)
    for name, row in rows.items():
        if row["status"] != "real":   # the reference trials have their own rows only
            by_clip[clip_of(name)].append(row)
    print(f"\n{'clip (median over subjects)':34s} {'kept':8s} " + " ".join(f"{c:>11s}" for c in COLUMNS))
    for clip, clip_rows in sorted(by_clip.items()):
        kept = sum(r["status"] == "kept" for r in clip_rows)
        values = [np.nanmedian([r[c] for r in clip_rows if c in r]) if any(c in r for r in clip_rows) else np.nan
                  for c in COLUMNS]
        print(f"{clip:34s} {kept}/{len(clip_rows):<6d} " + " ".join(f"{v:11.3f}" for v in values))


def print_largest_parts(rows: dict[str, dict], count: int = 4) -> None:
    """Per clip (and reference trial), the leg and lumbar coordinates with the largest median part of the
    reserve share on valid frames (``reserve_share_by_coordinate_valid_frames``; records written before it
    have none: ``--recompute``)."""
    by_clip = defaultdict(list)
    for name, row in rows.items():
        if row.get("parts"):
            by_clip[name if row["status"] == "real" else clip_of(name)].append(row["parts"])
    if not by_clip:
        return
    print(f"\n{'largest parts of the reserve share':34s} (median over subjects, valid frames; sides apart)")
    for clip, parts in sorted(by_clip.items()):
        names = {n for p in parts for n in p if coordinate_group(n) in LEG_AND_LUMBAR}
        medians = {n: float(np.nanmedian([p.get(n, np.nan) for p in parts])) for n in names}
        largest = sorted(medians.items(), key=lambda item: -item[1])[:count]
        print(f"{clip:34s} " + "  ".join(f"{n} {v:.3f}" for n, v in largest))


def before_after_figure(path: Path, before: dict[str, dict], after: dict[str, dict]) -> None:
    """Per-clip medians of the main figures, before vs after, and kept / frame-masked / dropped counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = sorted({clip_of(name) for name in after})
    panels = (("share", "reserve share (leg + lumbar, all frames)"), ("share_valid", "reserve share, kept frames"),
              ("capacity", "median active-force capacity"), ("saturated", "saturated raw activations"),
              ("err_pub", "ID moments unexplained by the label"))
    figure, axes = plt.subplots(len(panels) + 1, 1, figsize=(12, 3 * (len(panels) + 1)), sharex=True)
    x = np.arange(len(clips))
    for axis, (key, title) in zip(axes, panels):
        for offset, (label, rows) in zip((-0.2, 0.2), (("before", before), ("after", after))):
            values = [np.nanmedian([r[key] for n, r in rows.items() if clip_of(n) == c and key in r] or [np.nan])
                      for c in clips]
            axis.bar(x + offset, values, 0.4, label=label)
        axis.set_title(title, fontsize=9)
    axes[0].legend()

    def frames_masked(row):
        return row.get("valid", 1.0) < 0.999

    counts = {label: [[sum(1 for n, r in rows.items() if clip_of(n) == c and test(r)) for c in clips]
                      for test in (lambda r: r["status"] == "kept" and not frames_masked(r),
                                   lambda r: r["status"] == "kept" and frames_masked(r),
                                   lambda r: r["status"] != "kept")]
              for label, rows in (("before", before), ("after", after))}
    for offset, (label, (whole, masked, dropped)) in zip((-0.2, 0.2), counts.items()):
        axes[-1].bar(x + offset, whole, 0.4, color="tab:green", label="kept whole" if offset > 0 else None)
        axes[-1].bar(x + offset, masked, 0.4, bottom=whole, color="tab:orange",
                     label="kept, frames masked" if offset > 0 else None)
        axes[-1].bar(x + offset, dropped, 0.4, bottom=np.add(whole, masked), color="tab:red",
                     label="dropped" if offset > 0 else None)
    axes[-1].set_title("sequences per clip (left bar: before, right bar: after)", fontsize=9)
    axes[-1].legend(fontsize=8)
    axes[-1].set_xticks(x, [c.removeprefix("deepmimic_") for c in clips], rotation=30)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="BioSim work folder (sequences/<id>/ inside)")
    parser.add_argument("--recompute", action="store_true", help="audit from the files, not the records")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--before", type=Path, help="rows of an earlier build (--json output) to compare with")
    parser.add_argument("--figure", type=Path, help="PNG of the per-clip comparison (needs --before)")
    parser.add_argument("--reference", type=Path, metavar="PIPELINE",
                        help="also audit the real Rajagopal walk and run (their Pipelines/Rajagopal folder)")
    parser.add_argument("--reference-work", type=Path, default=Path("runs") / "reference_trials",
                        help="where the reference trials are built (default: runs/reference_trials)")
    args = parser.parse_args()
    rows = audit_work_folder(args.work, args.recompute)
    if args.reference:
        rows |= audit_reference_trials(args.reference, args.reference_work)
    print_table(rows)
    print_largest_parts(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.before and args.figure:
        before_after_figure(args.figure, json.loads(args.before.read_text()), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
