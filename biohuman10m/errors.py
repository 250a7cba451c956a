"""The one error root of the library, and the error contract of bad input.

Every error the library raises on purpose derives from :class:`BioHumanError`; the command line
prints such an error as one line and exits non-zero, while any other exception is a bug and keeps
its traceback. Bad input is an :class:`InputError` (also a ``ValueError``, so ``except ValueError``
keeps working): it names the file and the problem, ``str(error) == "<path>: <problem>"``.
"""

from __future__ import annotations

import os
from pathlib import Path


class BioHumanError(Exception):
    """Root of the errors BioHuman raises on purpose (bad input, inconsistent data or settings)."""


class InputError(BioHumanError, ValueError):
    """A file, folder or value given to BioHuman that cannot be used: ``"<path>: <problem>"``.

    ``path`` is ``None`` where the input has no file (a value in memory); the message then names
    the input by the class's ``unnamed`` placeholder.
    """

    unnamed = "<input>"

    def __init__(self, path: str | os.PathLike | None, problem: str) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path if self.path is not None else self.unnamed}: {problem}")

    def __reduce__(self):
        """Rebuild from ``(path, problem)``: errors raised in worker processes travel back intact."""
        return type(self), (self.path, self.problem)


class MissingInputError(InputError, FileNotFoundError):
    """An input file or folder that does not exist (also a ``FileNotFoundError``)."""
