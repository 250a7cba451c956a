"""Print the validity figures of every sequence in a BioSim work folder, and their summary per clip.

    python3 scripts/audit_biosim.py runs/biosim                # figures from each record.json
    python3 scripts/audit_biosim.py runs/old --recompute       # audit built folders from their files
    python3 scripts/audit_biosim.py runs/biosim --json out.json

Columns: status, valid frames, reserve share of the RMS joint moment over leg + lumbar coordinates
(all frames, valid frames), median active-force capacity at the IK poses, saturated raw activations,
how much of the ID moments raw SO / the published label / the Savitzky-Golay filter leave unexplained,
and the pelvis residual force RMS on valid frames (body weights).
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

COLUMNS = ("valid", "share", "share_valid", "capacity", "saturated", "err_raw", "err_pub", "err_sg", "res_bw")


def figures(record, validity: dict) -> dict:
    """One row of the table from a record's ``validity`` summary."""
    return {"status": record.status if record else "?", "valid": validity["valid_fraction"],
            "share": validity["reserve_share"]["leg_lumbar"],
            "share_valid": validity["reserve_share_valid_frames"]["leg_lumbar"],
            "capacity": validity["capacity_median"], "saturated": validity["saturated_fraction"]["raw"],
            "err_raw": validity["moment_error"]["raw"], "err_pub": validity["moment_error"]["published"],
            "err_sg": validity["moment_error"]["savgol"], "res_bw": validity["residual_force_rms_bw_valid_frames"]}


def audit_work_folder(work: Path, recompute: bool = False) -> dict[str, dict]:
    """``{sequence_id: row}`` for every sequence folder under ``work/sequences`` that has dynamics outputs."""
    from builder.biosim.dynamics import audit_folder

    rows = {}
    folders = sorted(p for p in (work / "sequences").iterdir() if p.is_dir())
    for folder in tqdm(folders, desc="audit", unit="seq"):
        record = read_record(folder / layout.RECORD)
        if recompute and (folder / layout.SO_ACTIVATIONS).is_file():
            rows[folder.name] = figures(record, audit_folder(folder).summary)
        elif record and record.validity:
            rows[folder.name] = figures(record, record.validity)
        else:
            rows[folder.name] = {"status": record.status if record else "missing"}
    return rows


def print_table(rows: dict[str, dict]) -> None:
    print(f"{'sequence':34s} {'status':8s} " + " ".join(f"{c:>11s}" for c in COLUMNS))
    for name, row in rows.items():
        print(f"{name:34s} {row['status']:8s} " + " ".join(f"{row[c]:11.3f}" if c in row else f"{'-':>11s}"
                                                        for c in COLUMNS))
    by_clip = defaultdict(list)
    for name, row in rows.items():
        by_clip[name.split("__")[0]].append(row)
    print(f"\n{'clip (median over subjects)':34s} {'kept':8s} " + " ".join(f"{c:>11s}" for c in COLUMNS))
    for clip, clip_rows in sorted(by_clip.items()):
        kept = sum(r["status"] == "kept" for r in clip_rows)
        values = [np.nanmedian([r[c] for r in clip_rows if c in r]) if any(c in r for r in clip_rows) else np.nan
                  for c in COLUMNS]
        print(f"{clip:34s} {kept}/{len(clip_rows):<6d} " + " ".join(f"{v:11.3f}" for v in values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="BioSim work folder (sequences/<id>/ inside)")
    parser.add_argument("--recompute", action="store_true", help="audit from the files, not the records")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = audit_work_folder(args.work, args.recompute)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
