#!/usr/bin/env python3
"""Read speed of BioHuman10M shards on one CPU core: windows/s for labels only and with frames decoded.

    python scripts/bench_shards.py --dataset path/to/biohuman10m      # a built dataset folder
    python scripts/bench_shards.py --synthetic 12                     # build 12 synthetic sequences first

Prints windows/s for: WebDataset labels only (.npy + .json), WebDataset with the MP4/JPEG frames
decoded (PyAV / Pillow), Parquet labels with pyarrow, and collated PyTorch batches with frames.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pin_to_one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"


def synthetic_dataset(count: int, work: Path, crop_size: int) -> Path:
    """Build ``count`` synthetic sequences (tests/helpers/sequences.py) into a dataset with person crops."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.sequences import make_sequence

    from builder.dataset.build import BuildConfig, build_dataset
    from builder.dataset.windows import WindowConfig

    for i in range(count):
        make_sequence(work / "biosim", f"seq{i:03d}", source=("EMDB", "3DPW", "default")[i % 3], subject=f"P{i % 5}",
                      num_frames=96, seed=i)
    out = work / "dataset"
    build_dataset(work / "biosim", out, BuildConfig(window=WindowConfig(frames="crop", crop_size=crop_size)))
    return out


def timed(label: str, iterate, repeats: int = 3) -> None:
    best = float("inf")
    count = 0
    for _ in range(repeats):
        started = time.perf_counter()
        count = sum(1 for _ in iterate())
        best = min(best, time.perf_counter() - started)
    print(f"{label:<48s} {count / best:10.1f} windows/s  ({count} windows, best of {repeats})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, help="built dataset folder")
    parser.add_argument("--synthetic", type=int, default=12, help="sequences to synthesise when no --dataset")
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    pin_to_one_core()

    import numpy as np
    import pyarrow.parquet as pq
    import webdataset as wds

    from biohuman10m.collate import collate_windows, window_from_sample

    with tempfile.TemporaryDirectory() as work:
        folder = args.dataset or synthetic_dataset(args.synthetic, Path(work), args.crop_size)
        tars = sorted(glob.glob(str(folder / "webdataset" / "*.tar")))
        parquets = sorted(glob.glob(str(folder / "data" / "*.parquet")))
        size = sum(os.path.getsize(p) for p in tars)
        print(f"dataset {folder}: {len(tars)} tar shards ({size / 2**20:.1f} MiB), {len(parquets)} Parquet files, "
              f"1 core (pid affinity {sorted(os.sched_getaffinity(0))})")

        def labels_only():
            for sample in wds.WebDataset(tars, shardshuffle=False).decode():
                window = window_from_sample(sample, decode_frames=False)
                assert window["poses"].shape[1] == 72
                yield window

        def with_frames():
            for sample in wds.WebDataset(tars, shardshuffle=False).decode():
                window = window_from_sample(sample, decode_frames=True)
                assert window["frames"].ndim == 4
                yield window

        def parquet_labels():
            for path in parquets:
                table = pq.read_table(path, columns=["poses", "activations", "muscle_mask"])
                flat = table.column("poses").combine_chunks().flatten().flatten()
                poses = np.asarray(flat).reshape(len(table), -1, 72)
                yield from poses

        def batches():
            pending = []
            for sample in wds.WebDataset(tars, shardshuffle=False).decode():
                pending.append(sample)
                if len(pending) == args.batch:
                    batch = collate_windows(pending)
                    yield from range(len(pending))
                    pending = []
                    del batch
            if pending:
                collate_windows(pending)
                yield from range(len(pending))

        timed("WebDataset, labels only (.npy + .json)", labels_only)
        timed("WebDataset, labels + frames decoded", with_frames)
        timed("Parquet via pyarrow, poses/activations/masks", parquet_labels)
        timed(f"WebDataset -> collate_windows, batch {args.batch}, frames", batches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
