"""One call from motions to the dataset: BioSim kinematics and dynamics, video, windows, shards, card.

:class:`Pipeline` holds typed stages (:mod:`builder.dataset.sequence_task`), the dataset settings and
an engine (:mod:`builder.engine`: local processes by default, Ray given a cluster address).
Each motion file is one task that runs every stage its sequences still need where the task runs,
then the dataset build encodes windows and writes shards as tasks too; the driver only lists files
and reads records. Work and dataset folders may be local or any fsspec URL
(:class:`~builder.dataset.store.Store`). Everything resumes: a finished stage is skipped. Without
motion inputs the embedded default motions are used (DeepMimic clips x Anny subjects).

    from builder.dataset.pipeline import Pipeline
    from builder.engine import RayEngine
    Pipeline(engine=RayEngine("auto")).run(["s3://bucket/motions"], "s3://bucket/biosim", "s3://bucket/biohuman10m")
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from builder import layout
from builder.biosim.record import SequenceRecord, stage_error
from builder.engine import Engine, LocalEngine, TaskFailure

from .build import BuildConfig, build_dataset
from .sequence_task import RenderStage, SequenceStages, list_motion_files, run_motion_file, source_sequence_id
from .store import Store

logger = logging.getLogger(__name__)


def embedded_default_motions(folder: Path, fps: float = 30.0) -> list[Path]:
    """Write the embedded default motions (DeepMimic clips x Anny subjects) into ``folder``; their files."""
    from builder.sources.embedded import write_embedded_default

    return write_embedded_default(folder, fps=fps)


@dataclass
class Pipeline:
    """Motions -> per-sequence stages -> dataset, on ``engine`` (default: local processes)."""

    stages: SequenceStages = field(default_factory=SequenceStages)
    build: BuildConfig = field(default_factory=BuildConfig)
    engine: Engine = field(default_factory=LocalEngine)

    def simulate(self, motions: list[str | os.PathLike], work: str | os.PathLike | Store) -> Counter:
        """Run every per-sequence stage still needed for ``motions``; the count of each final status.

        A task that returned nothing (its worker crashed on every retry, or timed out) is recorded as
        a ``failed`` record of the file's sequence, so nothing is lost silently.
        """
        work = Store.at(work)
        sources = list_motion_files(motions, dict(self.stages.storage_options))
        logger.info("%d motion files on %s", len(sources), type(self.engine).__name__)
        if self.stages.render is not None and isinstance(self.engine, LocalEngine):
            from builder.render.gl import ensure_gl_platform

            ensure_gl_platform()   # probed once here; the local workers inherit the choice
        counts: Counter = Counter()
        from tqdm.auto import tqdm

        outcomes = self.engine.map(run_motion_file, [(source, work, self.stages) for source in sources], "sequence")
        for index, outcome in tqdm(outcomes, total=len(sources), desc="biosim + render", unit="file"):
            if isinstance(outcome, TaskFailure):
                sequence_id = source_sequence_id(sources[index])
                logger.warning("%s: %s", sources[index], outcome.reason)
                prefix = f"sequences/{sequence_id}"
                if not work.exists(f"{prefix}/{layout.RECORD}"):
                    with work.staged(prefix, (), self.stages.scratch) as folder:
                        SequenceRecord(sequence_id=sequence_id, status="failed",
                                       error=stage_error("pipeline", outcome.reason),
                                       sources={"motion": sources[index]}).write(folder / layout.RECORD)
                        work.commit(folder, prefix, (), marker=layout.RECORD)
                counts["failed"] += 1
                continue
            counts.update(outcome.values())
        return counts

    def run(self, motions: list[str | os.PathLike] | None, work: str | os.PathLike | Store,
            out: str | os.PathLike | Store, fps: float = 30.0) -> dict:
        """Motion files or folders (default: the embedded motions, written into ``work/motions`` when
        ``work`` is a local folder) -> ``work/sequences/`` -> dataset ``out``; returns the manifest."""
        work = Store.at(work)
        if not motions:
            if work.local_root is None:
                raise ValueError(f"{work.url}: give motion inputs for a remote work folder")
            motions = embedded_default_motions(work.local_root / "motions", fps)
        counts = self.simulate(motions, work)
        logger.info("sequences: %s", dict(counts))
        if not counts.get("kept") and not (self.build.keep_dropped and counts.get("dropped")):
            raise RuntimeError(f"{work.url}: BioSim kept no sequence; see the record.json files for why")
        return build_dataset(work, out, self.build, self.engine, self.stages.scratch)


def run_pipeline(motions: list[Path] | None, work: Path, out: Path, config: BuildConfig | None = None,
                 fps: float | None = 30.0, biosim_workers: int = 1, render: RenderStage | None = None) -> dict:
    """Motion files or folders (default: the embedded motions) -> ``work/sequences/`` -> dataset ``out``,
    with the default stages (``render``: the video stage's settings) in ``biosim_workers`` local processes
    (``fps``: resample the motions)."""
    from builder.biosim.kinematics import KinematicsSettings

    from .sequence_task import KinematicsStage

    stages = SequenceStages(kinematics=KinematicsStage(KinematicsSettings(fps=fps)), render=render or RenderStage(),
                            keep_dropped=(config or BuildConfig()).keep_dropped)
    pipeline = Pipeline(stages, config or BuildConfig(), LocalEngine(biosim_workers))
    return pipeline.run(motions, work, out, fps or 30.0)
