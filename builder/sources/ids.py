"""Sequence ids that are unique across the inputs of one run.

Two input files can give one id: file names that differ only in characters an id cannot hold
(non-ASCII letters, spaces), the same clip exported twice (e.g. at 30 and 60 fps), or two files of
BioHuman's motion format carrying the same ``sequence_id``. Then every sequence of that id gets
``-<first 8 hex digits of the sha256 of its file's absolute path>`` appended, so no input silently
replaces another and the id stays the same on every run while the file stays where it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections import defaultdict

from .errors import MotionSourceError
from .motion import MotionSequence

logger = logging.getLogger(__name__)
MAX_ID = 200
"""Longest sequence id (:data:`builder.sources.motion.SEQUENCE_ID`)."""


def path_suffix(path: str | os.PathLike | None) -> str:
    """``-<8 hex digits>`` of the sha256 of ``path`` made absolute."""
    return "-" + hashlib.sha256(os.path.abspath(path or "").encode()).hexdigest()[:8]


def unique_ids(sequences: list[MotionSequence]) -> list[MotionSequence]:
    """``sequences`` with unique ids (see the module docstring); a file given twice is read once.

    Raises :class:`MotionSourceError` if ids still collide (two sequences of one file with one id).
    """
    by_id: dict[str, dict[str, MotionSequence]] = defaultdict(dict)
    for sequence in sequences:
        source = os.path.abspath(sequence.source_path or "")
        if source in by_id[sequence.sequence_id]:
            logger.warning("%s: given twice; read once", sequence.source_path)
            continue
        by_id[sequence.sequence_id][source] = sequence
    unique: dict[str, MotionSequence] = {}
    for sequence_id, members in by_id.items():
        if len(members) > 1:
            logger.warning("%d input files give the sequence id %s: %s; each gets a suffix from its path",
                           len(members), sequence_id, ", ".join(sorted(members)))
        for source, sequence in members.items():
            if len(members) > 1:
                suffix = path_suffix(source)
                sequence = dataclasses.replace(sequence, sequence_id=sequence_id[:MAX_ID - len(suffix)] + suffix)
            if sequence.sequence_id in unique:
                raise MotionSourceError(sequence.source_path, f"sequence id {sequence.sequence_id} is also given by "
                                        f"{unique[sequence.sequence_id].source_path}")
            unique[sequence.sequence_id] = sequence
    return list(unique.values())
