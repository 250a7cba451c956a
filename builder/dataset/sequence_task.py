"""The per-sequence stages of a build as typed objects, and the task that runs them on one motion file.

One task takes one motion file through every stage a sequence still needs, on the machine the task
runs on: kinematics (markers, scaling, IK), dynamics (GRF, ID, SO, audit) and rendering. Its files
follow :mod:`builder.layout`; on a remote :class:`~builder.dataset.store.Store` they are staged into a
local scratch folder and committed after each stage with the stage's marker last (``ik_report.json``,
``record.json``, ``video.mp4``), so a killed task leaves each stage either done or not started.
The body is built once per task and posed once for both the markers and the video; scaled models
are cached per subject on local disk (:func:`builder.biosim.kinematics.run_kinematics`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from builder import layout
from builder.biosim.dynamics import DynamicsSettings, changed_settings, process_sequence
from builder.biosim.kinematics import KinematicsSettings, check_sequence, record_failure, run_kinematics
from builder.biosim.record import SequenceRecord, stage_error
from builder.io import atomic_path
from builder.render.sequence import RenderConfig

from .store import Store

log = logging.getLogger(__name__)

KINEMATICS_FILES = (layout.MOTION, layout.MARKERS_TRC, layout.STATIC_TRC, layout.SCALED_MODEL, layout.IK_MOT)
DYNAMICS_FILES = (layout.GRF_MOT, layout.GRF_XML, layout.ID_STO, layout.SO_ACTIVATIONS, layout.VALIDITY,
                  layout.ACTIVATIONS)
RENDER_FILES = (layout.BOXES, layout.BOX_VISIBLE, layout.CAMERA)
STAGED_FILES = (*KINEMATICS_FILES, layout.IK_REPORT, *DYNAMICS_FILES, layout.RECORD)
"""What a task may read of a sequence's earlier stages (the video is only ever written)."""


@dataclass(frozen=True)
class KinematicsStage:
    """Markers on the body surface, ULBS-112 scaled to the subject, OpenSim IK.

    ``body``: the body surface to use instead of ``settings.smpl_model``/Anny, either one
    :class:`~builder.body.BodySurface` for every sequence or a function ``sequence -> BodySurface``
    (e.g. ``lambda s: SmplBody(path, gender=s.gender, betas=s.betas)``).
    """

    settings: KinematicsSettings = field(default_factory=KinematicsSettings)
    body: object | Callable | None = None

    def body_for(self, sequence):
        """The body surface of ``sequence`` (bodies built here are reused across this process's tasks)."""
        if self.body is not None:
            return self.body(sequence) if callable(self.body) else self.body
        from builder.body import make_body

        shape = (sequence.betas.tobytes().hex() if self.settings.smpl_model
                 else sorted((sequence.body_phenotype or {}).items()))
        key = f"{self.settings.smpl_model}:{sequence.gender}:{shape}"
        if key not in _BODIES:
            while len(_BODIES) >= MAX_BODIES:   # the least recently used subject goes
                _BODIES.pop(next(iter(_BODIES)))
            _BODIES[key] = make_body(sequence, self.settings.smpl_model)
        _BODIES[key] = _BODIES.pop(key)   # now the most recently used
        return _BODIES[key]

    def run(self, sequence, folder_root: Path, body, vertices: np.ndarray, scaled_cache: Path | None) -> dict:
        return run_kinematics(sequence, folder_root, self.settings, body=body, scaled_cache=scaled_cache,
                              vertices=vertices)


_BODIES: dict[str, object] = {}
MAX_BODIES = 8
"""Bodies kept per process (by subject): a worker meets the same subjects again and again."""


@dataclass(frozen=True)
class DynamicsStage:
    """GRF -> inverse dynamics -> static optimization -> validity audit (:mod:`builder.biosim.dynamics`).

    ``grf_estimator``: a :class:`~builder.biosim.grf.GRFEstimator` object used instead of the
    estimator ``settings.grf_estimator`` names (the record names its class).
    """

    settings: DynamicsSettings = field(default_factory=DynamicsSettings)
    grf_estimator: object | None = None

    @property
    def effective_settings(self) -> DynamicsSettings:
        """The settings a record of this stage stores (the estimator object's class name, when given)."""
        if self.grf_estimator is None:
            return self.settings
        estimator = self.grf_estimator
        return dataclasses.replace(
            self.settings, grf_estimator=f"{type(estimator).__module__}.{type(estimator).__qualname__} (object)")

    def run(self, folder: Path) -> SequenceRecord:
        settings = self.effective_settings
        if self.grf_estimator is not None:
            from builder.biosim.grf import register_estimator

            register_estimator(settings.grf_estimator, lambda **_: self.grf_estimator)
        return process_sequence(folder, settings)


