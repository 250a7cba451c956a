"""Run the dynamics stages over a folder of sequences: local processes by default, Ray on a cluster.

Failure isolation (:mod:`builder.engine`): locally every sequence runs in its own child process (forked
from a forkserver that has OpenSim imported), so a crash, even a segfault inside OpenSim, only ends that
child; the parent then writes the sequence's ``failed`` record. On Ray, tasks run with ``max_retries=0``
and a crashed worker surfaces as a ``RayError`` for that sequence only. Resumable: a sequence whose
``record.json`` exists is done and skipped (``failed`` ones too, unless ``retry_failed``)
while it was made with the same settings (:func:`builder.biosim.dynamics.changed_settings`).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from builder import layout
from builder.biosim.dynamics import DynamicsSettings, changed_settings, process_sequence
from builder.biosim.record import SequenceRecord, read_record, stage_error
from builder.engine import TaskFailure, engine_for

log = logging.getLogger(__name__)


def find_sequences(out_dir: str | os.PathLike) -> list[Path]:
    """Sequence folders under ``<out_dir>/sequences`` that have IK results, sorted by name."""
    root = Path(out_dir) / "sequences"
    if not root.is_dir():
        raise ValueError(f"{out_dir}: no 'sequences' folder")
    return sorted(p for p in root.iterdir() if (p / layout.IK_MOT).is_file())


def select_pending(seq_dirs: list[Path], force: bool = False, retry_failed: bool = False,
                   settings: DynamicsSettings | None = None) -> list[Path]:
    """The sequences still to run: no readable record, one made with other ``settings``, or a failed one
    with ``retry_failed``."""
    pending = []
    for seq_dir in seq_dirs:
        record = None if force else read_record(seq_dir / layout.RECORD)
        changed = changed_settings(record, settings) if record is not None and settings is not None else []
        if changed:
            log.warning("%s: made with other settings (%s); redoing it", seq_dir.name, ", ".join(changed))
        if record is None or changed or (retry_failed and record.status == "failed"):
            pending.append(seq_dir)
    return pending


def run_dynamics(out_dir: str | os.PathLike, settings: DynamicsSettings | None = None,
                 workers: int | None = None, address: str | None = None, force: bool = False,
                 retry_failed: bool = False, timeout_s: float | None = None) -> Counter:
    """Process every pending sequence of ``out_dir``; returns the count of each final status."""
    settings = settings or DynamicsSettings()
    seq_dirs = find_sequences(out_dir)
    pending = select_pending(seq_dirs, force, retry_failed, settings)
    log.info("%d sequences, %d to run", len(seq_dirs), len(pending))
    for seq_dir in pending:  # a crash must not leave an old verdict behind
        (seq_dir / layout.RECORD).unlink(missing_ok=True)
    engine = engine_for(address, workers or max(1, (os.cpu_count() or 2) - 1), timeout_s, max_retries=0)
    outcomes = engine.map(process_sequence, [(str(d), settings) for d in pending], "dynamics")
    for index, outcome in tqdm(outcomes, total=len(pending), desc="biosim dynamics", unit="seq"):
        _record_crash(pending[index], outcome.reason if isinstance(outcome, TaskFailure)
                      else "worker ended without writing a record")
    counts = Counter()
    for seq_dir in seq_dirs:
        record = read_record(seq_dir / layout.RECORD)
        counts[record.status if record else "missing"] += 1
    return counts


def _record_crash(seq_dir: Path, why: str) -> None:
    if read_record(seq_dir / layout.RECORD) is None:
        log.warning("%s: %s", seq_dir.name, why)
        record = SequenceRecord(sequence_id=seq_dir.name, status="failed", error=stage_error("dynamics", why))
        record.write(seq_dir / layout.RECORD)
