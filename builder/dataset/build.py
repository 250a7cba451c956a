"""Build the BioHuman10M dataset folder from BioSim's per-sequence outputs.

``<sequences_root>/sequences/<id>/`` (see :mod:`builder.layout`) -> windows -> shards + card in
the dataset folder drawn in :mod:`biohuman10m.layout`.

Resumable: each sequence's windows are encoded once into ``.build/<settings>/<id>.tar``
(atomically); a re-run reuses them and re-packs the shards, which depend only on those
caches, so an interrupted and resumed build gives the same bytes as an uninterrupted one. A cached
sequence is reused only while the sha256 of each of its input files, its split and the sha256 of
its cached tar are those recorded with it; otherwise it is encoded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from biohuman10m.card import CardInputs, dataset_card, webdataset_card
from biohuman10m.errors import InputError, MissingInputError
from biohuman10m.features import label_features
from biohuman10m.layout import (
    CACHE_DIR,
    CARD,
    DEFAULT_DATASET_DIR,
    FIGURES_DIR,
    PARQUET_DIR,
    SPLITS_FILE,
    WEBDATASET_DIR,
)
from builder import layout
from builder.io import sha256_of, write_text_atomic

from builder.biosim.validity_report import validity_counts
from .figures import write_figures
from .manifest import ShardChecksumError, file_entry, write_manifest
from .sequence_files import drop_categories, load_labels, read_record, window_inputs
from .shards import (
    ParquetShardWriter,
    TarShardWriter,
    iter_tar,
    window_members,
    write_tar,
)
from .splits import DEFAULT_SALT, SPLITS, assign_splits, read_splits, write_splits
from .windows import WindowConfig, sequence_windows

logger = logging.getLogger(__name__)


@dataclass
class BuildConfig:
    """Everything that shapes the built dataset."""

    window: WindowConfig = field(default_factory=WindowConfig)
    shard_bytes: int = 256 * 2**20
    parquet_rows: int = 8192
    keep_dropped: bool = False   # also store dropped sequences' poses (muscle_mask all False)
    split_salt: str = DEFAULT_SALT
    splits_file: Path | None = None
    workers: int = 1
    name: str = "BioHuman10M"
    license: str = "other"

    def settings(self) -> dict:
        """The settings recorded in the manifest (they determine the shards' bytes)."""
        return {"window": self.window.to_dict(), "shard_bytes": self.shard_bytes, "parquet_rows": self.parquet_rows,
                "keep_dropped": self.keep_dropped, "split_salt": self.split_salt}


def discover(sequences_root: Path) -> list[tuple[Path, dict]]:
    """``(folder, record)`` of every sequence under ``sequences_root/sequences``, sorted by id."""
    base = Path(sequences_root) / "sequences"
    if not base.is_dir():
        raise MissingInputError(base, "no sequences folder; expected BioSim outputs in <root>/sequences/<id>/")
    found = [(folder, read_record(folder)) for folder in sorted(base.iterdir())
             if folder.is_dir() and not folder.name.startswith(".")]
    if not found:
        raise MissingInputError(base, "holds no sequence folders")
    return found


def _fingerprint(folder: Path) -> dict:
    """sha256 of a sequence's input files (a changed file invalidates its cached windows)."""
    return {name: sha256_of(folder / name) for name in (*window_inputs(), layout.RECORD) if (folder / name).exists()}


def _cache_dir(out: Path, config: BuildConfig) -> Path:
    digest = hashlib.sha256(json.dumps([config.window.to_dict(), config.keep_dropped], sort_keys=True).encode())
    return out / CACHE_DIR / digest.hexdigest()[:16]


def encode_sequence(folder: Path, record: dict, split: str, window: WindowConfig, cache: Path) -> dict:
    """Encode one sequence's windows into ``cache/<id>.tar`` (once) and return its summary."""
    summary_path, tar_path = cache / f"{record['sequence_id']}.json", cache / f"{record['sequence_id']}.tar"
    fingerprint = _fingerprint(folder)
    if summary_path.exists() and tar_path.is_file():
        summary = json.loads(summary_path.read_text())
        if (summary["split"], summary["fingerprint"], summary.get("tar_sha256")) == (split, fingerprint,
                                                                                      sha256_of(tar_path)):
            return summary
    labels = load_labels(folder, with_activations=bool(record["kept"]))
    windows = 0

    def samples():
        nonlocal windows
        for item in sequence_windows(folder, record, split, labels, window):
            windows += 1
            yield item.key, window_members(item, window)

    write_tar(tar_path, samples())
    summary = {"sequence_id": record["sequence_id"], "source": record["source"], "subject": str(record["subject"]),
               "split": split, "windows": windows, "frames": labels.num_frames,
               "muscle_frames": int(labels.muscle_valid.sum()), "fingerprint": fingerprint,
               "tar_sha256": sha256_of(tar_path)}
    write_text_atomic(summary_path, json.dumps(summary, sort_keys=True))
    return summary


def _encode_all(jobs: list[tuple[Path, dict, str]], window: WindowConfig, cache: Path, workers: int) -> list[dict]:
    """Encode every sequence's windows, in ``workers`` processes; summaries in job order."""
    columns = [list(column) for column in zip(*jobs)] or [[], [], []]
    arguments = (*columns, [window] * len(jobs), [cache] * len(jobs))
    progress = {"total": len(jobs), "desc": "windows", "unit": "seq"}
    if workers <= 1:
        return list(tqdm(map(encode_sequence, *arguments), **progress))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(encode_sequence, *arguments), **progress))


