"""Ground-truth meshes: narrow-band SDF grid, marching cubes, rasterisation."""
from __future__ import annotations

import numpy as np

from s3d_engine.cameras import domain_camera, project_points
from training.data import sdf as S
from training.data.gt_mesh import LabelledMesh, head_mesh, rasterize_mesh, sdf_grid


class Ball:
    def sdf(self, p):
        return S.sphere(p, S.vec(0.0, 0.0, 0.1), 0.2)

    def evaluate(self, p):
        return self.sdf(p), np.where(p[:, 0] < 0, 1, 2).astype(np.uint8)


def test_narrow_band_grid_matches_full_evaluation_near_the_surface():
    grid, lo, step = sdf_grid(Ball(), 32)
    axis = np.arange(33, dtype=np.float32) * step + lo
    full = Ball().sdf(np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)).reshape(33, 33, 33)
    assert (np.sign(grid) == np.sign(full)).all()
    near = np.abs(full) < 2 * step
    assert np.allclose(grid[near], full[near], atol=1e-6)


def test_sphere_mesh_and_labels():
    mesh = head_mesh(Ball(), 64)
    r = np.linalg.norm(mesh.vertices - np.array([0, 0, 0.1]), axis=1)
    assert np.abs(r - 0.2).max() < 0.01
    assert set(np.unique(mesh.labels)) == {1, 2}
    assert ((mesh.vertices[:, 0] < 0) == (mesh.labels == 1)).all()


def test_rasterised_square_covers_its_projection():
    verts = np.array([[-0.1, -0.1, 0.2], [0.1, -0.1, 0.2], [0.1, 0.1, 0.2], [-0.1, 0.1, 0.2]], np.float32)
    mesh = LabelledMesh(verts, np.array([[0, 1, 2], [0, 2, 3]]), np.array([3, 3, 3, 3], np.uint8))
    cam = domain_camera("face")
    labels, depth = rasterize_mesh(mesh, cam, 64)
    uv, z = project_points(verts, cam, 64)
    inside = labels == 3
    rows, cols = np.nonzero(inside)
    assert abs(cols.min() + 0.5 - uv[:, 0].min()) <= 1 and abs(cols.max() + 0.5 - uv[:, 0].max()) <= 1
    assert abs(rows.min() + 0.5 - uv[:, 1].min()) <= 1
    assert np.allclose(depth[inside], z[0], atol=1e-5)
