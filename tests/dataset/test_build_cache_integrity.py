"""The resumable window cache (``.build/``) never serves stale or damaged windows: it follows the
content of each sequence's files, and a cached tar that was cut short is encoded again."""

from __future__ import annotations

import os

import numpy as np
import pyarrow.parquet as pq
from helpers.sequences import make_sequence, write_sto

from builder import layout
from builder.biosim.storage import read_storage
from builder.dataset.build import BuildConfig, build_dataset
from builder.dataset.manifest import verify
from builder.dataset.windows import WindowConfig

CONFIG = BuildConfig(window=WindowConfig(size=8, stride=8))


def _labels(out):
    return np.concatenate([np.array(pq.read_table(path).to_pydict()["activations"])
                           for path in sorted((out / "data").glob("*.parquet"))])


def test_new_labels_with_the_old_size_and_time_stamp_are_encoded_again(tmp_path):
    make_sequence(tmp_path, "clip", num_frames=24, seed=1)
    out = tmp_path / "dataset"
    build_dataset(tmp_path, out, CONFIG)
    before = _labels(out)
    sto = layout.sequence_dir(tmp_path, "clip") / layout.ACTIVATIONS
    stamp = sto.stat()
    table = read_storage(sto)
    write_sto(sto, table.time, table.data[::-1].copy())   # same numbers, other frames: same size
    os.utime(sto, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))   # e.g. copied back with `cp -p` / `rsync -t`
    assert sto.stat().st_size == stamp.st_size
    build_dataset(tmp_path, out, CONFIG)
    after = _labels(out)
    assert not np.allclose(after, before)
    masked = np.isfinite(table.data).all(axis=1)
    np.testing.assert_allclose(after.reshape(-1, after.shape[-1])[: len(table.time)][masked[::-1]],
                               table.data[::-1][masked[::-1]], atol=1e-6)


def test_a_truncated_cached_tar_is_encoded_again(tmp_path):
    for i in range(3):
        make_sequence(tmp_path, f"clip{i}", subject=f"s{i}", num_frames=24, seed=i)
    out = tmp_path / "dataset"
    reference = build_dataset(tmp_path, out, CONFIG)
    (cached,) = (out / ".build").glob("*/clip1.tar")
    cached.write_bytes(cached.read_bytes()[:2048])   # cut at a tar block boundary: reads as fewer windows
    assert build_dataset(tmp_path, out, CONFIG) == reference
    verify(out)
