"""Benchmark ULBS-112: generation, loading, scaling and IK cost (ms/frame) with 25 and 87 markers.

Uses the real Rajagopal walking trial (../shared/reference/opensim-models/Pipelines/Rajagopal/ExpData)
for the 25-marker case, and 87-marker trajectories made by replaying that IK solution through the
scaled model (the virtual markers BioSim tracks) for the 87-marker case. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from builder.biosim.ik import run_ik
from builder.biosim.opensim_model import opensim
from builder.biosim.scale import scale_model
from builder.musculoskeletal import build_model
from builder.musculoskeletal.reference_markers import RAJAGOPAL_TO_ULBS
from builder.trc import MarkerTrajectories, write_trc

EXP_DATA = Path(__file__).resolve().parents[1].parent / "shared/reference/opensim-models/Pipelines/Rajagopal/ExpData"


def _renamed(source: Path, out: Path) -> Path:
    lines = source.read_text().splitlines()
    lines[3] = "\t".join(RAJAGOPAL_TO_ULBS.get(token.strip(), token) for token in lines[3].split("\t"))
    out.write_text("\n".join(lines) + "\n")
    return out


def _replay_markers(model_path: Path, mot: Path, out: Path) -> Path:
    """All 87 model markers along an IK motion (degrees in the .mot), written as a .trc."""
    osim = opensim()
    model = osim.Model(str(model_path))
    state = model.initSystem()
    table = osim.TimeSeriesTable(str(mot))
    labels, q = list(table.getColumnLabels()), table.getMatrix().to_numpy()
    coords = [model.getCoordinateSet().get(name) for name in labels]
    rotational = [c.getMotionType() == 1 for c in coords]
    markers = model.getMarkerSet()
    names = [markers.get(i).getName() for i in range(markers.getSize())]
    data = np.empty((len(q), len(names), 3))
    for t, row in enumerate(q):
        for c, value, rot in zip(coords, row, rotational):
            c.setValue(state, math.radians(value) if rot else value, False)
        model.realizePosition(state)
        data[t] = [markers.get(n).getLocationInGround(state).to_numpy() for n in names]
    write_trc(out, MarkerTrajectories(np.asarray(table.getIndependentColumn()), names, data))
    return out


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        start = time.perf_counter()
        model = build_model(work / "ULBS-112.osim")
        print(f"generate ULBS-112: {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        opensim().Model(str(model)).initSystem()
        print(f"load + initSystem: {time.perf_counter() - start:.2f} s")
        static = _renamed(EXP_DATA / "static_walk_1.trc", work / "static.trc")
        walk = _renamed(EXP_DATA / "motion_capture_walk.trc", work / "walk.trc")
        start = time.perf_counter()
        subject = scale_model(model, static, 1.80, 75.0, work / "subject.osim", time_range=(0.5, 1.0))
        print(f"scale (measurements + marker placement): {time.perf_counter() - start:.2f} s")
        report = run_ik(subject, walk, work / "walk_ik.mot")
        print(f"IK real walk, {len(report['markers'])} markers, {report['frames']} frames: "
              f"{report['ms_per_frame']:.1f} ms/frame, RMS error mean {1000 * report['rms_mean_m']:.1f} mm, "
              f"worst frame {1000 * report['rms_max_m']:.1f} mm, max marker {1000 * report['max_max_m']:.1f} mm")
        virtual = _replay_markers(subject, work / "walk_ik.mot", work / "virtual.trc")
        report = run_ik(subject, virtual, work / "virtual_ik.mot")
        print(f"IK replayed walk, {len(report['markers'])} markers, {report['frames']} frames: "
              f"{report['ms_per_frame']:.1f} ms/frame, RMS error mean {1000 * report['rms_mean_m']:.2f} mm")


if __name__ == "__main__":
    main()
