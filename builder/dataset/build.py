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
import itertools
import json
import logging
from collections import Counter, defaultdict
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
    MANIFEST,
    PARQUET_DIR,
    SPLITS_FILE,
    WEBDATASET_DIR,
)
from builder import layout
from builder.biosim.validity_report import validity_counts
from builder.engine import Engine, InlineEngine, LocalEngine, TaskFailure
from builder.io import sha256_of, write_text_atomic

from .figures import write_figures
from .manifest import ShardChecksumError, file_entry, write_manifest
from .sequence_files import drop_categories, load_labels, read_record, window_inputs
from .shard_plan import ShardPlan, plan_shards
from .shards import iter_tar, parquet_members, sample_bytes, window_members, write_parquet, write_tar
from .splits import DEFAULT_SALT, assign_splits, read_splits, write_splits
from .store import Store
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


def discover(sequences_root: Path | Store, engine: Engine | None = None) -> list[tuple[str, dict]]:
    """``(sequence id, record)`` of every sequence under ``<sequences_root>/sequences``, sorted by id.

    On a local folder the records are read here; on a remote store each is read by a task (a record
    may need the sequence's ``motion.npz``, which the driver never loads)."""
    work = Store.at(sequences_root)
    names = [name for name in work.listdir("sequences") if not name.startswith(".")]
    base = work.path("sequences")
    if not names:
        raise MissingInputError(base, "holds no sequence folders; expected BioSim outputs in <root>/sequences/<id>/")
    if work.local_root is not None:
        names = [name for name in names if (work.local_root / "sequences" / name).is_dir()]
        return [(name, describe_sequence(work, name)) for name in names]
    engine = engine or InlineEngine()
    described = dict(engine.map(describe_sequence, [(work, name) for name in names], "describe"))
    failed = [f"{names[i]}: {outcome.reason}" for i, outcome in described.items() if isinstance(outcome, TaskFailure)]
    if failed:
        raise RuntimeError(f"{base}: could not read {len(failed)} sequence records: {failed[:3]}")
    return [(names[i], described[i]) for i in range(len(names))]


def describe_sequence(work: Store, sequence_id: str) -> dict:
    """The dataset's view of one sequence's record (:func:`read_record`), plus ``has_pose_inputs``: whether
    its poses, video and boxes exist (what a dropped sequence needs to be stored with ``keep_dropped``), and
    ``view_of``: the sequence it is another rendered view of (None for a simulated sequence)."""
    prefix = f"sequences/{sequence_id}"
    present = set(work.listdir(prefix))
    with work.staged(prefix, sorted(present & {layout.RECORD, layout.MOTION})) as folder:
        record = read_record(folder)
        view_of = (json.loads((folder / layout.RECORD).read_text()).get("sources") or {}).get("view_of")
    return record | {"has_pose_inputs": all(name in present for name in window_inputs(False)), "view_of": view_of}


def _fingerprint(work: Store, sequence_id: str) -> dict:
    """sha256 (on a remote store: size and ETag) of a sequence's input files: a changed file invalidates
    its cached windows."""
    fingerprint = {}
    for name in (*window_inputs(), layout.RECORD):
        key = f"sequences/{sequence_id}/{name}"
        if work.local_root is not None:
            path = work.local_root / key
            if path.exists():
                fingerprint[name] = sha256_of(path)
        elif work.exists(key):
            info = work.info(key)
            fingerprint[name] = [info["size"], str(info.get("ETag") or info.get("mtime") or info.get("LastModified"))]
    return fingerprint


def _cached_tar_intact(out: Store, key: str, summary: dict) -> bool:
    """Whether a cached window tar is still the one its summary was written for (sha256 locally; remotely
    it must at least exist: the summary is written after the tar's upload)."""
    if out.local_root is not None:
        path = out.local_root / key
        return path.is_file() and sha256_of(path) == summary.get("tar_sha256")
    return out.exists(key)


def _cache_key(config: BuildConfig) -> str:
    digest = hashlib.sha256(json.dumps([config.window.to_dict(), config.keep_dropped], sort_keys=True).encode())
    return f"{CACHE_DIR}/{digest.hexdigest()[:16]}"


