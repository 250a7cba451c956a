"""Serialize windows into WebDataset tar shards and Parquet label shards, deterministically.

A window becomes one tar sample: ``<key>.json`` (metadata), ``<key>.<array>.npy`` and its frames
(``<key>.frames.mp4`` or ``<key>.f00.jpg`` ...). Tar headers carry fixed owner, mode and time, so
the same windows always give the same bytes. Every shard is written to a temporary file and
renamed into place. The same samples give Parquet rows (metadata + arrays, no frames) whose
schema carries the ``datasets`` features, so ``load_dataset`` returns arrays of the right shape
while pyarrow alone reads plain nested lists.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from biohuman10m.features import METADATA, frame_member
from biohuman10m.frames import encode_jpeg, encode_mp4
from builder.io import atomic_path

from .manifest import ShardChecksumError
from .windows import Window, WindowConfig

Members = dict[str, bytes]
TAR_BLOCK = 512


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_array(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def window_members(window: Window, config: WindowConfig) -> Members:
    """Tar members (suffix after the key -> bytes) of one window."""
    metadata = {name: window.metadata[name] for name, _ in METADATA}
    members: Members = {"json": json.dumps(metadata, separators=(",", ":")).encode()}
    members.update({f"{name}.npy": npy_bytes(array) for name, array in window.arrays.items()})
    if config.image_format == "mp4":
        members["frames.mp4"] = encode_mp4(window.frames, window.metadata["fps"], crf=config.crf)
    else:
        members.update({frame_member(i, "jpg"): encode_jpeg(frame, config.jpeg_quality)
                        for i, frame in enumerate(window.frames)})
    return members


def sample_bytes(members: Members) -> int:
    """Bytes a sample occupies in a tar file (headers and block padding included)."""
    return sum(TAR_BLOCK + -(-len(data) // TAR_BLOCK) * TAR_BLOCK for data in members.values())


def _tar_writer(stream):
    import webdataset

    return webdataset.TarWriter(stream, encoder=False, mtime=0, user="biohuman", group="biohuman", mode=0o444)


def write_tar(path: Path, samples: Iterable[tuple[str, Members]]) -> None:
    """Write ``(key, members)`` samples to ``path`` atomically as a WebDataset tar."""
    with atomic_path(path) as tmp, tmp.open("wb") as stream:
        writer = _tar_writer(stream)
        for key, members in samples:
            writer.write({"__key__": key, **members})
        writer.close()


def iter_tar(path: Path) -> Iterator[tuple[str, Members]]:
    """``(key, members)`` samples of a WebDataset tar, in file order; a truncated or corrupt tar raises
    :class:`~builder.dataset.manifest.ShardChecksumError` (a tar cut at a block boundary ends early
    instead: callers compare the count with what they wrote)."""
    key, members = None, {}
    try:
        with tarfile.open(path, mode="r") as archive:
            for info in archive:
                if not info.isfile():
                    continue
                name_key, _, suffix = info.name.partition(".")
                if name_key != key and members:
                    yield key, members
                    members = {}
                key = name_key
                members[suffix] = archive.extractfile(info).read()
    except (tarfile.TarError, EOFError) as error:
        raise ShardChecksumError(path, f"truncated or corrupt tar ({type(error).__name__}: {error})") from None
    if members:
        yield key, members


def parquet_members(members: Members) -> Members:
    """The members a Parquet row is made of (metadata and arrays; frames stay in the tar shards)."""
    return {name: data for name, data in members.items() if name.endswith((".npy", "json"))}


def _storage_array(values: np.ndarray, fixed: bool):
    """Arrow array of per-row numpy arrays: nested lists, the outer level fixed-size if ``fixed``."""
    import pyarrow as pa

    flat = pa.array(values.reshape(-1))
    for depth, dim in enumerate(reversed(values.shape[1:])):
        if fixed and depth == values.ndim - 2:
            flat = pa.FixedSizeListArray.from_arrays(flat, dim)
        else:
            flat = pa.ListArray.from_arrays(pa.array(np.arange(0, len(flat) + 1, dim, dtype=np.int32)), flat)
    return flat


def parquet_table(samples: list[tuple[str, Members]], features):
    """Arrow table of the samples' metadata and arrays (the frames are left out)."""
    import datasets
    import pyarrow as pa

    metadata = [json.loads(members["json"]) for _, members in samples]
    columns = {}
    for name, feature in features.items():
        if name in dict(METADATA):
            columns[name] = pa.array([m[name] for m in metadata], type=feature.pa_type)
            continue
        arrays = [npy_array(members[f"{name}.npy"]) for _, members in samples]
        if name == "betas":
            lengths = np.array([0] + [len(a) for a in arrays], dtype=np.int32)
            columns[name] = pa.ListArray.from_arrays(pa.array(np.cumsum(lengths, dtype=np.int32)),
                                                     pa.array(np.concatenate(arrays).astype(np.float32)))
        else:
            fixed = isinstance(feature, datasets.List)
            columns[name] = _storage_array(np.stack(arrays), fixed=fixed)
    schema_metadata = features.arrow_schema.metadata
    return pa.table(columns).replace_schema_metadata(schema_metadata)


def write_parquet(path: Path, samples: list[tuple[str, Members]], features) -> None:
    """Write the samples' labels and metadata to ``path`` atomically as Parquet."""
    import pyarrow.parquet as pq

    table = parquet_table(samples, features)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=1024)
