"""What a full build will cost, projected from a small measured sample of the user's own motions.

:func:`measure_sample` runs every stage on a few motion files spread evenly over the inputs, in this
process, timing each stage in CPU seconds (all threads: rendering and video encoding may use more
than one), so its figures are frames per second per core. The full set's frames are projected from
the inputs' bytes (the sample gives frames per byte: listing sizes reads no file), and core-hours
and storage follow. Nothing is reused: a sample built earlier is measured again.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from builder import layout

from .sequence_task import SequenceStages, _posed, _read, _render_views, list_motion_files, view_ids
from .store import Store

STAGES = ("kinematics", "dynamics", "render", "shards")


@dataclass
class CostEstimate:
    """Measured CPU seconds and frames per stage on a sample, and the projection to all inputs."""

    sample_files: int
    sample_frames: int
    total_files: int
    total_frames: float
    cpu_s: dict[str, float] = field(default_factory=dict)          # per stage, on the sample
    stage_frames: dict[str, int] = field(default_factory=dict)      # frames each stage processed
    biosim_bytes_per_frame: float = 0.0
    dataset_bytes_per_frame: float = 0.0

    def frames_per_core_s(self, stage: str) -> float:
        return self.stage_frames.get(stage, 0) / max(self.cpu_s.get(stage, 0.0), 1e-9)

    @property
    def end_to_end(self) -> float:
        """Dataset frames (rendered frames of kept sequences, every view) per core-second of every stage."""
        total = sum(self.cpu_s.values())
        return self.stage_frames.get("render", 0) / total if total else 0.0

    @property
    def slowest(self) -> str:
        return min((s for s in self.cpu_s if self.stage_frames.get(s)), key=self.frames_per_core_s)

    def table(self) -> str:
        lines = [f"sample: {self.sample_files} of {self.total_files} motion files, {self.sample_frames} frames; "
                 f"full set: ~{self.total_frames:,.0f} frames (projected from file sizes)",
                 f"{'stage':<12}{'frames/s/core':>15}{'core-hours (full set)':>24}"]
        for stage in [s for s in STAGES if s in self.cpu_s]:
            rate = self.frames_per_core_s(stage)
            lines.append(f"{stage:<12}{rate:>15.1f}{self.total_frames / max(rate, 1e-9) / 3600:>24.1f}")
        if self.end_to_end:
            hours = self.total_frames / self.end_to_end / 3600
            lines.append(f"{'end to end':<12}{self.end_to_end:>15.1f}{hours:>24.1f}")
        else:
            lines.append("end to end: no sampled frame reached the dataset (every sampled sequence was dropped or "
                         "failed): measure more files (--sample)")
        lines.append(f"slowest stage: {self.slowest}")
        lines.append(f"storage: BioSim folders ~{self.biosim_bytes_per_frame * self.total_frames / 1e9:.2f} GB "
                     f"({self.biosim_bytes_per_frame / 1e3:.1f} kB/frame), dataset "
                     f"~{self.dataset_bytes_per_frame * self.total_frames / 1e9:.2f} GB "
                     f"({self.dataset_bytes_per_frame / 1e3:.1f} kB/frame)")
        return "\n".join(lines)


def _sizes(inputs: list[str], storage_options: dict) -> dict[str, int]:
    sizes = {}
    for source in inputs:
        if "://" in source:
            store, _, name = source.rpartition("/")
            sizes[source] = int(Store.at(store, **storage_options).info(name)["size"])
        else:
            sizes[source] = os.path.getsize(source)
    return sizes


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure_sample(motions: list[str | os.PathLike], sample: int = 3, stages: SequenceStages | None = None,
                   fps: float | None = 30.0, scratch: Path | None = None, storage_options: dict | None = None
                   ) -> CostEstimate:
    """Build ``sample`` of the motion files (spread evenly) in a scratch folder, timing each stage."""
    from builder.biosim.kinematics import KinematicsSettings, check_sequence
    from builder.engine import InlineEngine

    from .build import BuildConfig, build_dataset
    from .sequence_task import KinematicsStage

    stages = stages or SequenceStages(kinematics=KinematicsStage(KinematicsSettings(fps=fps)))
    inputs = list_motion_files(motions, storage_options)
    if not inputs:
        raise ValueError(f"{motions}: no motion files")
    step = max(1, len(inputs) // max(1, sample))
    chosen = inputs[::step][:sample]
    cpu: dict[str, float] = defaultdict(float)
    frames: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="biohuman-plan.") as folder:
        work = Path(folder) / "biosim"
        stages = SequenceStages(stages.kinematics, stages.dynamics, stages.render, stages.keep_dropped,
                                scratch=Path(folder) / "scratch", storage_options=stages.storage_options)
        sample_frames = 0
        for source in chosen:
            for sequence in _read(source, stages):
                sample_frames += sequence.num_frames
                check_sequence(sequence)
                started = time.process_time()
                body = stages.kinematics.body_for(sequence)
                vertices = body.posed_vertices(sequence.poses, sequence.trans)
                stages.kinematics.run(sequence, work, body, vertices, stages.scratch_dir / "scaled-models")
                cpu["kinematics"] += time.process_time() - started
                frames["kinematics"] += sequence.num_frames
                folder_of = layout.sequence_dir(work, sequence.sequence_id)
                started = time.process_time()
                record = stages.dynamics.run(folder_of)
                cpu["dynamics"] += time.process_time() - started
                frames["dynamics"] += sequence.num_frames
                if record.status == "kept" and stages.render is not None:
                    started = time.process_time()
                    posed = _posed(sequence, folder_of, stages, body, vertices)
                    stages.render.run(folder_of, *posed, stages.kinematics.settings.smpl_model)
                    views = view_ids(sequence.sequence_id, stages.render.views)
                    _render_views(views, Store.at(work), folder_of, stages, record, posed)
                    cpu["render"] += time.process_time() - started
                    frames["render"] += sequence.num_frames * (1 + len(views))
        biosim_bytes = _folder_bytes(work)
        started = time.process_time()
        kept = frames["render"]
        dataset_bytes = 0
        if kept:
            build_dataset(work, Path(folder) / "dataset", BuildConfig(), InlineEngine())
            cpu["shards"] = time.process_time() - started
            frames["shards"] = kept
            dataset_bytes = _folder_bytes(Path(folder) / "dataset")
    sizes = _sizes(inputs, storage_options or {})
    frames_per_byte = sample_frames / max(1, sum(sizes[s] for s in chosen))
    return CostEstimate(sample_files=len(chosen), sample_frames=sample_frames, total_files=len(inputs),
                        total_frames=frames_per_byte * sum(sizes.values()), cpu_s=dict(cpu), stage_frames=dict(frames),
                        biosim_bytes_per_frame=biosim_bytes / max(1, sample_frames),
                        dataset_bytes_per_frame=dataset_bytes / max(1, kept))
