"""Marching cubes on a density grid (scikit-image), mapped to world coordinates, with faces
wound outward. The grid's outer layer is forced below the level so the surface is closed even
where the field touches the box walls (EG3D trims its border for the same reason)."""
from __future__ import annotations

import numpy as np
from skimage.measure import marching_cubes


def choose_level(grid: np.ndarray, level: float) -> float | None:
    """`level` if the field crosses it inside the box, else None."""
    inner = grid[1:-1, 1:-1, 1:-1]
    return level if inner.size and inner.min() < level < inner.max() else None


def extract_isosurface(grid: np.ndarray, level: float, box_warp: float) -> tuple[np.ndarray, np.ndarray]:
    """grid [x, y, z] of raw density (higher = inside) -> vertices (V, 3) world, faces (F, 3) outward."""
    n = grid.shape[0]
    closed = grid.copy()
    floor = min(float(grid.min()), level) - 1.0
    closed[[0, -1], :, :] = floor
    closed[:, [0, -1], :] = floor
    closed[:, :, [0, -1]] = floor
    verts, faces, _, _ = marching_cubes(closed, level=level, allow_degenerate=False)
    verts = verts * (box_warp / (n - 1)) - box_warp / 2
    faces = faces.astype(np.int32)
    if len(faces) and _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1].copy()
    return verts.astype(np.float32), faces


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    v = v.astype(np.float64)
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0)
