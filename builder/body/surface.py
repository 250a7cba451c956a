"""What every body surface gives: posed vertices for SMPL poses, faces, and its rest body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class RestBody:
    """A body in SMPL's zero pose (T-pose), SMPL world frame, metres.

    ``joints`` are the 24 SMPL joint locations on this body; ``vertex_weights`` (V, 24) are the
    skinning weights of each vertex on the segments of the SMPL joints (rows sum to 1).
    """

    vertices: np.ndarray      # (V, 3)
    faces: np.ndarray         # (F, 3) triangles
    joints: np.ndarray        # (24, 3)
    vertex_weights: np.ndarray  # (V, 24)


class BodySurface(Protocol):
    """A skinned body surface driven by SMPL 72-D poses.

    ``topology`` names the mesh connectivity (it selects the marker table); ``faces`` are
    triangles; ``posed_vertices`` returns (T, V, 3) float32 vertices in SMPL's world frame and
    ``posed_joints`` the (T, 24, 3) centres its segments rotate about (SMPL joint order).
    """

    topology: str
    faces: np.ndarray

    def rest_body(self) -> RestBody: ...

    def posed_vertices(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray: ...

    def posed_joints(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray: ...
