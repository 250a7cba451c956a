"""Motion-source readers: every supported dataset format -> :class:`MotionSequence`."""

from .motion import GENDERS, MotionSequence
