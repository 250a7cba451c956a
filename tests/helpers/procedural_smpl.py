"""A procedural SMPL-format model file for tests: Anny's T-posed mesh with SMPL's 24-joint rig.

The official SMPL files are licensed; this model has SMPL's file layout (v_template, f,
J_regressor, weights, shapedirs, posedirs, kintree_table) so the real ``smplx.SMPL`` code path
loads and poses it. Vertices and faces come from Anny posed in SMPL's zero pose; skinning
weights are Anny's bone weights summed per driving SMPL joint (``RestBody.vertex_weights``); each joint
is regressed as a non-negative convex combination of nearby vertices; two shape directions scale the body.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from scipy.optimize import nnls
from scipy.spatial import cKDTree

from biohuman10m.vocabulary import SMPL_JOINT_PARENTS
from builder.body import AnnyBody


def _joint_regressor(vertices: np.ndarray, joints: np.ndarray, k: int = 60) -> np.ndarray:
    regressor = np.zeros((len(joints), len(vertices)))
    tree = cKDTree(vertices)
    for j, joint in enumerate(joints):
        _, idx = tree.query(joint, k=k)
        a = np.vstack([vertices[idx].T, 100.0 * np.ones(k)])
        w, _ = nnls(a, np.append(joint, 100.0))
        regressor[j, idx] = w / w.sum()
    return regressor


def write_procedural_smpl(anny: AnnyBody, path: Path) -> Path:
    """Write a SMPL-format pickle built from ``anny`` to ``path``."""
    rest = anny.rest_body()
    v = rest.vertices
    shapedirs = np.zeros((len(v), 3, 10))
    shapedirs[:, :, 0] = 0.03 * (v - rest.joints[0])
    shapedirs[:, 1, 1] = 0.03 * (v[:, 1] - rest.joints[0, 1])
    model = {
        "v_template": v, "f": rest.faces.astype(np.uint32), "J_regressor": _joint_regressor(v, rest.joints),
        "weights": rest.vertex_weights, "shapedirs": shapedirs, "posedirs": np.zeros((len(v), 3, 207)),
        "kintree_table": np.array([[4294967295, *SMPL_JOINT_PARENTS[1:]], list(range(24))], dtype=np.int64),
    }
    with open(path, "wb") as f:
        pickle.dump(model, f)
    return path