def _pack(out: Path, cache: Path, summaries: list[dict], config: BuildConfig) -> list[dict]:
    """Write the WebDataset and Parquet shards of every split; return their manifest rows."""
    features = label_features(config.window.size, config.window.crops)
    entries = []
    for split in SPLITS:
        chosen = [s for s in summaries if s["split"] == split and s["windows"]]
        if not chosen:
            continue
        tars = TarShardWriter(out / WEBDATASET_DIR, split, config.shard_bytes)
        parquet = ParquetShardWriter(out / PARQUET_DIR, split, config.parquet_rows, features)
        for summary in tqdm(chosen, desc=f"shards {split}", unit="seq"):
            cached = cache / f"{summary['sequence_id']}.tar"
            count = 0
            for key, members in iter_tar(cached):
                tars.add(key, members)
                parquet.add(key, members)
                count += 1
            if count != summary["windows"]:
                raise ShardChecksumError(cached, f"holds {count} windows, {summary['windows']} were encoded into it "
                                         "(changed during the build?); run the build again")
        tars.flush()
        parquet.flush()
        entries += [file_entry(out, path, split=split, format="webdataset", windows=n) for path, n in tars.written]
        entries += [file_entry(out, path, split=split, format="parquet", windows=n) for path, n in parquet.written]
    return entries


def _remove_stale(out: Path, keep: set[str]) -> None:
    """Delete shards of earlier builds that this build did not write."""
    for directory in (out / PARQUET_DIR, out / WEBDATASET_DIR):
        for path in sorted(directory.glob("*.tar")) + sorted(directory.glob("*.parquet")):
            if path.relative_to(out).as_posix() not in keep:
                path.unlink()


def _remove_temporary(out: Path) -> None:
    """Delete the temporary files an interrupted build left (atomic writes name them ``.<stem>.*.tmp*``)."""
    if out.is_dir():
        for path in out.rglob(".*.tmp*"):
            if path.is_file():
                path.unlink()


