"""One motion through BioSim kinematics and dynamics with the default settings, as the walk tests need it."""

from __future__ import annotations

from pathlib import Path

from builder import layout
from builder.biosim.dynamics import process_sequence
from builder.biosim.kinematics import KinematicsSettings, run_kinematics
from builder.biosim.record import SequenceRecord
from builder.sources import MotionSequence
from builder.sources.timing import resample


def simulate_kept(sequence: MotionSequence, out: Path, body, fps: float = 30.0) -> tuple[Path, SequenceRecord]:
    """Resample ``sequence`` to ``fps``, run kinematics (on ``body``) and dynamics into ``out``; the
    sequence folder and its record, which must say ``kept``."""
    sequence = resample(sequence, fps)
    run_kinematics(sequence, out, KinematicsSettings(), body=body)
    folder = layout.sequence_dir(out, sequence.sequence_id)
    record = process_sequence(folder)
    assert record.status == "kept", record.reasons
    return folder, record
