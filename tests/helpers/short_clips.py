"""A few short embedded clips (DeepMimic motions on Anny subjects) as motion files: whole builds in seconds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

CLIPS = (("spinkick", "anny01"), ("kick", "anny02"), ("spinkick", "anny02"))
"""(clip, Anny subject) pairs: two subjects, so the subject-level split gives a train and a test sequence."""


def write_short_clips(folder: Path, clips: tuple[tuple[str, str], ...] = CLIPS, frames: int = 16) -> list[Path]:
    """The first ``frames`` frames (at 30 fps) of each clip performed by its subject, one motion file each."""
    from builder.sources.deepmimic import embedded_motions, read_deepmimic
    from builder.sources.embedded import DEFAULT_SUBJECTS
    from builder.sources.motion_file import save_motion
    from builder.sources.timing import resample, take_frames

    subjects = {subject.subject_id: subject for subject in DEFAULT_SUBJECTS}
    paths = []
    for clip, subject_id in clips:
        (motion,) = read_deepmimic(embedded_motions()[clip])
        motion = take_frames(resample(motion, 30.0), np.arange(frames))
        subject = subjects[subject_id]
        sequence_id = f"{clip}__{subject_id}"
        paths.append(Path(folder) / f"{sequence_id}.npz")
        save_motion(dataclasses.replace(motion, sequence_id=sequence_id, subject=subject_id, gender=subject.gender,
                                        body_phenotype=dict(subject.phenotype)), paths[-1])
    return paths
