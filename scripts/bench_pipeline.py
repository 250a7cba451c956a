#!/usr/bin/env python3
"""Frames per second per core of every build stage and end to end: the code before the pipeline rework
and this checkout, side by side, on the same embedded clips in one run.

The "before" figures come from the files of ``--baseline`` (``git archive``) (default: the last commit before the
rework) driven the way its ``biohuman dataset pipeline`` ran: kinematics with the body built once per
subject and the model scaled for every sequence, dynamics, then the render command building and posing
the body again, then the dataset build. The "after" figures come from this checkout's per-sequence task
(:func:`builder.dataset.cost.measure_sample`: one body per task posed once, scaled models reused per
subject). Both run in a child process on one thread and count CPU seconds (all threads of the process,
so the figures are per core even on a busy machine). Usage:

    python scripts/bench_pipeline.py [--clips walk kick ...] [--subjects 2] [--views 3] [--baseline REF]

The third column renders ``--views`` views of every simulated sequence (each a dataset sequence of its
own): the end-to-end figure counts dataset frames per core-second of every stage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "2aaa9c2"
"""The commit the pipeline rework started from (stages driven by CLI argument strings)."""

BEFORE = r'''
import json, sys, time
from pathlib import Path
from builder import layout
from builder.biosim.dynamics import process_sequence
from builder.biosim.kinematics import KinematicsSettings, run_kinematics
from builder.body import make_body
from builder.dataset.build import BuildConfig, build_dataset
from builder.render.command import sequence_video
from builder.render.sequence import RenderConfig
from builder.sources import read_motion

files, work = sys.argv[1:-1], Path(sys.argv[-1])
cpu, frames, bodies, renderer = {}, {}, {}, None
def timed(stage, n, call):
    started = time.process_time(); result = call()
    cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - started; frames[stage] = frames.get(stage, 0) + n
    return result
for path in files:
    for sequence in read_motion(path):
        key = (sequence.gender, tuple(sorted(sequence.body_phenotype.items())))
        body = bodies.get(key) or timed("kinematics", 0, lambda: make_body(sequence))
        bodies[key] = body
        n = sequence.num_frames
        timed("kinematics", n, lambda: run_kinematics(sequence, work, KinematicsSettings(), body=body))
        folder = layout.sequence_dir(work, sequence.sequence_id)
        record = timed("dynamics", n, lambda: process_sequence(folder))
        if record.status == "kept":
            renderer = timed("render", n, lambda: sequence_video(folder, RenderConfig(), 0, renderer))[1]
if frames.get("render"):
    timed("shards", frames["render"], lambda: build_dataset(work, work / "dataset", BuildConfig()))
print(json.dumps({"cpu_s": cpu, "frames": frames}))
'''

AFTER = r'''
import json, os, sys
from pathlib import Path
from builder.biosim.kinematics import KinematicsSettings
from builder.dataset.cost import measure_sample
from builder.dataset.sequence_task import KinematicsStage, RenderStage, SequenceStages
stages = SequenceStages(KinematicsStage(KinematicsSettings()), render=RenderStage(views=int(os.environ["VIEWS"])))
estimate = measure_sample(sys.argv[1:-1], sample=len(sys.argv) - 2, stages=stages, scratch=Path(sys.argv[-1]))
print(json.dumps({"cpu_s": estimate.cpu_s, "frames": estimate.stage_frames}))
'''


def _run(code: str, source_root: Path, files: list[Path], work: Path, views: int = 1) -> dict:
    env = dict(os.environ, PYTHONPATH=str(source_root), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", VIEWS=str(views))
    result = subprocess.run([sys.executable, "-c", "import torch; torch.set_num_threads(1)\n" + code,
                             *map(str, files), str(work)], env=env, cwd=source_root, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{source_root}: benchmark run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _baseline_tree(ref: str, folder: Path) -> Path:
    """The files of ``ref`` (``git archive``: nothing is added to the repository's worktrees)."""
    tree = folder / f"baseline-{ref}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _rates(result: dict) -> dict[str, float]:
    rates = {stage: result["frames"][stage] / result["cpu_s"][stage]
             for stage in result["cpu_s"] if result["frames"].get(stage)}
    total = sum(result["cpu_s"].values())   # every core-second spent, per frame that reaches the dataset
    rates["end to end"] = result["frames"].get("render", 0) / total if total else 0.0
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", default=["walk", "kick", "punch", "jump"],
                        help="embedded clips (default: walk kick punch jump)")
    parser.add_argument("--subjects", type=int, default=2, help="Anny subjects per clip (default 2)")
    parser.add_argument("--views", type=int, default=3, help="views per simulated sequence of the third column")
    parser.add_argument("--baseline", default=BASELINE, help=f"git ref of the code before (default {BASELINE})")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from builder.sources.embedded import DEFAULT_SUBJECTS, write_embedded_default

    with tempfile.TemporaryDirectory(prefix="bench-pipeline.") as folder:
        folder = Path(folder)
        files = write_embedded_default(folder / "motions", subjects=DEFAULT_SUBJECTS[:args.subjects],
                                       clips=tuple(args.clips))
        before = _run(BEFORE, _baseline_tree(args.baseline, folder), files, folder / "before")
        work = folder / "after"
        work.mkdir()
        after = _run(AFTER, ROOT, files, work)
        views = _run(AFTER, ROOT, files, work, args.views)
    old, new, many = _rates(before), _rates(after), _rates(views)
    print(f"{len(files)} sequences ({', '.join(args.clips)} x {args.subjects} subjects), "
          f"{before['frames']['kinematics']} frames; CPU seconds on one thread")
    print(f"{'stage':<12}{'before':>10}{'after':>10}{'speed-up':>10}{f'after, {args.views} views':>18}{'speed-up':>10}"
          "   (frames/s per core)")
    for stage in ("kinematics", "dynamics", "render", "shards", "end to end"):
        if stage in old and stage in new:
            print(f"{stage:<12}{old[stage]:>10.1f}{new[stage]:>10.1f}{new[stage] / old[stage]:>9.2f}x"
                  f"{many.get(stage, 0.0):>18.1f}{many.get(stage, 0.0) / old[stage]:>9.2f}x")


if __name__ == "__main__":
    main()