def encode_sequence(work: Store, out: Store, record: dict, split: str, window: WindowConfig, cache: str,
                    scratch: Path | None = None) -> dict:
    """Encode one sequence's windows into ``<out>/<cache>/<id>.tar`` (once) and return its summary, which
    lists each window's bytes in a tar shard (``window_bytes``: the shard plan needs them)."""
    sequence_id = record["sequence_id"]
    summary_key = f"{cache}/{sequence_id}.json"
    fingerprint = json.loads(json.dumps(_fingerprint(work, sequence_id)))
    if out.exists(summary_key):
        summary = json.loads(out.read_text(summary_key))
        if (summary["split"] == split and summary["fingerprint"] == fingerprint and "window_bytes" in summary
                and _cached_tar_intact(out, f"{cache}/{sequence_id}.tar", summary)):
            return summary
    names = (*window_inputs(), layout.RECORD, layout.VALIDITY)
    with work.staged(f"sequences/{sequence_id}", names, scratch) as folder, \
            out.staged(cache, (), scratch) as encoded:
        labels = load_labels(folder, with_activations=bool(record["kept"]))
        sizes = []

        def samples():
            for item in sequence_windows(folder, record, split, labels, window):
                members = window_members(item, window)
                sizes.append(sample_bytes(members))
                yield item.key, members

        write_tar(encoded / f"{sequence_id}.tar", samples())
        tar_sha256 = sha256_of(encoded / f"{sequence_id}.tar")
        out.commit(encoded, cache, [f"{sequence_id}.tar"])
    summary = {"sequence_id": sequence_id, "source": record["source"], "subject": str(record["subject"]),
               "split": split, "windows": len(sizes), "window_bytes": sizes, "frames": labels.num_frames,
               "muscle_frames": int(labels.muscle_valid.sum()), "fingerprint": fingerprint,
               "tar_sha256": tar_sha256}
    out.write_text(summary_key, json.dumps(summary, sort_keys=True))   # last: marks the cache entry done
    return summary


def _run(engine: Engine, function, arguments: list[tuple], label: str) -> list:
    """Results of ``function`` over ``arguments`` in argument order; a task that failed stops the build."""
    results: list = [None] * len(arguments)
    for index, outcome in tqdm(engine.map(function, arguments, label), total=len(arguments), desc=label,
                               unit="task"):
        if isinstance(outcome, TaskFailure):
            raise RuntimeError(f"{label} task {index} failed: {outcome.reason}")
        results[index] = outcome
    return results


def _write_shard(out: Store, cache: str, shard: ShardPlan, features, scratch: Path | None = None) -> dict:
    """Write one planned shard from the cached windows; its manifest row."""
    sequences = sorted({sequence_id for sequence_id, _, _ in shard.windows})
    with out.staged(cache, [f"{s}.tar" for s in sequences], scratch) as cached, \
            out.staged(shard.folder, (), scratch) as folder:
        samples = []
        for sequence_id, first, count in shard.windows:
            taken = list(itertools.islice(iter_tar(cached / f"{sequence_id}.tar"), first, first + count))
            if len(taken) != count:
                raise ShardChecksumError(cached / f"{sequence_id}.tar",
                                         f"holds fewer windows than the {first + count} "
                                         "encoded into it (changed during the build?); run the build again")
            samples += taken
        path = folder / shard.name
        if shard.format == "webdataset":
            write_tar(path, samples)
        else:
            write_parquet(path, [(key, parquet_members(members)) for key, members in samples], features)
        out.commit(folder, shard.folder, [shard.name])
        return file_entry(folder.parent, path, split=shard.split, format=shard.format, windows=len(samples))


def _remove_stale(out: Store, keep: set[str]) -> None:
    """Delete shards of earlier builds that this build did not write."""
    for key in out.glob(f"{PARQUET_DIR}/*.parquet") + out.glob(f"{WEBDATASET_DIR}/*.tar"):
        if key not in keep:
            out.remove(key)


def _remove_temporary(out: Store) -> None:
    """Delete the temporary files an interrupted build left (atomic writes name them ``.<stem>.*.tmp*``,
    uploads ``<name>.tmp-<id>``)."""
    if out.local_root is not None and out.local_root.is_dir():
        for path in out.local_root.rglob(".*.tmp*"):
            if path.is_file():
                path.unlink()
    out.remove_temporary()


def _counts(summaries: list[dict], records: list[dict]) -> dict:
    """Windows, frames, sequences (``views``: how many of them are extra rendered views) and subjects per split
    and source; kept/dropped per source and reason and the validity figures, of simulated sequences only (not
    their extra rendered views)."""
    table: dict = defaultdict(lambda: defaultdict(lambda: Counter()))
    subjects: dict = defaultdict(set)
    views = {record["sequence_id"] for record in records if record.get("view_of")}
    for s in summaries:
        for key in (s["split"], "all"):
            row = table[key][s["source"]]
            row.update(windows=s["windows"], frames=s["frames"], muscle_frames=s["muscle_frames"], sequences=1,
                       views=int(s["sequence_id"] in views))
            subjects[key, s["source"]].add(s["subject"])
    per_split = {split: {source: dict(sorted(row.items())) | {"subjects": len(subjects[split, source])}
                         for source, row in sorted(sources.items())} for split, sources in sorted(table.items())}
    simulated = [record for record in records if not record.get("view_of")]   # a view repeats its sequence's labels
    filtering: dict = defaultdict(Counter)
    for record in simulated:
        if record["kept"]:
            filtering[record["source"]]["kept"] += 1
        else:
            filtering[record["source"]]["dropped"] += 1
            filtering[record["source"]].update(f"dropped: {c}" for c in drop_categories(record["drop_reason"]))
    return {"splits": per_split, "filtering": {src: dict(sorted(c.items())) for src, c in sorted(filtering.items())},
            "validity": validity_counts(simulated)}


