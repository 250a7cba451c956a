"""How exact are mirrored training labels? Simulate a motion's mirror image with BioSim and compare.

Mirrored training samples (``builder.training.mirroring``) assume that the mirrored motion's muscle
labels are the original labels with left and right exchanged. That holds exactly only if every step
of BioSim is left-right symmetric (the Anny body and its marker vertices, ULBS-112, scaling, IK, the
GRF estimate, static optimisation). This script mirrors a sequence's ``motion.npz`` (SMPL pose
mirrored, x of the root translation negated), runs ``biohuman kinematics`` and ``dynamics`` on both,
and prints per-muscle agreement between the mirrored simulation and the side-swapped original::

    python3 scripts/bench_mirror_labels.py SEQUENCE_DIR... -o /tmp/mirror

Each SEQUENCE_DIR is a BioSim sequence folder holding ``motion.npz`` (e.g. runs/main/biosim/sequences/
deepmimic_walk__anny02); its own labels are recomputed under ``-o`` so both sides use the same code.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np


def mirrored_motion(motion_path: Path, out: Path) -> Path:
    """Write the mirror image of a ``motion.npz`` (new sequence id ``<id>__mirror``); returns its path."""
    from builder.sources.motion_file import load_motion, save_motion
    from builder.training.mirroring import mirror_pose

    (sequence,) = load_motion(motion_path)
    trans = sequence.trans * np.array([-1.0, 1.0, 1.0], dtype=sequence.trans.dtype)
    mirrored = dataclasses.replace(sequence, sequence_id=f"{sequence.sequence_id}__mirror",
                                   poses=mirror_pose(sequence.poses).astype(sequence.poses.dtype), trans=trans)
    path = out / f"{mirrored.sequence_id}.npz"
    save_motion(mirrored, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sequence_dirs", type=Path, nargs="+")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from biohuman10m.vocabulary import MUSCLE_NAMES
    from builder import layout
    from builder.biosim.storage import read_storage
    from builder.cli import run
    from builder.sources.motion_file import load_motion, save_motion
    from builder.training.mirroring import mirror_muscles

    motions = args.out / "motions"
    motions.mkdir(parents=True, exist_ok=True)
    inputs = []
    for folder in args.sequence_dirs:
        (sequence,) = load_motion(folder / layout.MOTION)
        original = motions / f"{sequence.sequence_id}.npz"
        save_motion(sequence, original)
        inputs += [original, mirrored_motion(folder / layout.MOTION, motions)]
    work = args.out / "biosim"
    run(["kinematics", *map(str, inputs), "-o", str(work), "--workers", str(args.workers)])
    run(["dynamics", str(work), "--workers", str(args.workers)])
    print(f"{'sequence':40s} {'muscle PCC':>10s} {'RMSE':>7s} {'max |d|':>8s} {'mean act':>9s}  worst muscles (PCC)")
    for folder in args.sequence_dirs:
        sequence_id = folder.name
        tables = [read_storage(work / "sequences" / name / layout.ACTIVATIONS)
                  for name in (sequence_id, f"{sequence_id}__mirror")]
        columns = [{label.split("/")[-2] if label.endswith("/activation") else label: i
                    for i, label in enumerate(t.labels)} for t in tables]
        original, mirrored = (t.data[:, [c[name] for name in MUSCLE_NAMES]] for t, c in zip(tables, columns))
        frames = min(len(original), len(mirrored))
        swapped, mirrored = mirror_muscles(original[:frames]), mirrored[:frames]
        valid = np.isfinite(swapped).all(1) & np.isfinite(mirrored).all(1)
        a, b = swapped[valid], mirrored[valid]
        pcc = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        per_muscle = [np.corrcoef(a[:, j], b[:, j])[0, 1] if a[:, j].std() > 1e-6 and b[:, j].std() > 1e-6 else np.nan
                      for j in range(a.shape[1])]
        worst = np.argsort(np.nan_to_num(per_muscle, nan=1.0))[:3]
        print(f"{sequence_id:40s} {pcc:10.3f} {np.sqrt(np.mean((a - b) ** 2)):7.4f} {np.abs(a - b).max():8.3f} "
              f"{a.mean():9.4f}  " + ", ".join(f"{MUSCLE_NAMES[j]} {per_muscle[j]:.2f}" for j in worst))


if __name__ == "__main__":
    main()