@dataclass(frozen=True)
class RenderStage:
    """The video, person boxes and camera of a sequence: its body rendered on the CPU, or its source
    video aligned with the motion when it has one (unless ``synthetic``)."""

    config: RenderConfig = field(default_factory=RenderConfig)
    seed: int = 0
    synthetic: bool = False
    on_missing: str = "error"
    views: int = 1   # rendered views per simulated sequence: view k > 0 is the sequence ``<id>__view<k>``
    view_subjects: frozenset[str] | None = None   # subjects whose sequences get the extra views (None: all)

    def __post_init__(self) -> None:
        if self.views < 1:
            raise ValueError(f"views must be at least 1, got {self.views}")

    def run(self, folder: Path, sequence, vertices: np.ndarray, faces: np.ndarray, smpl_model: Path | None = None
            ) -> None:
        from builder.render.command import sequence_video
        from builder.render.sequence import render_sequence

        if sequence.video_path is not None and not self.synthetic:
            sequence_video(folder, self.config, self.seed, None, smpl_model, synthetic=False,
                           on_missing=self.on_missing)
            return
        render_sequence(vertices, faces, sequence.fps, folder, folder.name, self.seed, self.config,
                        _renderer(self.config.width, self.config.height))


_RENDERERS: dict[tuple[int, int], object] = {}


def _renderer(width: int, height: int):
    """One offscreen renderer per image size and process (a GL context is costly to create)."""
    from builder.render.renderer import BodyRenderer

    if (width, height) not in _RENDERERS:
        _RENDERERS[width, height] = BodyRenderer(width, height)
    return _RENDERERS[width, height]


@dataclass(frozen=True)
class SequenceStages:
    """Every per-sequence stage of a build and how a rerun treats finished work.

    ``keep_dropped``: render sequences BioSim dropped too (their poses can still be stored);
    ``force``: redo every stage; ``retry_failed``: rerun sequences whose record says failed;
    ``scratch``: local folder for staged files and the per-subject scaled-model cache
    (default: ``<tmp>/biohuman``); ``storage_options``: fsspec options of remote motion files.
    """

    kinematics: KinematicsStage = field(default_factory=KinematicsStage)
    dynamics: DynamicsStage = field(default_factory=DynamicsStage)
    render: RenderStage | None = field(default_factory=RenderStage)
    keep_dropped: bool = False
    force: bool = False
    retry_failed: bool = False
    scratch: Path | None = None
    storage_options: tuple[tuple[str, object], ...] = ()

    @property
    def scratch_dir(self) -> Path:
        return Path(self.scratch or Path(tempfile.gettempdir()) / "biohuman")


VIEW_MARK = "__view"


def view_ids(sequence_id: str, views: int) -> list[str]:
    """The sequence ids of a sequence's extra rendered views (``<id>__view1`` ...)."""
    return [f"{sequence_id}{VIEW_MARK}{k}" for k in range(1, views)]


def _existing_record(work: Store, prefix: str, present: set[str]) -> SequenceRecord | None:
    if layout.RECORD not in present:
        return None
    try:
        return SequenceRecord(**json.loads(work.read_text(f"{prefix}/{layout.RECORD}")))
    except (OSError, ValueError, TypeError):
        return None   # unreadable: not done


def _read(source: str, stages: SequenceStages) -> list:
    """The sequences of a motion file (a remote one is copied to the scratch folder first)."""
    from builder.sources import read_motion

    settings = stages.kinematics.settings
    if "://" not in source or source.startswith("file://"):
        return read_motion(source.removeprefix("file://"), fps=settings.fps, on_nan=settings.on_nan)
    stages.scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=stages.scratch_dir, prefix="motion.") as folder:
        local = Path(folder) / source.rsplit("/", 1)[-1]
        store, _, name = source.rpartition("/")
        Store.at(store, **dict(stages.storage_options)).download(name, local)
        return read_motion(local, fps=settings.fps, on_nan=settings.on_nan)


