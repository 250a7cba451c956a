"""Shared pytest fixtures (session-scoped where building them is costly)."""

import pytest


# --- body surface (builder.body): one Anny body and one procedural SMPL model per session ---
@pytest.fixture(scope="session")
def anny_body():
    """The Anny body (rig cmu_mb), built once per session (its rig is cached in ANNY_CACHE_DIR)."""
    from builder.body import AnnyBody

    return AnnyBody()


@pytest.fixture(scope="session")
def procedural_smpl_path(anny_body, tmp_path_factory):
    """A procedural SMPL-format model file (.pkl) that the real smplx code path loads."""
    from procedural_smpl import write_procedural_smpl

    return write_procedural_smpl(anny_body, tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl")


# --- rendering (builder.render, builder.video): one posed walking body, rendered once ---
WALK_FPS = 30.0
WALK_FRAMES = 30


@pytest.fixture(scope="session")
def walking_body():
    """A 1 s walk of the Anny body posed directly by bone rotations: (vertices (T, V, 3), faces, fps).

    World frame as SMPL's (Y up, Z forward, metres), feet on y = 0, walking along +Z at 1.2 m/s.
    """
    import warnings

    import anny
    import numpy as np
    import roma
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = anny.create_fullbody_model(rig="cmu_mb")
    time = torch.arange(WALK_FRAMES, dtype=torch.float64) / WALK_FPS
    stride = 2 * np.pi * 0.9 * time

    def about_x(angle):  # delta rotation about the bone's local x axis (flexion for legs and arms)
        transform = torch.eye(4, dtype=torch.float64).repeat(WALK_FRAMES, 1, 1)
        transform[:, :3, :3] = roma.rotvec_to_rotmat(torch.stack([angle, 0 * angle, 0 * angle], -1))
        return transform

    pose = {"LeftUpLeg": about_x(-0.45 * torch.sin(stride)), "RightUpLeg": about_x(0.45 * torch.sin(stride)),
            "LeftLeg": about_x(0.6 * torch.sin(stride + 1.2).clamp(min=0)),
            "RightLeg": about_x(0.6 * torch.sin(stride + 1.2 + np.pi).clamp(min=0)),
            "LeftArm": about_x(-0.35 * torch.sin(stride)), "RightArm": about_x(0.35 * torch.sin(stride))}
    with torch.no_grad():
        vertices = model(pose_parameters=pose)["vertices"].numpy()
    z_up_to_y_up = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # Anny: Z up, faces -Y
    vertices = vertices @ z_up_to_y_up.T
    vertices[..., 1] -= vertices[..., 1].min()
    vertices[..., 2] += 1.2 * time.numpy()[:, None]
    quads = model.faces.numpy()
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    return vertices.astype(np.float32), faces, WALK_FPS


@pytest.fixture(scope="session")
def rendered_walk(walking_body, tmp_path_factory):
    """``walking_body`` rendered by ``render_sequence`` into a sequence folder: (RenderResult, body)."""
    from builder.render import render_sequence

    vertices, faces, fps = walking_body
    result = render_sequence(vertices, faces, fps, tmp_path_factory.mktemp("render") / "walk",
                             sequence_id="walk", seed=7)
    return result, walking_body
