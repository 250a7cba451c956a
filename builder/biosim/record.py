"""The per-sequence record (``record.json``): what went in, how, how long, how good, and the verdict.

The record is written last and atomically, so its presence marks a sequence as done. ``status``
is ``kept`` (labels usable), ``dropped`` (ran, failed a quality threshold; ``reasons`` say which)
or ``failed`` (an error or a crashed worker; ``error`` says what: ``{stage, type, message}``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from builder.io import write_text_atomic

STATUSES = ("kept", "dropped", "failed")


@dataclass
class SequenceRecord:
    sequence_id: str
    status: str = "failed"
    reasons: list[str] = field(default_factory=list)
    error: dict | None = None                         # {stage, type, message} of a failed sequence
    sources: dict = field(default_factory=dict)       # input files
    settings: dict = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    marker_error: dict = field(default_factory=dict)  # IK summary (m)
    grf: dict = field(default_factory=dict)
    residuals: dict = field(default_factory=dict)     # pelvis residuals from ID
    static_optimization: dict = field(default_factory=dict)
    validity: dict = field(default_factory=dict)      # the audit's summary (builder.biosim.validity)
    outputs: dict = field(default_factory=dict)       # files written, relative to the sequence folder

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"{self.sequence_id}: unknown record status {self.status!r}")
        if isinstance(self.error, str):   # records written before errors were structured
            self.error = {"stage": None, "type": None, "message": self.error}

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically as standard JSON (non-finite numbers become the strings "inf", "nan")."""
        text = json.dumps(_finite(asdict(self)), indent=2, default=_jsonable, allow_nan=False)
        write_text_atomic(path, text + "\n")


def stage_error(stage: str, error: BaseException | str) -> dict:
    """``record.json``'s ``error`` for a failure in ``stage``: an exception's type and message, or (a
    worker that died without one) ``WorkerFailure`` and what was seen."""
    if isinstance(error, BaseException):
        return {"stage": stage, "type": type(error).__name__, "message": str(error)}
    return {"stage": stage, "type": "WorkerFailure", "message": error}


def describe_error(error: dict | str | None) -> str | None:
    """One line for a record's ``error``: ``<stage>: <type>: <message>``."""
    if not error or isinstance(error, str):
        return error or None
    return ": ".join(str(part) for part in (error.get("stage"), error.get("type"), error.get("message")) if part)


def as_stored(value):
    """``value`` as ``record.json`` stores it (nested dicts and lists, non-finite floats as strings)."""
    return json.loads(json.dumps(_finite(value), default=_jsonable, allow_nan=False))


def read_record(path: str | os.PathLike) -> SequenceRecord | None:
    """The record at ``path``, or None if absent or unreadable (an unreadable record is not done)."""
    try:
        return SequenceRecord(**json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
