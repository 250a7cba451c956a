"""BioSim part 1: SMPL motion -> body surface -> 87 virtual markers -> scaled ULBS-112 -> IK.

Per sequence, into ``layout.sequence_dir(out_dir, sequence_id)``: ``motion.npz``, ``markers.trc``
(the markers over the motion), ``static.trc`` (the body standing in ``NEUTRAL_POSE``),
``scaled.osim`` (ULBS-112 scaled to the body's height and mass from the static trial, held in
``ANATOMICAL_STATIC_POSE``, its joint centres moved onto the body's and its markers placed), ``ik.mot``
and ``ik_report.json`` (per-frame RMS and max marker error, written last: its presence marks the stage
done). A failure writes ``record.json`` with status ``failed`` and the reason; the dynamics stage writes
the final record.

Resume: ``ik_report.json`` keeps the settings the sequence ran with, its input file and that file's
sha256 (:func:`resume_key`). A sequence is skipped only while all three match; changed settings or
a changed input file redo it, and another input file that gives the same id is a conflict that is
refused (``--force`` replaces it) so that no input's results silently replace another's. Ids that
collide within one run get suffixes (:mod:`builder.sources.ids`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from biohuman10m.errors import InputError, MissingInputError
from builder import layout
from builder.biosim.ik import run_ik
from builder.biosim.joint_centres import align_joint_centres
from builder.biosim.record import SequenceRecord, describe_error, read_record, stage_error
from builder.biosim.scale import ANATOMICAL_STATIC_POSE, scale_model
from builder.body import BodySurface, make_body, marker_trajectories, marker_vertex_ids, measure_subject
from builder.body.skeleton import SMPL_TO_OPENSIM
from builder.io import atomic_path, sha256_of, write_text_atomic
from builder.markers import MARKER_NAMES
from builder.sources import MotionSequence, MotionSourceError, read_motion, save_motion
from builder.sources.ids import path_suffix, unique_ids
from builder.sources.plausibility import body_height_problem, root_speed_problem
from builder.sources.read import MOTION_SUFFIXES, find_motion_files
from builder.sources.validate import make_id
from builder.trc import MarkerTrajectories, write_trc

log = logging.getLogger(__name__)

STATIC_FRAMES = 5
STATIC_RATE = 100.0


@dataclass(frozen=True)
class KinematicsSettings:
    """How part 1 runs: body surface, generic model, IK marker weights, joint-centre alignment."""

    smpl_model: Path | None = None      # user's SMPL model file/folder; None: the Anny body
    model_path: Path | None = None      # generic ULBS-112 .osim; None: builder.musculoskeletal's default
    marker_weights: dict[str, float] = field(default_factory=dict)  # default 1 per marker
    align_joint_centres: bool = True
    max_joint_shift_m: float | None = 0.02  # joint centres move at most this far onto the body's (None: all the way)
    fps: float | None = None            # resample sequences to this rate when reading files
    on_nan: str = "split"               # "split": cut at NaN frames; "error": reject the file
    allow_pickle: bool = False          # read the formats that are pickles (3DPW, EMDB, H3.6M, MotionPRO)

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}


RESUME_IGNORED = ("allow_pickle",)
"""Settings that do not change the results (a finished sequence is not redone when they change)."""


def resume_key(sequence: MotionSequence, settings: KinematicsSettings, input_sha256: str | None) -> dict:
    """What a finished sequence must match to be skipped: the settings, the input file and its sha256."""
    values = {k: v for k, v in settings.to_dict().items() if k not in RESUME_IGNORED}
    return json.loads(json.dumps({"settings": values, "source": str(sequence.source_path or ""),
                                  "input_sha256": input_sha256}))


def resume_action(folder: Path, key: dict) -> tuple[str, str]:
    """``("run" | "skip" | "conflict", why)`` for a sequence folder and the :func:`resume_key` of its input.

    Reports written before keys were stored are judged by the settings and source path they record.
    """
    try:
        report = json.loads((folder / layout.IK_REPORT).read_text())
    except FileNotFoundError:
        return "run", "not done"
    except ValueError:
        return "run", "unreadable IK report"
    stored = report.get("resume") or {"settings": report.get("settings") or {}, "source": report.get("source_path"),
                                      "input_sha256": None}
    old = {k: v for k, v in stored["settings"].items() if k not in RESUME_IGNORED}
    changed = sorted(k for k in {*old, *key["settings"]} if old.get(k) != key["settings"].get(k))
    same_input = stored["input_sha256"] == key["input_sha256"] if stored["input_sha256"] else None
    if stored["source"] != key["source"] and not same_input:
        return "conflict", (f"holds the results of {stored['source']}, and {key['source']} gives the same sequence "
                            "id; use another --out, or --force to replace them")
    if changed:
        return "run", "settings changed (" + ", ".join(f"{k}: {old.get(k)!r} -> {key['settings'].get(k)!r}"
                                                     for k in changed) + ")"
    if same_input is False:
        return "run", f"{key['source']} changed since it was run"
    return "skip", "done with these settings"


def check_sequence(sequence: MotionSequence) -> None:
    """:class:`InputError` naming the sequence's file unless it has >= 2 frames, finite poses/translations and
    a root speed a human can reach (:mod:`builder.sources.plausibility`)."""
    where = sequence.source_path or sequence.sequence_id
    if sequence.num_frames < 2:
        raise InputError(where, f"{sequence.num_frames} frame(s); inverse kinematics needs at least 2")
    bad = ~(np.isfinite(sequence.poses).all(1) & np.isfinite(sequence.trans).all(1))
    if bad.any():
        raise InputError(where, f"NaN/inf pose or translation at {bad.sum()} frame(s), first {np.flatnonzero(bad)[0]}")
    if problem := root_speed_problem(sequence.trans, sequence.fps):
        raise InputError(where, problem)


def to_opensim(points: np.ndarray) -> np.ndarray:
    """SMPL world coordinates (Z forward) -> OpenSim ground (X forward), both Y up, metres."""
    return np.asarray(points, dtype=np.float64) @ SMPL_TO_OPENSIM.T


def is_done(folder: Path) -> bool:
    """Whether part 1 finished for a sequence folder (its IK report, written last, exists)."""
    return (folder / layout.IK_REPORT).is_file()


def run_kinematics(sequence: MotionSequence, out_dir: str | os.PathLike, settings: KinematicsSettings,
                   body: BodySurface | None = None, resume: dict | None = None, scaled_cache: Path | None = None,
                   vertices: np.ndarray | None = None) -> dict:
    """Part 1 for one sequence; returns the IK report (also written to ``ik_report.json``, with
    ``resume``: the :func:`resume_key` it was run for).

    ``scaled_cache``: a folder of scaled models keyed by everything scaling reads (static trial, joint
    centres, height, mass, settings, generic model), so a subject's later sequences reuse its model;
    ``vertices``: the body already posed over the sequence (T, V, 3), when the caller has it.
    """
    from builder.musculoskeletal import default_model_path

    check_sequence(sequence)
    folder = layout.sequence_dir(Path(out_dir), sequence.sequence_id)
    folder.mkdir(parents=True, exist_ok=True)
    for earlier in (layout.IK_REPORT, layout.RECORD):   # a half-redone folder must not count as done
        (folder / earlier).unlink(missing_ok=True)
    timings = {}
    started = time.perf_counter()
    body = body or make_body(sequence, settings.smpl_model)
    save_motion(sequence, folder / layout.MOTION)
    markers = to_opensim(marker_trajectories(sequence, body) if vertices is None
                         else vertices[:, marker_vertex_ids(body)].astype(np.float64))
    write_trc(folder / layout.MARKERS_TRC, MarkerTrajectories(sequence.times, list(MARKER_NAMES), markers),
              rate=sequence.fps)
    subject = measure_subject(body)
    if problem := body_height_problem(subject.height):
        raise InputError(sequence.source_path or sequence.sequence_id, problem)
    static_markers, static_joints = to_opensim(subject.static_markers), to_opensim(subject.static_joints)
    lift = np.array([0.0, -static_markers[:, 1].min(), 0.0])  # stand on the floor (y = 0)
    static = MarkerTrajectories(np.arange(STATIC_FRAMES) / STATIC_RATE, list(MARKER_NAMES),
                                np.repeat((static_markers + lift)[None], STATIC_FRAMES, axis=0))
    write_trc(folder / layout.STATIC_TRC, static, rate=STATIC_RATE)
    timings["markers"] = time.perf_counter() - started

    started = time.perf_counter()
    weights = settings.marker_weights or None
    model_path = settings.model_path or default_model_path()
    key = _scaling_key(folder / layout.STATIC_TRC, static_joints + lift, subject, settings, model_path)
    cached = scaled_cache / key if scaled_cache else None
    if cached is not None and (cached / SCALING_SUMMARY).is_file():
        shifts, offsets = json.loads((cached / SCALING_SUMMARY).read_text())
        with atomic_path(folder / layout.SCALED_MODEL) as tmp:
            shutil.copyfile(cached / layout.SCALED_MODEL, tmp)
    else:
        shifts, offsets = _scale(folder, model_path, subject, static_joints + lift, settings, weights)
        if cached is not None:   # the model first, the summary (which marks the entry complete) last
            with atomic_path(cached / layout.SCALED_MODEL) as tmp:
                shutil.copyfile(folder / layout.SCALED_MODEL, tmp)
            write_text_atomic(cached / SCALING_SUMMARY, json.dumps([shifts, offsets]))
    timings["scale"] = time.perf_counter() - started

    with tempfile.TemporaryDirectory(dir=folder, prefix=".ik.") as work:
        report = run_ik(folder / layout.SCALED_MODEL, folder / layout.MARKERS_TRC, Path(work) / layout.IK_MOT,
                        marker_weights=weights)
        os.replace(Path(work) / layout.IK_MOT, folder / layout.IK_MOT)
    timings["ik"] = report["seconds"]
    report.update(
        model=layout.SCALED_MODEL, trc=layout.MARKERS_TRC, mot=layout.IK_MOT,
        sequence_id=sequence.sequence_id, source=sequence.source, subject=sequence.subject,
        source_path=str(sequence.source_path or ""), body=getattr(body, "topology", type(body).__name__),
        height_m=subject.height, mass_kg=subject.mass, joint_centre_shifts_m=shifts, joint_centre_offsets_m=offsets,
        settings=settings.to_dict(), timings_s=timings,
        resume=resume or resume_key(sequence, settings, None),
    )
    write_text_atomic(folder / layout.IK_REPORT, json.dumps(report, indent=1) + "\n")
    return report


SCALING_SUMMARY = "scaling.json"
"""In a scaled-model cache entry: the joint-centre shifts and offsets, written last."""


def _scaling_key(static_trc: Path, static_joints: np.ndarray, subject, settings: KinematicsSettings,
                 model_path: Path) -> str:
    """Digest of everything the scaled model depends on (a changed generic model gives a new key)."""
    digest = hashlib.sha256(Path(static_trc).read_bytes())
    digest.update(np.ascontiguousarray(static_joints, np.float64).tobytes())
    stat = Path(model_path).stat()
    shaping = {k: v for k, v in settings.to_dict().items() if k not in ("fps", "on_nan", "smpl_model")}
    digest.update(json.dumps([subject.height, subject.mass, shaping, str(Path(model_path).resolve()),
                              stat.st_size, stat.st_mtime_ns], sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _scale(folder: Path, model_path: Path, subject, static_joints: np.ndarray, settings: KinematicsSettings,
           weights: dict[str, float] | None) -> tuple[dict, dict]:
    """Scale the generic model to the static trial, then move its joint centres; its shifts and offsets."""
    with tempfile.TemporaryDirectory(dir=folder, prefix=".scale.") as work:
        scaled = scale_model(model_path, folder / layout.STATIC_TRC, subject.height, subject.mass,
                             Path(work) / layout.SCALED_MODEL, marker_weights=weights,
                             static_pose=ANATOMICAL_STATIC_POSE)
        if settings.align_joint_centres:
            return align_joint_centres(scaled, folder / layout.STATIC_TRC, static_joints,
                                       folder / layout.SCALED_MODEL, marker_weights=weights,
                                       max_shift_m=settings.max_joint_shift_m)
        os.replace(scaled, folder / layout.SCALED_MODEL)
        return {}, {}


def record_failure(out_dir: Path, sequence_id: str, error: Exception, settings: KinematicsSettings,
                   source_path: Path | None) -> None:
    """Write a ``failed`` record.json naming the reason."""
    folder = layout.sequence_dir(out_dir, sequence_id)
    SequenceRecord(sequence_id=sequence_id, status="failed", error=stage_error("kinematics", error),
                   sources={"motion": str(source_path or "")}, settings={"kinematics": settings.to_dict()},
                   ).write(folder / layout.RECORD)


def input_files(inputs: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """The motion files of ``inputs`` (files, or folders searched recursively); a folder holding none is an error."""
    for item in map(Path, inputs):
        if not item.is_dir():
            yield item
            continue
        files = find_motion_files(item)
        if not files:
            raise MissingInputError(item, f"holds no motion files ({', '.join(MOTION_SUFFIXES)} of a supported "
                                    "format; `biohuman sources list` names the formats)")
        yield from files


def iter_inputs(inputs: Iterable[str | os.PathLike], settings: KinematicsSettings
                ) -> Iterator[tuple[Path, list[MotionSequence] | Exception]]:
    """``(file, sequences or the error reading it)`` for every motion file in ``inputs`` (files or folders)."""
    for path in input_files(inputs):
        try:
            yield path, read_motion(path, fps=settings.fps, on_nan=settings.on_nan, allow_pickle=settings.allow_pickle)
        except (MotionSourceError, ValueError, OSError) as error:
            yield path, error


def _failure_id(path: Path, taken: dict[str, str]) -> str:
    """The id under which an unreadable file's failure is recorded (its sanitised name, made unique)."""
    name = make_id(path.stem) or "unnamed"
    return name if name not in taken else name + path_suffix(path)


