"""The one error type every motion reader raises for bad input."""

from __future__ import annotations

from biohuman10m.errors import InputError


class MotionSourceError(InputError):
    """A motion file that cannot be read: ``str(error)`` is ``"<path>: <problem>"``."""

    unnamed = "<motion>"
