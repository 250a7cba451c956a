"""Run the dynamics stages over a folder of sequences: local processes by default, Ray on a cluster.

Failure isolation: locally every sequence runs in its own child process (forked from a forkserver
that has OpenSim imported), so a crash, even a segfault inside OpenSim, only ends that child; the
parent then writes the sequence's ``failed`` record. On Ray, tasks run with ``max_retries=0`` and a
crashed worker surfaces as a ``RayError`` for that sequence only. Resumable: a sequence whose
``record.json`` exists is done and skipped (``failed`` ones too, unless ``retry_failed``) while it was made
with the same settings (:func:`builder.biosim.dynamics.changed_settings`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from builder import layout
from builder.biosim.dynamics import DynamicsSettings, changed_settings, process_sequence
from builder.biosim.record import SequenceRecord, read_record

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
    if address:
        run_on_ray(pending, settings, address)
    else:
        run_local(pending, settings, workers or max(1, (os.cpu_count() or 2) - 1), timeout_s)
    counts = Counter()
    for seq_dir in seq_dirs:
        record = read_record(seq_dir / layout.RECORD)
        counts[record.status if record else "missing"] += 1
    return counts


def _child(seq_dir: str, settings: DynamicsSettings) -> None:
    process_sequence(seq_dir, settings)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker timed out and was killed"
    if code < 0:
        try:
            return f"worker killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with code {code}"


def _record_crash(seq_dir: Path, why: str) -> None:
    if read_record(seq_dir / layout.RECORD) is None:
        log.warning("%s: %s", seq_dir.name, why)
        SequenceRecord(sequence_id=seq_dir.name, status="failed", error=why).write(seq_dir / layout.RECORD)


def run_local(seq_dirs: list[Path], settings: DynamicsSettings, workers: int, timeout_s: float | None = None) -> None:
    """Each sequence in its own child process, ``workers`` at a time."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["builder.biosim.dynamics", "builder.biosim.fast_so"])

    def one(seq_dir: Path) -> None:
        proc = ctx.Process(target=_child, args=(str(seq_dir), settings), name=f"biosim-{seq_dir.name}")
        proc.start()
        proc.join(timeout_s)
        if proc.is_alive():
            proc.kill()
            proc.join()
            _record_crash(seq_dir, _describe_exit(None))
        elif proc.exitcode != 0:
            _record_crash(seq_dir, _describe_exit(proc.exitcode))
        else:
            _record_crash(seq_dir, "worker ended without writing a record")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(one, d) for d in seq_dirs]
        for future in tqdm(as_completed(futures), total=len(futures), desc="biosim dynamics", unit="seq"):
            future.result()


def run_on_ray(seq_dirs: list[Path], settings: DynamicsSettings, address: str) -> None:
    """One Ray task per sequence on the cluster at ``address`` (folders must be on shared storage)."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("running on a cluster needs Ray: pip install 'biohuman[cluster]' "
                           "(or leave out --address to use local processes)") from None
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    task = ray.remote(num_cpus=1, max_retries=0)(process_sequence)
    refs = {task.remote(str(d), settings): d for d in seq_dirs}
    remaining = list(refs)
    with tqdm(total=len(refs), desc="biosim dynamics (ray)", unit="seq") as bar:
        while remaining:
            done, remaining = ray.wait(remaining, num_returns=1)
            try:
                ray.get(done[0])
            except ray.exceptions.RayError as exc:
                _record_crash(refs[done[0]], f"ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            bar.update(1)
