"""Offscreen CPU rendering (pyrender on Mesa) of a posed body mesh through a :class:`Camera`.

The renderer only needs vertices (T, V, 3) in the world frame and triangle ``faces`` (F, 3),
so any body model (Anny, SMPL) can be drawn.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse

from builder.render.appearance import Appearance
from builder.render.camera import Camera
from builder.render.gl import ensure_gl_platform


def _rotation_y_x(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rotation turning a camera-aligned light (shining along -z) by azimuth, then tilting it down."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return turn @ tilt


class VertexNormals:
    """Area-weighted vertex normals of a fixed triangle topology, via one sparse product."""

    def __init__(self, faces: np.ndarray, num_vertices: int):
        self._corners = [np.ascontiguousarray(faces[:, k]) for k in range(3)]
        rows = faces.reshape(-1)
        cols = np.repeat(np.arange(len(faces)), 3)
        self._incidence = scipy.sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(num_vertices, len(faces)))

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        a, b, c = (vertices[corner] for corner in self._corners)
        face_normals = np.cross(b - a, c - a)
        normals = self._incidence @ face_normals
        return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


class BodyRenderer:
    """An offscreen renderer of one image size; use as a context manager to free GL resources."""

    def __init__(self, width: int, height: int):
        ensure_gl_platform()
        import pyrender  # after the platform is chosen

        self._pyrender = pyrender
        self.width, self.height = width, height
        self._renderer = pyrender.OffscreenRenderer(width, height)

    def __enter__(self) -> "BodyRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None

    def render(self, vertices: np.ndarray, faces: np.ndarray, camera: Camera,
               appearance: Appearance) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(rgb (H, W, 3) uint8, body mask (H, W) bool)`` for every frame of ``vertices``."""
        pyrender = self._pyrender
        vertices = np.asarray(vertices, dtype=np.float32)
        faces = np.asarray(faces)
        if vertices.ndim != 3 or vertices.shape[2] != 3:
            raise ValueError(f"vertices must be (T, V, 3), got {vertices.shape}")
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f"faces must be triangles (F, 3), got {faces.shape}")
        if faces.min() < 0 or faces.max() >= vertices.shape[1]:
            raise ValueError(f"faces index vertices 0..{faces.max()}, the mesh has {vertices.shape[1]}")
        if camera.num_frames != len(vertices) or (camera.width, camera.height) != (self.width, self.height):
            raise ValueError(f"camera has {camera.num_frames} frames of {camera.width}x{camera.height}; "
                             f"rendering {len(vertices)} frames of {self.width}x{self.height}")
        faces = faces.astype(np.uint32)
        normals = VertexNormals(faces, vertices.shape[1])
        material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=(*appearance.body_rgb, 1.0), metallicFactor=0.0,
            roughnessFactor=appearance.roughness)
        scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(appearance.ambient,) * 3)
        K = camera.K
        gl_camera = pyrender.IntrinsicsCamera(K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5,
                                              znear=0.05, zfar=1000.0)
        camera_node = scene.add(gl_camera)
        key = scene.add(pyrender.DirectionalLight(intensity=appearance.key_intensity))
        fill = scene.add(pyrender.DirectionalLight(intensity=appearance.fill_intensity))
        key_offset, fill_offset = np.eye(4), np.eye(4)
        key_offset[:3, :3] = _rotation_y_x(appearance.key_azimuth_deg, -appearance.key_elevation_deg)
        fill_offset[:3, :3] = _rotation_y_x(-appearance.key_azimuth_deg - 90.0, 0.0)
        background = appearance.background
        body_node = None
        for frame, points in enumerate(vertices):
            pose = camera.gl_pose(frame)
            scene.set_pose(camera_node, pose)
            scene.set_pose(key, pose @ key_offset)
            scene.set_pose(fill, pose @ fill_offset)
            primitive = pyrender.Primitive(positions=points, normals=normals(points), indices=faces,
                                           material=material)
            if body_node is not None:
                scene.remove_node(body_node)
            body_node = scene.add(pyrender.Mesh([primitive]))
            color, depth = self._renderer.render(scene)
            mask = depth > 0
            yield np.where(mask[..., None], color, background), mask