def _counts(summaries: list[dict], records: list[dict]) -> dict:
    """Windows, frames, sequences and subjects per split and source; kept/dropped per source and reason."""
    table: dict = defaultdict(lambda: defaultdict(lambda: Counter()))
    subjects: dict = defaultdict(set)
    for s in summaries:
        for key in (s["split"], "all"):
            row = table[key][s["source"]]
            row.update(windows=s["windows"], frames=s["frames"], muscle_frames=s["muscle_frames"], sequences=1)
            subjects[key, s["source"]].add(s["subject"])
    per_split = {split: {source: dict(sorted(row.items())) | {"subjects": len(subjects[split, source])}
                         for source, row in sorted(sources.items())} for split, sources in sorted(table.items())}
    filtering: dict = defaultdict(Counter)
    for record in records:
        if record["kept"]:
            filtering[record["source"]]["kept"] += 1
        else:
            filtering[record["source"]]["dropped"] += 1
            filtering[record["source"]].update(f"dropped: {c}" for c in drop_categories(record["drop_reason"]))
    return {"splits": per_split, "filtering": {src: dict(sorted(c.items())) for src, c in sorted(filtering.items())},
            "validity": validity_counts(records)}


def build_dataset(sequences_root: Path, out: Path = DEFAULT_DATASET_DIR, config: BuildConfig | None = None) -> dict:
    """Build (or resume building) the dataset folder ``out``; returns its manifest."""
    config = config or BuildConfig()
    out = Path(out)
    found = discover(sequences_root)
    _remove_temporary(out)
    records = [record for _, record in found]
    if config.splits_file:
        assignment = read_splits(config.splits_file)
        unknown = [r["sequence_id"] for r in records if r["sequence_id"] not in assignment]
        if unknown:
            raise InputError(config.splits_file, f"no split for {len(unknown)} sequences, e.g. {unknown[:3]}")
    else:
        assignment = assign_splits((r["sequence_id"], r["source"], r["subject"]) for r in records)
    write_splits(out / SPLITS_FILE, {r["sequence_id"]: assignment[r["sequence_id"]] for r in records},
                 config.split_salt)

    jobs = [(folder, record, assignment[record["sequence_id"]]) for folder, record in found
            if record["kept"] or (config.keep_dropped and all((folder / n).is_file() for n in window_inputs(False)))]
    keys = Counter(folder.name.replace(".", "_") for folder, _, _ in jobs)
    if duplicated := [k for k, n in keys.items() if n > 1]:
        raise InputError(sequences_root, f"sequence ids collide once dots are replaced for WebDataset keys: "
                         f"{duplicated[:3]}")
    logger.info("%d sequences, %d to window (%d dropped by BioSim filtering)", len(records), len(jobs),
                sum(not r["kept"] for r in records))
    cache = _cache_dir(out, config)
    summaries = _encode_all(jobs, config.window, cache, config.workers)
    entries = _pack(out, cache, summaries, config)
    _remove_stale(out, {entry["path"] for entry in entries})
    entries.append(file_entry(out, out / SPLITS_FILE, format="splits"))
    manifest = write_manifest(out, entries, _counts(summaries, records), config.settings())
    figures = write_figures(out, FIGURES_DIR, manifest)
    settings = Counter(json.dumps(record["settings"], sort_keys=True) for record in records)
    card = CardInputs(name=config.name, license=config.license, manifest=manifest, figures=figures,
                      biosim_settings=[(json.loads(text), n) for text, n in sorted(settings.items())],
                      webdataset_dir=WEBDATASET_DIR, parquet_dir=PARQUET_DIR)
    write_text_atomic(out / CARD, dataset_card(card))
    write_text_atomic(out / WEBDATASET_DIR / CARD, webdataset_card(card))
    logger.info("built %s: %d files, %s", out, len(entries),
                {split: sum(row["windows"] for row in rows.values())
                 for split, rows in manifest["counts"]["splits"].items()})
    return manifest


def clean_cache(out: Path) -> None:
    """Remove the resumable window cache of a finished build."""
    shutil.rmtree(Path(out) / CACHE_DIR, ignore_errors=True)
