"""Tri-plane -> labelled mesh: density near the level set (coarse to fine, `sparse.py`) or on the
whole lattice, marching cubes, optional clean-up, then colours and labels queried at the final
vertices.

Level. The configured raw-density level if the field crosses it inside the box, else the level
that puts `auto_level_fraction` of the (coarse) grid inside, so untrained weights still give a
mesh. Coarse to fine, from 65^3 up, makes an even resolution odd (2 m + 1) so the coarse grid's
points are lattice points."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..errors import S3DError
from ..models.decoder import TriPlaneDecoder
from .attributes import vertex_attributes
from .cleanup import decimate, largest_component, taubin_smooth
from .grid import DensityLattice
from .isosurface import choose_level, extract_cells, extract_isosurface
from .sparse import coarse_grid, surface_cells
from .types import LabelledMesh


@dataclass(frozen=True)
class MeshOptions:
    resolution: int = 128
    level: float | None = None  # None: the model's configured level
    keep_largest: bool = True
    smooth_iterations: int = 0  # Taubin iterations (0 = off)
    decimate_faces: int = 0  # target face count (0 = off)
    auto_level_fraction: float = 0.15  # fallback when the field never reaches the level (untrained weights)
    coarse_to_fine: bool = True  # exact near the surface only; from 65^3 up (even sizes become 2m + 1)
    coarse_cells: int = 64  # the coarse grid, evaluated everywhere, has at least this many cells per axis
    dilation: int = 1  # active cells reach this many cells past the straddling ones, at every level


@dataclass
class MeshReport:
    level: float
    auto_level: bool
    evaluated_fraction: float = 1.0  # lattice points evaluated / resolution^3, all levels
    resolution: int = 0  # lattice points per axis actually used
    timings: dict[str, float] = field(default_factory=dict)


def fallback_level(grid: np.ndarray, fraction: float) -> float:
    """The level that puts `fraction` of the box inside: lets untrained models still produce a mesh."""
    return float(np.quantile(grid[1:-1, 1:-1, 1:-1], 1.0 - fraction))


def pick_level(grid: np.ndarray, wanted: float, fraction: float) -> tuple[float, bool]:
    """(level, whether it is the automatic fallback); raises when the field is constant."""
    chosen = choose_level(grid, wanted)
    if chosen is not None:
        return chosen, False
    chosen = fallback_level(grid, fraction)
    if choose_level(grid, chosen) is None:
        raise S3DError("the density field is constant: no surface can be extracted")
    return chosen, True


def field_surface(planes: torch.Tensor, decoder: TriPlaneDecoder, box_warp: float, level: float,
                  options: MeshOptions, check: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray, MeshReport]:
    """The iso-surface before clean-up: vertices (world), faces (outward), and the report with
    timings `field_grid` and `marching_cubes`. `check()` runs between grid chunks (cancel)."""
    t = time.perf_counter()
    wanted = options.level if options.level is not None else level
    c2f = options.coarse_to_fine and options.resolution >= 65
    n = options.resolution + (1 - options.resolution % 2) if c2f else options.resolution
    lattice = DensityLattice(planes, decoder, n, box_warp)
    lattice.check = check
    if c2f:
        coarse, levels = coarse_grid(lattice, options.coarse_cells)
        chosen, auto = pick_level(coarse.cpu().numpy(), wanted, options.auto_level_fraction)
        found = surface_cells(lattice, coarse, levels, chosen, options.dilation)
        fraction = found.evaluated_fraction
    else:
        grid = lattice.dense().cpu().numpy()
        chosen, auto = pick_level(grid, wanted, options.auto_level_fraction)
        fraction = 1.0
    report = MeshReport(level=chosen, auto_level=auto, evaluated_fraction=fraction, resolution=n)
    report.timings["field_grid"] = time.perf_counter() - t
    t = time.perf_counter()
    if c2f:
        verts, faces = extract_cells(found.cells, found.corners, chosen, n, box_warp)
    else:
        verts, faces = extract_isosurface(grid, chosen, box_warp)
    report.timings["marching_cubes"] = time.perf_counter() - t
    return verts, faces, report


@torch.no_grad()
def extract_mesh(planes: torch.Tensor, decoder: TriPlaneDecoder, num_classes: int, label_names: list[str],
                 box_warp: float, level: float, options: MeshOptions = MeshOptions(),
                 progress: Callable[[str, float], None] | None = None) -> tuple[LabelledMesh, MeshReport]:
    """Tri-plane -> labelled mesh. `progress("mesh", f)` is called between grid chunks, and may
    raise to cancel there."""
    check = None if progress is None else (lambda: progress("mesh", 0.35))
    verts, faces, report = field_surface(planes, decoder, box_warp, level, options, check)
    timings = report.timings
    t = time.perf_counter()
    if options.keep_largest:
        verts, faces = largest_component(verts, faces)
    if options.smooth_iterations > 0 and len(faces):
        verts = taubin_smooth(verts, faces, options.smooth_iterations)
    if options.decimate_faces > 0:
        verts, faces = decimate(verts, faces, options.decimate_faces)
    timings["cleanup"] = time.perf_counter() - t
    t = time.perf_counter()
    colors, labels = vertex_attributes(planes, decoder, verts, num_classes, box_warp)
    timings["colouring"] = time.perf_counter() - t
    mesh = LabelledMesh(verts, faces, colors, labels, list(label_names))
    return mesh, report
