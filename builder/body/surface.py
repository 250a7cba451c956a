"""What every body surface gives: posed vertices for SMPL poses, faces, and its rest body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class RestBody:
    """A body in SMPL's zero pose (T-pose), SMPL world frame, metres.

    ``joints`` are the 24 SMPL joint locations on this body; ``vertex_joint`` gives for each
    vertex the SMPL joint whose segment moves it most (skinning weight argmax).
    """

    vertices: np.ndarray      # (V, 3)
    faces: np.ndarray         # (F, 3) triangles
    joints: np.ndarray        # (24, 3)
    vertex_joint: np.ndarray  # (V,) int


class BodySurface(Protocol):
    """A skinned body surface driven by SMPL 72-D poses.

    ``topology`` names the mesh connectivity (it selects the marker table); ``faces`` are
    triangles; ``posed_vertices`` returns (T, V, 3) float32 vertices in SMPL's world frame.
    """

    topology: str
    faces: np.ndarray

    def rest_body(self) -> RestBody: ...

    def posed_vertices(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray: ...
