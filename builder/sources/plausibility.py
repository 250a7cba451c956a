"""Ranges a human motion must lie in: frame rate, root speed and body height.

A value outside them is a mistake in the input (a frame rate typed wrong, translations in
millimetres or scaled by 1e6, a body shape from another model), never a motion to simulate: the
BioSim stages refuse it with a message naming the file instead of producing numbers that look
like results.
"""

from __future__ import annotations

import numpy as np

FRAME_RATE_RANGE_HZ = (1.0, 500.0)
"""Frame rates accepted for motion (mocap and video run at 24-480 Hz)."""
MAX_ROOT_SPEED_M_S = 15.0
"""Root speed no human keeps up (sprinters peak near 12.4 m/s); checked on the 95th percentile of frames."""
ROOT_SPEED_PERCENTILE = 95.0
"""Percentile of the per-frame root speeds compared with :data:`MAX_ROOT_SPEED_M_S` (a few glitch frames pass)."""
BODY_HEIGHT_RANGE_M = (0.5, 2.6)
"""Standing heights accepted for a body (a small child to the tallest people recorded)."""


def frame_rate_problem(fps: float) -> str | None:
    """Why ``fps`` (Hz) is not a plausible motion frame rate, or None."""
    low, high = FRAME_RATE_RANGE_HZ
    if not isinstance(fps, (int, float, np.number)):
        return f"frame rate {fps!r} is not a number"
    if not np.isfinite(fps) or not low <= fps <= high:
        return f"frame rate {fps:g} Hz is outside the plausible {low:g}-{high:g} Hz (a typo, or time in other units?)"
    return None


def root_speed_problem(trans: np.ndarray, fps: float) -> str | None:
    """Why the (T, 3) root translations (metres) sampled at ``fps`` move faster than a human, or None."""
    steps = np.linalg.norm(np.diff(np.asarray(trans, dtype=np.float64), axis=0), axis=1) * fps
    steps = steps[np.isfinite(steps)]
    if not len(steps):
        return None
    speed = float(np.percentile(steps, ROOT_SPEED_PERCENTILE))
    if speed > MAX_ROOT_SPEED_M_S:
        return (f"the root moves at {speed:.3g} m/s ({ROOT_SPEED_PERCENTILE:g}th percentile of frames), faster than "
                f"a human can ({MAX_ROOT_SPEED_M_S:g} m/s); translations in other units or a wrong frame rate?")
    return None


def body_height_problem(height_m: float) -> str | None:
    """Why a standing body height (metres) is not a human's, or None."""
    low, high = BODY_HEIGHT_RANGE_M
    if not np.isfinite(height_m) or not low <= height_m <= high:
        return f"body height {height_m:.3g} m is outside the plausible {low:g}-{high:g} m (shape parameters wrong?)"
    return None
