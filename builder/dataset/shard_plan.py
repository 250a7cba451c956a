"""Which windows go into which shard, decided before any shard is written.

The plan follows the sequences in id order within each split and rolls shards exactly as a single
writer would (a tar shard closes before the window that would take it past ``shard_bytes``; a
Parquet file holds ``parquet_rows`` windows), so every shard can then be written by its own task
and the bytes never depend on how many tasks ran or in which order they finished.
"""

from __future__ import annotations

from dataclasses import dataclass

from biohuman10m.layout import PARQUET_DIR, WEBDATASET_DIR

from .splits import SPLITS

FORMATS = {"webdataset": (WEBDATASET_DIR, "tar"), "parquet": (PARQUET_DIR, "parquet")}


@dataclass(frozen=True)
class ShardPlan:
    """One shard: its split, format, number, and its windows as ``(sequence_id, first window, count)`` runs."""

    split: str
    format: str
    index: int
    windows: tuple[tuple[str, int, int], ...]

    @property
    def folder(self) -> str:
        return FORMATS[self.format][0]

    @property
    def name(self) -> str:
        return f"{self.split}-{self.index:05d}.{FORMATS[self.format][1]}"

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}"


def _runs(windows: list[tuple[str, int]]) -> tuple[tuple[str, int, int], ...]:
    """``(sequence_id, window index)`` pairs in order -> ``(sequence_id, first, count)`` runs."""
    runs: list[list] = []
    for sequence_id, index in windows:
        if runs and runs[-1][0] == sequence_id and runs[-1][1] + runs[-1][2] == index:
            runs[-1][2] += 1
        else:
            runs.append([sequence_id, index, 1])
    return tuple(tuple(run) for run in runs)


def plan_shards(summaries: list[dict], shard_bytes: int, parquet_rows: int) -> list[ShardPlan]:
    """The shards of every split, from the encoded sequences' summaries (``sequence_id``, ``split``,
    ``window_bytes``: each window's bytes in a tar), taken in sequence-id order."""
    plans = []
    for split in SPLITS:
        chosen = sorted((s for s in summaries if s["split"] == split and s["windows"]),
                        key=lambda s: s["sequence_id"])
        windows = [(s["sequence_id"], i, size) for s in chosen for i, size in enumerate(s["window_bytes"])]
        tars: list[list[tuple[str, int]]] = []
        pending_bytes = 0
        for sequence_id, index, size in windows:
            if not tars or (tars[-1] and pending_bytes + size > shard_bytes):
                tars.append([])
                pending_bytes = 0
            tars[-1].append((sequence_id, index))
            pending_bytes += size
        plans += [ShardPlan(split, "webdataset", n, _runs(shard)) for n, shard in enumerate(tars)]
        rows = [(sequence_id, index) for sequence_id, index, _ in windows]
        plans += [ShardPlan(split, "parquet", n, _runs(rows[start:start + parquet_rows]))
                  for n, start in enumerate(range(0, len(rows), parquet_rows))]
    return plans
