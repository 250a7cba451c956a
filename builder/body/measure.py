"""Subject height and mass from a body mesh."""

from __future__ import annotations

import numpy as np
import trimesh

BODY_DENSITY = 985.0
"""Whole-body density in kg/m^3 (mass = mesh volume x density)."""


def body_height(rest_vertices: np.ndarray) -> float:
    """Head top to heel (metres) of a neutral standing body in SMPL's frame (Y up)."""
    return float(np.ptp(np.asarray(rest_vertices)[:, 1]))


def body_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Enclosed volume (m^3) of a closed triangle mesh, by the divergence theorem."""
    mesh = trimesh.Trimesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces), process=False)
    if not mesh.is_watertight:
        raise ValueError(f"body mesh is not watertight ({len(vertices)} vertices, {len(faces)} faces): "
                         "its volume, hence the subject's mass, is undefined")
    return float(abs(mesh.volume))


def body_mass(vertices: np.ndarray, faces: np.ndarray, density: float = BODY_DENSITY) -> float:
    """Body mass (kg) as mesh volume x ``density``."""
    return body_volume(vertices, faces) * density