def build_dataset(sequences_root: Path | Store | str, out: Path | Store | str = DEFAULT_DATASET_DIR,
                  config: BuildConfig | None = None, engine: Engine | None = None, scratch: Path | None = None
                  ) -> dict:
    """Build (or resume building) the dataset folder ``out``; returns its manifest.

    ``sequences_root`` and ``out`` are local folders or :class:`Store` URLs. Windows are encoded per
    sequence and shards written per split and shard, as tasks of ``engine`` (default: ``config.workers``
    local processes); which windows go into which shard is planned from the cached windows' sizes in
    sequence order, so the bytes never depend on how many workers ran.
    """
    config = config or BuildConfig()
    work, out = Store.at(sequences_root), Store.at(out)
    engine = engine or (LocalEngine(config.workers) if config.workers > 1 else InlineEngine())
    found = discover(work, engine)
    _remove_temporary(out)
    records = [record for _, record in found]
    if config.splits_file:
        assignment = read_splits(config.splits_file)
        unknown = [r["sequence_id"] for r in records if r["sequence_id"] not in assignment]
        if unknown:
            raise InputError(config.splits_file, f"no split for {len(unknown)} sequences, e.g. {unknown[:3]}")
    else:   # a sequence's extra views go where the sequence goes: its frames never straddle the split
        ids = {r["sequence_id"] for r in records}
        views = {r["sequence_id"]: r["view_of"] for r in records if r["view_of"] in ids}
        assignment = assign_splits((r["sequence_id"], r["source"], r["subject"]) for r in records
                                   if r["sequence_id"] not in views)
        assignment |= {view: assignment[base] for view, base in views.items()}

    jobs = [(record, assignment[record["sequence_id"]]) for _, record in found
            if record["kept"] or (config.keep_dropped and record["has_pose_inputs"])]
    keys = Counter(record["sequence_id"].replace(".", "_") for record, _ in jobs)
    if duplicated := [k for k, n in keys.items() if n > 1]:
        raise InputError(sequences_root, f"sequence ids collide once dots are replaced for WebDataset keys: "
                         f"{duplicated[:3]}")
    logger.info("%d sequences, %d to window (%d dropped by BioSim filtering)", len(records), len(jobs),
                sum(not r["kept"] for r in records))
    cache = _cache_key(config)
    internal = ("has_pose_inputs", "view_of")
    tasks = [(work, out, {k: v for k, v in record.items() if k not in internal}, split, config.window, cache, scratch)
             for record, split in jobs]
    summaries = _run(engine, encode_sequence, tasks, "windows")
    features = label_features(config.window.size, config.window.crops)
    plans = plan_shards(summaries, config.shard_bytes, config.parquet_rows)
    entries = _run(engine, _write_shard, [(out, cache, plan, features, scratch) for plan in plans], "shards")
    _remove_stale(out, {entry["path"] for entry in entries})
    with out.staged("", [], scratch) as folder:
        write_splits(folder / SPLITS_FILE, {r["sequence_id"]: assignment[r["sequence_id"]] for r in records},
                     config.split_salt)
        entries.append(file_entry(folder, folder / SPLITS_FILE, format="splits"))
        manifest = write_manifest(folder, entries, _counts(summaries, records), config.settings())
        example = min((e["path"] for e in entries if e.get("format") == "webdataset"),
                      key=lambda p: ("test" not in p, p), default=None)
        if example and out.local_root is None:
            out.download(example, folder / example)
        figures = write_figures(folder, FIGURES_DIR, manifest)
        settings = Counter(json.dumps(record["settings"], sort_keys=True) for record in records)
        card = CardInputs(name=config.name, license=config.license, manifest=manifest, figures=figures,
                          biosim_settings=[(json.loads(text), n) for text, n in sorted(settings.items())],
                          webdataset_dir=WEBDATASET_DIR, parquet_dir=PARQUET_DIR)
        write_text_atomic(folder / CARD, dataset_card(card))
        write_text_atomic(folder / WEBDATASET_DIR / CARD, webdataset_card(card))
        out.commit(folder, "", [SPLITS_FILE, *(path for path, _ in figures), f"{WEBDATASET_DIR}/{CARD}", CARD],
                   marker=MANIFEST)
    logger.info("built %s: %d files, %s", out.url, len(entries),
                {split: sum(row["windows"] for row in rows.values())
                 for split, rows in manifest["counts"]["splits"].items()})
    return manifest


def clean_cache(out: Path | Store | str) -> None:
    """Remove the resumable window cache of a finished build."""
    store = Store.at(out)
    if store.exists(CACHE_DIR):
        store.fs.rm(store.path(CACHE_DIR), recursive=True)
