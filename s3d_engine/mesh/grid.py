"""Raw density on a dense grid over the EG3D box, with the lattice trick.

On an axis-aligned lattice the (x, y) plane feature is shared by every z, and EG3D's planes
are (x, y), (x, z), (z, x); the decoder's first layer is linear in the mean of the three, so

    h[i, j, k] = A[i, j] + B[i, k],  A = W1 F_xy / 3,  B = W1 (F_xz + F_zx) / 3 + b1

needs only 2 N^2 plane samples instead of 3 N^3 (exact, see performance.md §2)."""
from __future__ import annotations

import numpy as np
import torch

from ..models.decoder import TriPlaneDecoder
from ..rendering.triplane import sample_from_planes


def grid_coordinates(resolution: int, box_warp: float) -> torch.Tensor:
    return torch.linspace(-box_warp / 2, box_warp / 2, resolution)


@torch.no_grad()
def density_grid(planes: torch.Tensor, decoder: TriPlaneDecoder, resolution: int, box_warp: float,
                 tile: int = 64) -> np.ndarray:
    """Raw sigma at grid[i, j, k] = (x_i, y_j, z_k); returns float32 (N, N, N), C-order [x, y, z].
    `planes` is (1, 3, C, R, R)."""
    if planes.shape[0] != 1:
        raise ValueError("density_grid takes one tri-plane at a time")
    n = resolution
    planes = planes.float()
    t = grid_coordinates(n, box_warp).to(planes.device)
    a_, b_ = torch.meshgrid(t, t, indexing="ij")
    zero = torch.zeros_like(a_)
    xy = torch.stack([a_, b_, zero], -1).reshape(1, -1, 3)  # (x_i, y_j, 0)
    xz = torch.stack([a_, zero, b_], -1).reshape(1, -1, 3)  # (x_i, 0, z_k)
    f_xy = sample_from_planes(planes, xy, box_warp)[0, 0]  # (N*N, C)
    f_xz = sample_from_planes(planes, xz, box_warp)[0]
    fc0, act, fc1 = decoder.net_semantic
    w1 = fc0.weight * fc0.weight_gain
    b1 = fc0.bias * fc0.bias_gain
    lattice_a = (f_xy @ w1.t() / 3).reshape(n, n, -1)
    lattice_b = (((f_xz[1] + f_xz[2]) @ w1.t()) / 3 + b1).reshape(n, n, -1)
    w2 = (fc1.weight[0] * fc1.weight_gain).contiguous()
    b2 = float(fc1.bias[0] * fc1.bias_gain)
    out = torch.empty((n, n, n), dtype=torch.float32, device=planes.device)
    for i in range(n):  # tiles of tile x N x hidden floats stay in cache (performance.md §2a)
        b = lattice_b[i][None]
        for j in range(0, n, tile):
            out[i, j:j + tile] = act(lattice_a[i, j:j + tile, None, :] + b) @ w2
    return (out + b2).cpu().numpy()


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
