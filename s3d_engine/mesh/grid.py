"""Raw density on the lattice over the EG3D box, by the lattice trick.

Lattice point (i, j, k) of an N-point lattice sits at (t_i, t_j, t_k), t = linspace(-w/2, w/2, N)
with w = box_warp. EG3D's planes are (x, y), (x, z) and (z, x); the decoder averages the three
features and its first layer is linear, so the pre-activation splits into two tables:

    h[i, j, k] = A[i, j] + B[i, k],  A = W1 F_xy(t_i, t_j) / 3,
                                     B = W1 (F_xz(t_i, t_k) + F_zx(t_i, t_k)) / 3 + b1

    sigma[i, j, k] = w2 . softplus(h[i, j, k]) + b2

2 N^2 plane samples replace 3 N^3 (performance.md §2); as bilinear sampling is linear and the
planes are square, F_xz + F_zx is one sample of the plane sum P_xz + P_zx^T. Every density
value, dense or at a list of points, goes through the same `_head`, so the two agree bit for bit:
the sparse extraction (`sparse.py`) relies on that to give the dense mesh."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..models.decoder import TriPlaneDecoder
from ..rendering.triplane import sample_from_planes


def grid_coordinates(resolution: int, box_warp: float) -> torch.Tensor:
    return torch.linspace(-box_warp / 2, box_warp / 2, resolution)


CHECK_INTERVAL_S = 0.1


class DensityLattice:
    """First-layer tables A (N, N, H) and B (N, N, H) of one tri-plane; `evaluated` counts the
    lattice points whose density has been computed (the cost of a grid is proportional to it)."""

    def __init__(self, planes: torch.Tensor, decoder: TriPlaneDecoder, resolution: int, box_warp: float) -> None:
        if planes.shape[0] != 1:
            raise ValueError("density grids take one tri-plane at a time")
        n = self.n = resolution
        planes = planes.detach().float()[0]
        if planes.shape[-1] != planes.shape[-2]:
            raise ValueError("the lattice tables need square planes")
        t = grid_coordinates(n, box_warp).to(planes.device) * (2.0 / box_warp)
        u, v = torch.meshgrid(t, t, indexing="ij")
        fc0, self.act, fc1 = decoder.net_semantic
        with torch.no_grad():  # tensors without autograd history: every later op is plain arithmetic
            # [F_xy, F_xz + F_zx] at (t_i, t_j); the (z, x) plane transposed is indexed by (x, z)
            pair = torch.stack([planes[0], planes[1] + planes[2].transpose(-1, -2)])
            grid = torch.stack([u, v], -1).reshape(1, 1, -1, 2).expand(2, -1, -1, -1)
            f = F.grid_sample(pair, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            w1 = fc0.weight * fc0.weight_gain
            b1 = fc0.bias * fc0.bias_gain
            h = f[:, :, 0].transpose(1, 2) @ (w1.t() / 3)  # (2, N^2, H)
            self.a = h[0].contiguous()
            self.b = (h[1] + b1).contiguous()
            self.w2 = (fc1.weight[0] * fc1.weight_gain).contiguous()
            self.b2 = float(fc1.bias[0] * fc1.bias_gain)
        self.evaluated = 0
        self.check: Callable[[], None] | None = None  # called between chunks; may raise to cancel
        self._last_check = time.perf_counter()

    @property
    def device(self) -> torch.device:
        return self.a.device

    def _head(self, pre: torch.Tensor) -> torch.Tensor:
        """(R, H) pre-activations -> (R,) sigma; the one place a density is computed. Between
        chunks, at most every CHECK_INTERVAL_S, `check()` runs: a cancel takes effect mid-grid."""
        if self.check is not None and time.perf_counter() - self._last_check >= CHECK_INTERVAL_S:
            self._last_check = time.perf_counter()
            self.check()
        self.evaluated += pre.shape[0]
        return self.act(pre) @ self.w2 + self.b2

    def dense(self, step: int = 1, tile: int = 64) -> torch.Tensor:
        """Every `step`-th lattice point in each axis: (M, M, M) with M = (N - 1) // step + 1."""
        n = self.n
        a = self.a.view(n, n, -1)[::step, ::step]
        b = self.b.view(n, n, -1)[::step, ::step]
        m = a.shape[0]
        out = torch.empty((m, m, m), dtype=torch.float32, device=a.device)
        for i in range(m):  # tiles of tile x M x hidden floats stay in cache (performance.md §2a)
            bi = b[i][None]
            for j in range(0, m, tile):
                pre = a[i, j:j + tile, None, :] + bi
                out[i, j:j + tile] = self._head(pre.reshape(-1, pre.shape[-1])).view(pre.shape[:2])
        return out

    def points(self, i: torch.Tensor, j: torch.Tensor, k: torch.Tensor, chunk: int = 1 << 12) -> torch.Tensor:
        """Density at the lattice points (i[p], j[p], k[p]); integer tensors of one length."""
        n = self.n
        ij = (i.to(self.device, torch.int64) * n + j.to(self.device))
        ik = (i.to(self.device, torch.int64) * n + k.to(self.device))
        out = torch.empty(ij.shape[0], dtype=torch.float32, device=self.device)
        for s in range(0, ij.shape[0], chunk):
            pre = self.a.index_select(0, ij[s:s + chunk])
            pre += self.b.index_select(0, ik[s:s + chunk])
            out[s:s + chunk] = self._head(pre)
        return out


@torch.no_grad()
def density_grid(planes: torch.Tensor, decoder: TriPlaneDecoder, resolution: int, box_warp: float) -> np.ndarray:
    """Raw sigma at grid[i, j, k] = (x_i, y_j, z_k); float32 (N, N, N), C order [x, y, z]."""
    return DensityLattice(planes, decoder, resolution, box_warp).dense().cpu().numpy()


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