def source_sequence_id(source: str) -> str:
    """The id a motion file's failure is recorded under when the file cannot be read (its stem)."""
    return Path(source.rsplit("/", 1)[-1]).stem


def run_motion_file(source: str, work: Store, stages: SequenceStages) -> dict[str, str]:
    """Every stage each sequence of the motion file ``source`` still needs; ``{sequence_id: status}``
    (``kept``, ``dropped`` or ``failed``, as its record says)."""
    try:
        sequences = _read(source, stages)
    except Exception as error:  # noqa: BLE001 - an unreadable file is recorded, the build goes on
        sequence_id = source_sequence_id(source)
        with work.staged(f"sequences/{sequence_id}", (), stages.scratch_dir) as folder:
            record_failure(folder.parent.parent, sequence_id, error, stages.kinematics.settings, Path(source))
            work.commit(folder, f"sequences/{sequence_id}", (), marker=layout.RECORD)
        return {sequence_id: "failed"}
    return {sequence.sequence_id: run_sequence(sequence, work, stages) for sequence in sequences}


def run_sequence(sequence, work: Store, stages: SequenceStages) -> str:
    """The stages one sequence still needs; its final status."""
    prefix = f"sequences/{sequence.sequence_id}"
    present = set() if stages.force else set(work.listdir(prefix))
    record = _existing_record(work, prefix, present)
    if record is not None and layout.IK_REPORT in present:
        if changed := changed_settings(record, stages.dynamics.effective_settings):
            # labels made with other dynamics settings (or an older default) are stale: redo the dynamics
            log.info("%s: dynamics made with other settings (%s); redoing them", sequence.sequence_id,
                     ", ".join(changed))
            record = None
    final = record is not None and not (stages.retry_failed and record.status == "failed")
    if final and not _needs_video(record, stages, present) and not _missing_views(sequence, work, record, stages):
        return record.status
    with work.staged(prefix, sorted(present & set(STAGED_FILES)), stages.scratch_dir) as folder:
        return _run_stages(sequence, work, prefix, folder, stages, present, record if final else None)


def _wanted(record: SequenceRecord, stages: SequenceStages) -> bool:
    """Whether the sequence gets a video (kept, or dropped with ``keep_dropped``)."""
    return stages.render is not None and (record.status == "kept"
                                          or (record.status == "dropped" and stages.keep_dropped))


def _needs_video(record: SequenceRecord, stages: SequenceStages, present: set[str]) -> bool:
    return _wanted(record, stages) and layout.VIDEO not in present


def _missing_views(sequence, work: Store, record: SequenceRecord, stages: SequenceStages) -> list[str]:
    """Extra views still to render (only bodies are rendered from other views, never a source video)."""
    render = stages.render
    if not _wanted(record, stages) or (sequence.video_path is not None and not render.synthetic):
        return []
    if render.view_subjects is not None and sequence.subject not in render.view_subjects:
        return []
    return [view for view in view_ids(sequence.sequence_id, render.views)
            if stages.force or layout.RECORD not in work.listdir(f"sequences/{view}")]


