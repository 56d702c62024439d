"""Raw density on a grid over the EG3D box: the lattice trick, and coarse-to-fine refinement.

Lattice trick. On an axis-aligned lattice the (x, y) plane feature is shared by every z, and
EG3D's planes are (x, y), (x, z), (z, x); the decoder's first layer is linear in the mean of the
three, so

    h[i, j, k] = A[i, j] + B[i, k],  A = W1 F_xy / 3,  B = W1 (F_xz + F_zx) / 3 + b1

needs 2 N^2 plane samples instead of 3 N^3, exactly (performance.md §2).

Coarse to fine. Evaluate every other lattice point, keep the coarse cells whose corners straddle
the level (dilated by one cell), evaluate the fine points of those cells exactly and fill the rest
by trilinear interpolation, which cannot create a surface where all corners agree (§3)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..models.decoder import TriPlaneDecoder
from ..rendering.triplane import sample_from_planes


def grid_coordinates(resolution: int, box_warp: float) -> torch.Tensor:
    return torch.linspace(-box_warp / 2, box_warp / 2, resolution)


class DensityLattice:
    """Per-lattice first-layer tables A (N, N, H) and B (N, N, H) for one tri-plane."""

    def __init__(self, planes: torch.Tensor, decoder: TriPlaneDecoder, resolution: int, box_warp: float) -> None:
        if planes.shape[0] != 1:
            raise ValueError("density grids take one tri-plane at a time")
        n = self.n = resolution
        planes = planes.float()
        t = grid_coordinates(n, box_warp).to(planes.device)
        a_, b_ = torch.meshgrid(t, t, indexing="ij")
        zero = torch.zeros_like(a_)
        f_xy = sample_from_planes(planes, torch.stack([a_, b_, zero], -1).reshape(1, -1, 3), box_warp)[0, 0]
        f_xz = sample_from_planes(planes, torch.stack([a_, zero, b_], -1).reshape(1, -1, 3), box_warp)[0]
        fc0, self.act, fc1 = decoder.net_semantic
        w1 = fc0.weight * fc0.weight_gain
        b1 = fc0.bias * fc0.bias_gain
        self.a = (f_xy @ w1.t() / 3).reshape(n, n, -1)
        self.b = (((f_xz[1] + f_xz[2]) @ w1.t()) / 3 + b1).reshape(n, n, -1)
        self.w2 = (fc1.weight[0] * fc1.weight_gain).contiguous()
        self.b2 = float(fc1.bias[0] * fc1.bias_gain)

    def dense(self, step: int = 1, tile: int = 64) -> torch.Tensor:
        """Every `step`-th lattice point in each axis: (M, M, M) with M = (N - 1) // step + 1."""
        a, b = self.a[::step, ::step], self.b[::step, ::step]
        m = a.shape[0]
        out = torch.empty((m, m, m), dtype=torch.float32, device=a.device)
        for i in range(m):  # tiles of tile x M x hidden floats stay in cache (performance.md §2a)
            bi = b[i][None]
            for j in range(0, m, tile):
                out[i, j:j + tile] = self.act(a[i, j:j + tile, None, :] + bi) @ self.w2
        return out + self.b2

    def points(self, index: torch.Tensor, chunk: int = 1 << 15) -> torch.Tensor:
        """Density at lattice indices (P, 3) = (i, j, k)."""
        n = self.n
        a = self.a.reshape(n * n, -1)
        b = self.b.reshape(n * n, -1)
        out = torch.empty(index.shape[0], dtype=torch.float32, device=a.device)
        for s in range(0, index.shape[0], chunk):
            i, j, k = index[s:s + chunk].unbind(1)
            out[s:s + chunk] = self.act(a[i * n + j] + b[i * n + k]) @ self.w2
        return out + self.b2


@torch.no_grad()
def density_grid(planes: torch.Tensor, decoder: TriPlaneDecoder, resolution: int, box_warp: float) -> np.ndarray:
    """Raw sigma at grid[i, j, k] = (x_i, y_j, z_k); float32 (N, N, N), C order [x, y, z]."""
    return DensityLattice(planes, decoder, resolution, box_warp).dense().cpu().numpy()


@torch.no_grad()
def refine(lattice: DensityLattice, coarse: torch.Tensor, level: float, dilation: int = 1) -> tuple[torch.Tensor, float]:
    """Fine grid from the coarse (every other point) grid: exact in cells whose corners straddle
    `level` (dilated by `dilation` cells), trilinear elsewhere. Returns (grid, evaluated fraction)."""
    n = lattice.n
    vol = coarse[None, None]
    hi = F.max_pool3d(vol, 2, 1)
    lo = -F.max_pool3d(-vol, 2, 1)
    active = (hi >= level) & (lo <= level)
    if dilation:
        active = F.max_pool3d(active.float(), 2 * dilation + 1, 1, dilation) > 0
    active = active[0, 0]
    fine = F.interpolate(vol, size=(n, n, n), mode="trilinear", align_corners=True)[0, 0]
    needed = torch.zeros((n, n, n), dtype=torch.bool, device=fine.device)
    m = active.shape[0]
    for di in range(3):
        for dj in range(3):
            for dk in range(3):
                needed[di:di + 2 * m:2, dj:dj + 2 * m:2, dk:dk + 2 * m:2] |= active
    index = needed.nonzero()
    if len(index):
        fine[index[:, 0], index[:, 1], index[:, 2]] = lattice.points(index)
    return fine, float(len(index)) / n ** 3


@torch.no_grad()
def density_grid_coarse_to_fine(planes: torch.Tensor, decoder: TriPlaneDecoder, resolution: int, box_warp: float,
                                level: float, dilation: int = 1) -> tuple[np.ndarray, float]:
    """Like `density_grid` (resolution must be odd, 2 m + 1) but exact only near the `level` set.
    Returns the grid and the fraction of fine points evaluated."""
    if resolution % 2 == 0:
        raise ValueError("coarse-to-fine needs an odd resolution (2 m + 1)")
    lattice = DensityLattice(planes, decoder, resolution, box_warp)
    fine, fraction = refine(lattice, lattice.dense(step=2), level, dilation)
    return fine.cpu().numpy(), fraction


@torch.no_grad()
def density_grid_naive(planes: torch.Tensor, decoder: TriPlaneDecoder, resolution: int, box_warp: float,
                       chunk: int = 1 << 16) -> np.ndarray:
    """Reference path (grid_sample + MLP per point), for tests and benchmarks."""
    n = resolution
    t = grid_coordinates(n, box_warp).to(planes.device)
    pts = torch.stack(torch.meshgrid(t, t, t, indexing="ij"), -1).reshape(1, -1, 3)
    out = []
    for i in range(0, pts.shape[1], chunk):
        out.append(decoder.density(sample_from_planes(planes.float(), pts[:, i:i + chunk], box_warp))[0, :, 0])
    return torch.cat(out).reshape(n, n, n).cpu().numpy()
