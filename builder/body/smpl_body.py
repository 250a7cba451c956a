"""The SMPL body through the ``smplx`` package, from a user-supplied SMPL model file.

The official SMPL files are licensed and never shipped: the user gives a path to a pickled
model (``.pkl``), a folder holding ``SMPL_<GENDER>.pkl``, or an ``.npz`` with the same keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .surface import RestBody

SMPL_GENDERS = ("neutral", "male", "female")


def _data_struct(path: Path):
    """The model arrays of an ``.npz`` SMPL file, as the structure ``smplx.SMPL`` expects."""
    from smplx.utils import Struct

    try:
        with np.load(path, allow_pickle=False) as data:
            return Struct(**{key: data[key] for key in data.files})
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable SMPL .npz model ({err})") from err


class SmplBody:
    """SMPL body surface posed by ``smplx`` with the subject's shape ``betas``, in SMPL's world frame."""

    def __init__(self, model_path: str | Path, gender: str = "neutral", betas: np.ndarray | None = None,
                 batch_size: int = 64) -> None:
        import smplx

        if gender not in SMPL_GENDERS:
            raise ValueError(f"unknown gender {gender!r}; expected one of {SMPL_GENDERS}")
        path = Path(model_path)
        if path.is_dir():
            path = path / f"SMPL_{gender.upper()}.pkl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: SMPL model file not found (give --smpl-model a .pkl/.npz file or "
                                    "a folder with SMPL_<GENDER>.pkl)")
        data_struct = _data_struct(path) if path.suffix == ".npz" else None
        try:
            self.model = smplx.SMPL(model_path=str(path), data_struct=data_struct, gender=gender,
                                    num_betas=10, dtype=torch.float64)
        except Exception as err:  # smplx raises bare pickle/key errors: name the file
            raise ValueError(f"{path}: cannot load SMPL model ({type(err).__name__}: {err})") from err
        self.path = path
        self.faces = np.asarray(self.model.faces, dtype=np.int64)
        self.topology = f"smpl{self.model.v_template.shape[0]}"
        betas = np.zeros(10) if betas is None else np.asarray(betas, dtype=np.float64).reshape(-1)
        self.betas = torch.zeros(1, self.model.num_betas, dtype=torch.float64)
        n = min(len(betas), self.model.num_betas)
        self.betas[0, :n] = torch.from_numpy(betas[:n])
        self.batch_size = batch_size

    def _forward(self, poses: np.ndarray, trans: np.ndarray):
        poses = torch.from_numpy(np.asarray(poses, dtype=np.float64))
        with torch.no_grad():
            return self.model(betas=self.betas.expand(len(poses), -1), global_orient=poses[:, :3],
                              body_pose=poses[:, 3:], transl=torch.from_numpy(np.asarray(trans, np.float64)))

    def posed_vertices(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """Vertices (T, V, 3) float32 in SMPL's world frame for poses (T, 72) and ``trans`` (T, 3)."""
        out = np.empty((len(poses), self.model.v_template.shape[0], 3), dtype=np.float32)
        for start in range(0, len(poses), self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = self._forward(poses[start:stop], trans[start:stop]).vertices.numpy()
        return out

    def posed_joints(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """The 24 regressed SMPL joints (T, 24, 3), the centres its segments rotate about."""
        out = np.empty((len(poses), 24, 3))
        for start in range(0, len(poses), self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = self._forward(poses[start:stop], trans[start:stop]).joints[:, :24].numpy()
        return out

    def rest_body(self) -> RestBody:
        """The subject's SMPL body in the zero pose, with its 24 regressed joints."""
        out = self._forward(np.zeros((1, 72)), np.zeros((1, 3)))
        return RestBody(vertices=out.vertices[0].numpy(), faces=self.faces, joints=out.joints[0, :24].numpy(),
                        vertex_weights=self.model.lbs_weights.numpy())