def _run_stages(sequence, work: Store, prefix: str, folder: Path, stages: SequenceStages, present: set[str],
                record: SequenceRecord | None) -> str:
    kinematics = stages.kinematics
    body = vertices = None
    if layout.IK_REPORT not in present:
        try:
            check_sequence(sequence)
            body = kinematics.body_for(sequence)
            vertices = body.posed_vertices(sequence.poses, sequence.trans)
            kinematics.run(sequence, folder.parent.parent, body, vertices, stages.scratch_dir / "scaled-models")
        except Exception as error:  # noqa: BLE001 - one bad sequence must not stop the run: record why
            log.warning("%s failed: %s", sequence.sequence_id, error)
            record_failure(folder.parent.parent, sequence.sequence_id, error, kinematics.settings,
                           sequence.source_path)
            work.commit(folder, prefix, (), marker=layout.RECORD)
            return "failed"
        work.remove(f"{prefix}/{layout.RECORD}")   # an earlier failure no longer holds
        work.commit(folder, prefix, KINEMATICS_FILES, marker=layout.IK_REPORT)
        record = None
    if record is None:
        for stale in (layout.ACTIVATIONS, layout.VALIDITY, layout.RECORD):   # nothing of an earlier verdict
            if work.local_root is None:
                work.remove(f"{prefix}/{stale}")
        record = stages.dynamics.run(folder)
        work.commit(folder, prefix, DYNAMICS_FILES, marker=layout.RECORD)
    try:
        if _needs_video(record, stages, set() if stages.force else set(work.listdir(prefix))):
            posed = _posed(sequence, folder, stages, body, vertices)
            stages.render.run(folder, posed[0], posed[1], posed[2], kinematics.settings.smpl_model)
            work.commit(folder, prefix, RENDER_FILES, marker=layout.VIDEO)
            body, vertices = None, posed[1]
        if missing := _missing_views(sequence, work, record, stages):
            _render_views(missing, work, folder, stages, record, _posed(sequence, folder, stages, body, vertices))
    except Exception as error:  # noqa: BLE001 - labels without their video are unusable: record why
        log.warning("%s: rendering failed: %s", sequence.sequence_id, error)
        record.status, record.error = "failed", stage_error("render", error)
        record.write(folder / layout.RECORD)
        work.commit(folder, prefix, (), marker=layout.RECORD)
    return record.status


def _posed(sequence, folder: Path, stages: SequenceStages, body, vertices: np.ndarray | None) -> tuple:
    """``(stored sequence, vertices (T, V, 3), faces)`` of the motion as stored (``motion.npz`` keeps
    float32 poses): the body already posed over the sequence is reused when its poses are those."""
    from builder.sources.motion_file import load_motion

    (stored,) = load_motion(folder / layout.MOTION)
    same = (vertices is not None and np.array_equal(stored.poses, sequence.poses)
            and np.array_equal(stored.trans, sequence.trans))
    body = body or stages.kinematics.body_for(stored)
    if not same:
        vertices = body.posed_vertices(stored.poses, stored.trans)
    return stored, vertices, np.asarray(body.faces)


VIEW_FILES = (layout.MOTION, layout.ACTIVATIONS, layout.VALIDITY)
"""The labels a view shares with its sequence (copied: each view folder stands on its own)."""


def _render_views(view_list: list[str], work: Store, folder: Path, stages: SequenceStages, record: SequenceRecord,
                  posed: tuple) -> None:
    """Each extra view: the sequence's labels, the body rendered with the view's own camera and looks
    (seeded by the view's id), and a record naming the sequence it shows (``sources.view_of``), last."""
    from builder.render.sequence import render_sequence

    stored, vertices, faces = posed
    render = stages.render
    for view_id in view_list:
        prefix = f"sequences/{view_id}"
        with work.staged(prefix, (), stages.scratch_dir) as view:
            for name in VIEW_FILES:
                if (folder / name).is_file():
                    with atomic_path(view / name) as tmp:
                        shutil.copyfile(folder / name, tmp)
            render_sequence(vertices, faces, stored.fps, view, view_id, render.seed, render.config,
                            _renderer(render.config.width, render.config.height))
            dataclasses.replace(record, sequence_id=view_id, sources={**record.sources, "view_of": record.sequence_id}
                                ).write(view / layout.RECORD)
            work.commit(view, prefix, (*VIEW_FILES, *RENDER_FILES, layout.VIDEO), marker=layout.RECORD)


def list_motion_files(inputs: list[str | os.PathLike], storage_options: dict | None = None) -> list[str]:
    """Motion files of ``inputs`` (local files or folders, or fsspec URLs of files or folders)."""
    from builder.sources.read import MOTION_SUFFIXES, find_motion_files

    found: list[str] = []
    for item in map(os.fspath, inputs):
        if "://" not in item:
            found += [str(p) for p in (find_motion_files(item) if Path(item).is_dir() else [Path(item)])]
            continue
        store = Store.at(item, **(storage_options or {}))
        if not store.fs.isdir(store.root):
            found.append(item)
            continue
        suffixes = tuple(s for s in MOTION_SUFFIXES if s not in (".txt", ".json", ".npy"))
        found += [f"{item.rstrip('/')}/{key}" for key in store.glob("**")
                  if key.lower().endswith(suffixes) and not key.endswith("shape.npz")]
    return found