def run_folder(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike, settings: KinematicsSettings,
               force: bool = False, workers: int = 1) -> dict[str, str]:
    """Part 1 over motion files and folders; returns ``{sequence_id: "done"|"skipped"|"failed"|"conflict"}``.

    Resumable (see the module docstring): sequences done with the same settings and input are
    skipped (unless ``force``), the others redone; ``conflict``: the id's folder holds another input's
    results, left as they are. A bad file or a failing sequence gets a ``failed`` record.json with
    the reason, and the run goes on. With ``workers > 1`` sequences run in that many processes (each
    builds its body surfaces once). Raises :class:`MissingInputError` when there is no input at all.
    """
    out_dir, inputs = Path(out_dir), list(inputs)
    status: dict[str, str] = {}
    sequences: list[MotionSequence] = []
    digests: dict[Path, str] = {}
    for path, result in iter_inputs(inputs, settings):
        if not isinstance(result, list):
            sequence_id = _failure_id(path, status)
            log.warning("%s", result)
            record_failure(out_dir, sequence_id, result, settings, path)
            status[sequence_id] = "failed"
            continue
        digests[path] = sha256_of(path) if path.is_file() else None
        sequences.extend(result)
    if not status and not sequences:
        raise MissingInputError(", ".join(map(str, inputs)) or None, "no motion input given")
    pending: list[tuple[MotionSequence, dict]] = []
    for sequence in unique_ids(sequences):
        key = resume_key(sequence, settings, digests.get(Path(sequence.source_path or "")))
        folder = layout.sequence_dir(out_dir, sequence.sequence_id)
        action, why = ("run", "forced") if force else resume_action(folder, key)
        if action == "skip":
            status[sequence.sequence_id] = "skipped"
        elif action == "conflict":
            log.error("%s: %s", folder, why)
            status[sequence.sequence_id] = "conflict"
        else:
            if why not in ("not done", "forced"):
                log.warning("%s: %s; redoing it", folder, why)
            pending.append((sequence, key))
    log.info("%d sequences to run, %d already done, %d unreadable files, %d conflicts", len(pending),
             sum(s == "skipped" for s in status.values()), sum(s == "failed" for s in status.values()),
             sum(s == "conflict" for s in status.values()))
    with tqdm(total=len(pending), desc="biosim kinematics", unit="seq") as progress:
        if workers <= 1:
            for sequence, key in pending:
                progress.set_postfix_str(sequence.sequence_id)
                status[sequence.sequence_id] = _run_one(sequence, out_dir, settings, key)
                progress.update()
        else:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = {pool.submit(_run_one, sequence, out_dir, settings, key): sequence
                           for sequence, key in pending}
                for future in as_completed(futures):
                    sequence = futures[future]
                    try:
                        status[sequence.sequence_id] = future.result()
                    except BrokenProcessPool as error:  # a worker died (e.g. killed): record, go on
                        record_failure(out_dir, sequence.sequence_id, RuntimeError(f"worker crashed ({error})"),
                                       settings, sequence.source_path)
                        status[sequence.sequence_id] = "failed"
                    progress.update()
    return status


