"""The one error type every motion reader raises for bad input."""

from __future__ import annotations

import os
from pathlib import Path


class MotionSourceError(ValueError):
    """A motion file that cannot be read: ``str(error)`` is ``"<path>: <problem>"``."""

    def __init__(self, path: str | os.PathLike | None, problem: str) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path if self.path is not None else '<motion>'}: {problem}")
