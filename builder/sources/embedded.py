"""The embedded default motions: the pybullet DeepMimic clips, performed by several Anny subjects.

The clips come with the ``pybullet`` wheel, the bodies with the ``anny`` wheel, so the default
build needs nothing licensed or downloaded. Each (clip, subject) pair becomes one sequence
``deepmimic_<clip>__<subject>`` whose ``subject`` is the Anny subject: the dataset splits the
default motions by subject, like Human3.6M, so test subjects have body shapes and camera views
never seen in training while every motion kind appears in both splits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .deepmimic import embedded_motions, read_deepmimic
from .motion_file import save_motion
from .timing import resample

SUBJECT_MARK = "__"
"""Joins a clip's sequence id and its subject's id into the id of an embedded sequence."""


def motion_of(sequence_id: str, subject: str | None) -> str:
    """The motion a sequence plays: an embedded sequence's id less its ``__<subject>``; any other sequence is
    its own motion."""
    return sequence_id.removesuffix(f"{SUBJECT_MARK}{subject}")


@dataclass(frozen=True)
class AnnySubject:
    """A synthetic subject: id, SMPL-style gender and Anny phenotype values in [0, 1]."""

    subject_id: str
    gender: str
    phenotype: dict[str, float]


DEFAULT_SUBJECTS: tuple[AnnySubject, ...] = (
    AnnySubject("anny01", "male", {"height": 0.50, "weight": 0.50, "muscle": 0.50}),
    AnnySubject("anny02", "female", {"height": 0.45, "weight": 0.40, "muscle": 0.45}),
    AnnySubject("anny03", "male", {"height": 0.60, "weight": 0.65, "muscle": 0.60}),
    AnnySubject("anny04", "female", {"height": 0.55, "weight": 0.55, "muscle": 0.50}),
    AnnySubject("anny05", "neutral", {"height": 0.50, "weight": 0.45, "muscle": 0.55}),
    AnnySubject("anny06", "female", {"height": 0.38, "weight": 0.55, "muscle": 0.40}),
    AnnySubject("anny07", "male", {"height": 0.65, "weight": 0.45, "muscle": 0.55}),
    AnnySubject("anny08", "neutral", {"height": 0.55, "weight": 0.60, "muscle": 0.45}),
    AnnySubject("anny09", "female", {"height": 0.60, "weight": 0.45, "muscle": 0.60}),
    AnnySubject("anny10", "male", {"height": 0.42, "weight": 0.58, "muscle": 0.65}),
)
"""Ten adults spanning Anny's mid-range of height, weight and muscle for both genders. The dataset splits
them by subject (``builder.dataset.splits``): anny01, anny04 and anny06 are the test subjects."""

LOOPING_CYCLES = {"walk": 4, "run": 4}
"""Clips that loop seamlessly, repeated to give several strides per sequence."""


def write_embedded_default(folder: str | Path, subjects: tuple[AnnySubject, ...] = DEFAULT_SUBJECTS,
                           clips: tuple[str, ...] | None = None, fps: float = 30.0) -> list[Path]:
    """Write one ``motion.npz``-format file per (clip, subject) into ``folder``; returns the paths.

    Files already present are kept (they depend only on the clip, the subject and ``fps``).
    """
    folder = Path(folder)
    available = embedded_motions()
    unknown = sorted(set(clips or ()) - set(available))
    if unknown:
        raise ValueError(f"no embedded motion(s) {unknown}; available: {', '.join(available)}")
    paths = []
    for clip in clips or tuple(available):
        (motion,) = read_deepmimic(available[clip], cycles=LOOPING_CYCLES.get(clip, 1))
        motion = resample(motion, fps)
        for subject in subjects:
            sequence_id = f"{motion.sequence_id}{SUBJECT_MARK}{subject.subject_id}"
            path = folder / f"{sequence_id}.npz"
            if not path.is_file():
                save_motion(dataclasses.replace(motion, sequence_id=sequence_id, subject=subject.subject_id,
                                                gender=subject.gender, body_phenotype=dict(subject.phenotype)),
                            path)
            paths.append(path)
    return paths