_BODIES: dict[str, BodySurface] = {}
"""Body surfaces built in this process, by gender (and shape for SMPL): reused across sequences."""


def _run_one(sequence: MotionSequence, out_dir: Path, settings: KinematicsSettings, resume: dict | None = None) -> str:
    """Run one sequence, recording a failure instead of raising; returns "done" or "failed"."""
    try:
        check_sequence(sequence)   # before the body is built: an absurd motion fails fast
        phenotype = sorted((sequence.body_phenotype or {}).items())
        shape = sequence.betas.tobytes().hex() if settings.smpl_model else phenotype
        key = f"{settings.smpl_model}:{sequence.gender}:{shape}"
        if key not in _BODIES:
            _BODIES[key] = make_body(sequence, settings.smpl_model)
        report = run_kinematics(sequence, out_dir, settings, body=_BODIES[key], resume=resume)
        log.info("%s: IK marker error RMS %.1f mm (mean), max %.1f mm", sequence.sequence_id,
                 1000 * report["rms_mean_m"], 1000 * report["max_max_m"])
        return "done"
    except Exception as error:  # noqa: BLE001 - one bad sequence must not stop the run: record why
        log.warning("%s failed: %s", sequence.sequence_id, error)
        record_failure(out_dir, sequence.sequence_id, error, settings, sequence.source_path)
        return "failed"


def failed_reason(out_dir: str | os.PathLike, sequence_id: str) -> str | None:
    """The recorded reason a sequence failed, or None."""
    record = read_record(layout.sequence_dir(Path(out_dir), sequence_id) / layout.RECORD)
    return describe_error(record.error) if record and record.status == "failed" else None
