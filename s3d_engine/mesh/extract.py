"""Tri-plane -> labelled mesh: density grid (lattice trick), marching cubes, optional clean-up,
then colours and labels queried at the final vertices."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import S3DError
from ..models.decoder import TriPlaneDecoder
from .attributes import vertex_attributes
from .cleanup import decimate, largest_component, taubin_smooth
from .grid import DensityLattice, refine
from .isosurface import choose_level, extract_isosurface
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


@dataclass
class MeshReport:
    level: float
    auto_level: bool
    evaluated_fraction: float = 1.0
    timings: dict[str, float] = field(default_factory=dict)


def fallback_level(grid: np.ndarray, fraction: float) -> float:
    """The level that puts `fraction` of the box inside: lets untrained models still produce a mesh."""
    return float(np.quantile(grid[1:-1, 1:-1, 1:-1], 1.0 - fraction))


@torch.no_grad()
def extract_mesh(planes: torch.Tensor, decoder: TriPlaneDecoder, num_classes: int, label_names: list[str],
                 box_warp: float, level: float, options: MeshOptions = MeshOptions()) -> tuple[LabelledMesh, MeshReport]:
    timings: dict[str, float] = {}
    t = time.perf_counter()
    wanted = options.level if options.level is not None else level
    c2f = options.coarse_to_fine and options.resolution >= 65
    n = options.resolution + (1 - options.resolution % 2) if c2f else options.resolution
    lattice = DensityLattice(planes, decoder, n, box_warp)
    sampled = lattice.dense(step=2 if c2f else 1)
    sampled_np = sampled.cpu().numpy()
    chosen = choose_level(sampled_np, wanted)
    auto = chosen is None
    if auto:
        chosen = fallback_level(sampled_np, options.auto_level_fraction)
        if choose_level(sampled_np, chosen) is None:
            raise S3DError("the density field is constant: no surface can be extracted")
    fraction = 1.0
    if c2f:
        fine, fraction = refine(lattice, sampled, chosen)
        grid = fine.cpu().numpy()
    else:
        grid = sampled_np
    timings["field_grid"] = time.perf_counter() - t
    t = time.perf_counter()
    verts, faces = extract_isosurface(grid, chosen, box_warp)
    timings["marching_cubes"] = time.perf_counter() - t
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
    return mesh, MeshReport(level=chosen, auto_level=auto, evaluated_fraction=fraction, timings=timings)
