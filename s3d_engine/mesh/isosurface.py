"""Marching cubes (scikit-image, Lewiner) on a dense grid or on a list of cells, mapped to world
coordinates, with faces wound outward.

Closed border. The lattice's outer layer is set to `border_value(level)` = level - 1, below the
level, so the surface is closed where the field touches the box walls (EG3D trims its border for
the same reason). The value is fixed by the level alone, so dense and sparse extraction close the
surface identically.

Cells. Lewiner's marching cubes decides each cell's triangles from its own 8 corners, and
scikit-image's `mask` selects cells by their far corner: mask[p] runs the cell p - (1, 1, 1).
`extract_cells` packs the C given cells as separate 2 x 2 x 2 tiles of one volume, masks every
cell between tiles, and runs marching cubes once. A vertex on the edge of cell c lies at
c + u, u in [0, 1]^3 with at most one fractional coordinate (Lewiner's interior vertices have three);
its key, per axis 2 c + (0 if u = 0, 1 if 0 < u < 1, 2 if u = 1), names the lattice edge (or
corner, or cell centre) it lies on, so welding equal keys joins the tiles into the mesh that
dense marching cubes gives on those cells."""
from __future__ import annotations

import numpy as np
from skimage.measure import marching_cubes

from .types import signed_volume


def border_value(level: float) -> float:
    return float(level) - 1.0


def choose_level(grid: np.ndarray, level: float) -> float | None:
    """`level` if the field crosses it inside the box, else None."""
    inner = grid[1:-1, 1:-1, 1:-1]
    return level if inner.size and inner.min() < level < inner.max() else None


def to_world(lattice_points: np.ndarray, resolution: int, box_warp: float) -> np.ndarray:
    """Lattice coordinates (float) -> world coordinates in [-w/2, w/2]^3."""
    return (lattice_points * (box_warp / (resolution - 1)) - box_warp / 2).astype(np.float32)


def _outward(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    faces = faces.astype(np.int32)
    if len(faces) and signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1].copy()
    return faces


def extract_isosurface(grid: np.ndarray, level: float, box_warp: float) -> tuple[np.ndarray, np.ndarray]:
    """Dense grid [x, y, z] of raw density (higher = inside) -> vertices (V, 3) world, faces (F, 3) outward."""
    closed = grid.copy()
    floor = border_value(level)
    closed[[0, -1], :, :] = floor
    closed[:, [0, -1], :] = floor
    closed[:, :, [0, -1]] = floor
    verts, faces, _, _ = marching_cubes(closed, level=level, allow_degenerate=False)
    verts = to_world(verts, grid.shape[0], box_warp)
    return verts, _outward(verts, faces)


def extract_cells(cells: np.ndarray, corners: np.ndarray, level: float, resolution: int,
                  box_warp: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells (C, 3) of a `resolution`^3 lattice with corner densities (C, 2, 2, 2) -> vertices
    (V, 3) world, sorted by edge key, and faces (F, 3) outward."""
    count = len(cells)
    if count == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
    a = int(np.ceil(count ** (1 / 3)))
    c = -(-count // (a * a))
    tiles = np.full((a * a * c, 2, 2, 2), border_value(level), dtype=np.float32)
    tiles[:count] = corners
    volume = tiles.reshape(a, a, c, 2, 2, 2).transpose(0, 3, 1, 4, 2, 5).reshape(2 * a, 2 * a, 2 * c)
    far = np.zeros((a * a * c, 2, 2, 2), dtype=bool)
    far[:count, 1, 1, 1] = True
    mask = far.reshape(a, a, c, 2, 2, 2).transpose(0, 3, 1, 4, 2, 5).reshape(volume.shape)
    try:
        verts, faces, _, _ = marching_cubes(volume, level=level, mask=mask, allow_degenerate=False)
    except RuntimeError:  # no cell crosses the level
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
    tile = np.floor(verts / 2).astype(np.int64)
    local = verts.astype(np.float64) - 2 * tile
    origin = cells[(tile[:, 0] * a + tile[:, 1]) * c + tile[:, 2]]
    side = np.where(local == 0, 0, np.where(local == 1, 2, 1))
    span = 2 * resolution - 1
    key3 = 2 * origin + side
    key = (key3[:, 0] * span + key3[:, 1]) * span + key3[:, 2]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    welded = to_world((origin + local)[first], resolution, box_warp)
    return welded, _outward(welded, inverse.reshape(-1)[faces])
