"""6D rotation representation <-> rotation matrix <-> axis-angle, via ``roma``.

Convention used throughout BioHuman ("columns", Zhou et al. 2019 as in HMR2/4D-Humans/TRAM): the
6 numbers are the first column of the rotation matrix followed by its second column,
``rot6d = [R[:, 0], R[:, 1]]``. PromptHMR/pytorch3d read the 6 numbers as the first two *rows*
(``[R[0, :], R[1, :]]``); :func:`rot6d_to_matrix` takes ``convention="rows"`` for those.
"""

from __future__ import annotations

from typing import Literal

import roma
import torch

Convention = Literal["columns", "rows"]


def rot6d_to_matrix(rot6d: torch.Tensor, convention: Convention = "columns") -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) rotation matrices by Gram-Schmidt (``roma.special_gramschmidt``)."""
    pairs = rot6d.reshape(*rot6d.shape[:-1], 2, 3)
    if convention == "columns":
        return roma.special_gramschmidt(pairs.transpose(-1, -2), epsilon=1e-8)
    if convention == "rows":
        return roma.special_gramschmidt(pairs.transpose(-1, -2), epsilon=1e-8).transpose(-1, -2)
    raise ValueError(f"unknown 6D convention {convention!r}; use 'columns' or 'rows'")


def matrix_to_rot6d(matrix: torch.Tensor, convention: Convention = "columns") -> torch.Tensor:
    """(..., 3, 3) -> (..., 6) in the given convention."""
    if convention == "columns":
        return matrix[..., :, :2].transpose(-1, -2).reshape(*matrix.shape[:-2], 6)
    if convention == "rows":
        return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)
    raise ValueError(f"unknown 6D convention {convention!r}; use 'columns' or 'rows'")


def rot6d_to_axis_angle(rot6d: torch.Tensor, convention: Convention = "columns") -> torch.Tensor:
    """(..., J, 6) -> (..., 3J) axis-angle (the SMPL pose layout)."""
    rotvec = roma.rotmat_to_rotvec(rot6d_to_matrix(rot6d, convention))
    return rotvec.reshape(*rot6d.shape[:-2], rot6d.shape[-2] * 3)


def axis_angle_to_rot6d(pose: torch.Tensor, convention: Convention = "columns") -> torch.Tensor:
    """(..., 3J) axis-angle -> (..., J, 6)."""
    rotvec = pose.reshape(*pose.shape[:-1], pose.shape[-1] // 3, 3)
    return matrix_to_rot6d(roma.rotvec_to_rotmat(rotvec), convention)


def identity_rot6d(convention: Convention = "columns") -> torch.Tensor:
    """The 6D code of the identity rotation (the same in both conventions)."""
    return matrix_to_rot6d(torch.eye(3), convention)
