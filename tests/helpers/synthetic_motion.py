"""A synthetic SMPL walk for tests that need plausible motion without any data file."""

from __future__ import annotations

import numpy as np

from builder.sources.motion import MotionSequence

WALK_FPS = 30.0
WALK_FRAMES = 30


def smpl_walk(num_frames: int, fps: float) -> MotionSequence:
    """A synthetic SMPL walk: hips, knees and shoulders swing, 1.2 m/s along +Z."""
    time = np.arange(num_frames) / fps
    stride = 2 * np.pi * 0.9 * time
    poses = np.zeros((num_frames, 72))
    poses[:, 3 * 1] = -0.45 * np.sin(stride)                                # left hip flexion
    poses[:, 3 * 2] = 0.45 * np.sin(stride)                                 # right hip
    poses[:, 3 * 4] = 0.6 * np.clip(np.sin(stride + 1.2), 0, None)          # left knee
    poses[:, 3 * 5] = 0.6 * np.clip(np.sin(stride + 1.2 + np.pi), 0, None)  # right knee
    poses[:, 3 * 16 + 2], poses[:, 3 * 16] = -1.2, 0.4 * np.sin(stride)     # left arm down, swinging
    poses[:, 3 * 17 + 2], poses[:, 3 * 17] = 1.2, -0.4 * np.sin(stride)     # right arm
    trans = np.stack([np.zeros(num_frames), np.full(num_frames, 1.2), 1.2 * time], axis=1)
    return MotionSequence("synthetic_walk", "test", "s0", poses, trans, fps)
