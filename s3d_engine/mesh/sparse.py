"""Coarse-to-fine density near the level set, kept sparse from the coarsest grid to the finest.

Levels. A fine lattice of N = 2^k m + 1 points per axis is reached from a coarse one of m + 1
points by k halvings of the spacing; the coarse grid (m >= `coarse_cells`, 64 by default) is
evaluated everywhere. At each level a cell is *straddling* when the minimum and the maximum of its
8 corner densities bracket the level, lo <= level <= hi. Marching cubes emits triangles only in
straddling cells of the finest lattice, and each cell's triangles depend on its 8 corners alone.

Refinement. The straddling cells of a level, dilated by `dilation` cells, are its *active* cells.
An active cell p of level l - 1 splits into the 8 cells 2p + {0, 1}^3 of level l, whose corners are
the 27 points 2p + {0, 1, 2}^3; only those points are evaluated (the ones with even coordinates are
reused from level l - 1). The straddling cells of the finest level and their corner densities are
the result. Where the coarse grid sees a surface, or comes within one coarse cell of it, the mesh
is exactly the dense lattice's; a part thinner than the coarse spacing that no coarse point lies in
is not seen (the guard the extraction has always had: one cell of dilation at the coarse level).

Closed border. Points on the outer layer of the lattice take the value level - 1 (see
`isosurface.border_value`) and are never evaluated, so the surface is closed where the head meets
the box, exactly as the dense extraction does.

Bookkeeping. Points and cells of a level live in a `BlockSet`: a dense table over blocks of B^3
sites and one slab per touched block. Insertion, de-duplication and lookup are scatters and
gathers into the slabs; memory is proportional to the blocks the surface touches, and no grid at
the fine resolution is ever allocated. Time is the field evaluation plus O(27) work per active
cell."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .grid import DensityLattice
from .isosurface import border_value


def level_count(cells: int, coarse_cells: int) -> int:
    """Halvings k from the coarse grid to a fine one of `cells` cells per axis: as many as keep at
    least `coarse_cells` coarse cells, and at least one when `cells` is even."""
    k = 0
    while cells % 2 == 0 and (cells // 2 >= coarse_cells or k == 0):
        cells //= 2
        k += 1
    return k


class BlockSet:
    """Sites of an n^3 lattice, stored by blocks of B^3 (B = 2^bits): site p is slab entry
    table[block(p)] * B^3 + local(p), block(p) = p >> bits and local(p) = p & (B - 1), both
    row-major. Sites are coordinate-major, (3, P), and come in cubes (origin + {0..s-1}^3)
    decomposed per axis, so that every operation runs along the long axis of P sites."""

    def __init__(self, n: int, bits: int, device: torch.device) -> None:
        self.n, self.bits, self.per_block = n, bits, 1 << 3 * bits
        self.blocks = ((n - 1) >> bits) + 1
        self.table = torch.full((self.blocks ** 3,), -1, dtype=torch.int64, device=device)
        self.origins = torch.zeros((3, 0), dtype=torch.int64, device=device)

    @property
    def size(self) -> int:
        """Slab entries allocated (present blocks x B^3)."""
        return self.origins.shape[1] * self.per_block

    def _keys(self, axes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-axis coordinates (3, s, K) -> block keys and local keys (s, s, s, K)."""
        nb, bits = self.blocks, self.bits
        blk, loc = axes >> bits, axes & ((1 << bits) - 1)
        key = (blk[0, :, None, None] * nb + blk[1, None, :, None]) * nb + blk[2, None, None, :]
        local = (((loc[0, :, None, None] << bits) + loc[1, None, :, None]) << bits) + loc[2, None, None, :]
        return key, local

    def _create(self, axes: torch.Tensor) -> None:
        """Add the blocks that cubes with per-axis coordinates (3, s, K), s <= B, reach: those
        of their first and last sites along each axis."""
        key, _ = self._keys(axes[:, [0, -1]])
        touched = torch.zeros_like(self.table, dtype=torch.bool)
        touched[key.reshape(-1)] = True
        new = (touched & (self.table < 0)).nonzero()[:, 0]
        start = self.origins.shape[1]
        self.table[new] = torch.arange(start, start + len(new), device=new.device)
        b = self.blocks
        origin = torch.stack([new // (b * b), new // b % b, new % b]) << self.bits
        self.origins = torch.cat([self.origins, origin], 1)

    def cubes(self, origins: torch.Tensor, size: int, create: bool = True) -> torch.Tensor:
        """Slab indices (s, s, s, K) of the sites origin + {0..s-1}^3, origins (3, K), clipped to
        the lattice; missing blocks are added, or give -1 when `create` is False."""
        offsets = torch.arange(size, device=origins.device)[:, None]
        axes = (origins[:, None, :] + offsets).clamp_(0, self.n - 1)
        if create:
            self._create(axes)
        key, local = self._keys(axes)
        slot = self.table.take(key)
        index = (slot << 3 * self.bits).add_(local)
        return index if create else index.masked_fill_(slot < 0, -1)

    def sites(self, index: torch.Tensor) -> torch.Tensor:
        """Slab indices (P,) -> lattice sites (3, P)."""
        bits = self.bits
        mask = (1 << bits) - 1
        local = index & (self.per_block - 1)
        offset = torch.stack([local >> 2 * bits, (local >> bits) & mask, local & mask])
        return self.origins.index_select(1, index >> 3 * bits).add_(offset)

    def unique(self, index: torch.Tensor) -> torch.Tensor:
        """The distinct slab indices among `index`, sorted."""
        seen = torch.zeros(self.size, dtype=torch.bool, device=index.device)
        seen.index_fill_(0, index.reshape(-1), True)
        return seen.nonzero()[:, 0]


@dataclass
class SurfaceCells:
    """The straddling cells of the finest lattice with their corner densities (border closed)."""

    resolution: int  # fine lattice points per axis
    cells: np.ndarray  # (C, 3) int64 cell origins (i, j, k)
    corners: np.ndarray  # (C, 2, 2, 2) float32 density at (i + a, j + b, k + c)
    evaluated: int  # lattice points whose density was computed, all levels together
    levels: int  # halvings from the coarse grid

    @property
    def evaluated_fraction(self) -> float:
        return self.evaluated / self.resolution ** 3


def close_border(grid: torch.Tensor, level: float) -> torch.Tensor:
    """A copy of a dense (M, M, M) grid with its outer layer set to `border_value(level)`."""
    closed = grid.clone()
    floor = border_value(level)
    closed[[0, -1]] = floor
    closed[:, [0, -1]] = floor
    closed[:, :, [0, -1]] = floor
    return closed


def _bracket(lo: torch.Tensor, hi: torch.Tensor, level: float) -> torch.Tensor:
    return (lo <= level) & (hi >= level)


def _pairwise(cube: torch.Tensor, op) -> torch.Tensor:
    """(M, M, M, ...) -> (M - 1, M - 1, M - 1, ...): `op` (min or max) over each cell's 8 corners."""
    for axis in range(3):
        m = cube.shape[axis] - 1
        cube = op(cube.narrow(axis, 0, m), cube.narrow(axis, 1, m))
    return cube


def _dense_active(closed: torch.Tensor, level: float, dilation: int) -> torch.Tensor:
    """Active cells (3, P) of a dense closed grid: straddling, dilated by `dilation` cells."""
    active = _bracket(_pairwise(closed, torch.minimum), _pairwise(closed, torch.maximum), level)
    for axis in range(3):
        m = active.shape[axis] - 1
        for _ in range(dilation):  # a box dilation is three one-axis ones
            grown = active.clone()
            grown.narrow(axis, 1, m).logical_or_(active.narrow(axis, 0, m))
            grown.narrow(axis, 0, m).logical_or_(active.narrow(axis, 1, m))
            active = grown
    return active.nonzero().t()


def _dilate(cells: torch.Tensor, dilation: int, n_cells: int, bits: int) -> torch.Tensor:
    """Distinct cells (3, P) within `dilation` (Chebyshev) of `cells`, clipped to the lattice."""
    if dilation == 0:
        return cells
    bag = BlockSet(n_cells, bits, cells.device)
    return bag.sites(bag.unique(bag.cubes(cells - dilation, 2 * dilation + 1)))


def _lookup(slab: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Slab values at `index`, NaN where the index is -1 (a site never evaluated)."""
    return slab.take(index.clamp(min=0)).masked_fill_(index < 0, float("nan"))


def _corners(cube: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """Corner values (C, 2, 2, 2) of the cells `which` (C, 3 + 1) = (offset, column) of a
    (M, M, M, K) block of values."""
    windows = cube.unfold(0, 2, 1).unfold(1, 2, 1).unfold(2, 2, 1)  # (M-1, M-1, M-1, K, 2, 2, 2)
    return windows[which.unbind(1)]


def coarse_grid(lattice: DensityLattice, coarse_cells: int = 64) -> tuple[torch.Tensor, int]:
    """The dense coarse grid (every 2^k-th lattice point) and k."""
    k = level_count(lattice.n - 1, coarse_cells)
    return lattice.dense(step=2 ** k), k


def surface_cells(lattice: DensityLattice, coarse: torch.Tensor, levels: int, level: float, dilation: int = 1,
                  block_bits: int = 3) -> SurfaceCells:
    """Refine from the dense `coarse` grid through `levels` halvings to the lattice's resolution."""
    with torch.no_grad():
        closed = close_border(coarse, level)
        if levels == 0:  # the coarse grid is the lattice: its straddling cells directly
            cells = _dense_active(closed, level, 0)
            corners = _corners(closed[..., None], torch.cat([cells.t(), torch.zeros_like(cells[:1]).t()], 1))
        else:
            cells, corners = _refine(lattice, closed, levels, level, dilation, block_bits)
    return SurfaceCells(resolution=lattice.n, cells=cells.t().cpu().numpy(), corners=corners.float().cpu().numpy(),
                        evaluated=lattice.evaluated, levels=levels)


def _refine(lattice: DensityLattice, closed: torch.Tensor, levels: int, level: float, dilation: int,
            bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The straddling cells (3, C) of the finest level and their corners (C, 2, 2, 2)."""
    active = _dense_active(closed, level, dilation)
    n, floor = closed.shape[0], border_value(level)
    known = lambda p, m=n: closed.reshape(-1).take((p[0] * m + p[1]) * m + p[2])  # noqa: E731
    for step in range(levels):
        n = 2 * n - 1
        points = BlockSet(n, bits, lattice.device)
        index = points.cubes(2 * active, 3)  # (3, 3, 3, K): the 27 points of each split cell
        fresh = points.unique(index)
        sites = points.sites(fresh)
        values = torch.full((len(fresh),), float("nan"), device=lattice.device)
        even = ((sites & 1) == 0).all(0).nonzero()[:, 0]  # lattice points of the previous level
        values.index_copy_(0, even, known(sites.index_select(1, even) >> 1))
        values.masked_fill_(((sites == 0) | (sites == n - 1)).any(0), floor)
        todo = values.isnan().nonzero()[:, 0]
        values.index_copy_(0, todo, lattice.points(*(sites.index_select(1, todo) << levels - 1 - step)))
        slab = torch.full((points.size,), float("nan"), device=lattice.device)
        slab.index_copy_(0, fresh, values)
        cube = slab.take(index)
        which = _bracket(_pairwise(cube, torch.minimum), _pairwise(cube, torch.maximum), level).nonzero()
        cells = 2 * active.index_select(1, which[:, 3]) + which[:, :3].t()
        if step < levels - 1:
            active = _dilate(cells, dilation, n - 1, bits)
            known = lambda p, s=slab, b=points: _lookup(s, b.cubes(p, 1, create=False).reshape(-1))  # noqa: E731
    return cells, _corners(cube, which)
