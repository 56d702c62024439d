"""Tri-plane feature lookup, reproducing EG3D's plane-projection quirk: the three planes are
indexed by (x, y), (x, z) and (z, x) — the third is not (y, z)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def plane_axes() -> torch.Tensor:
    """EG3D's `generate_planes()`: a point p projects onto plane k as (p @ inv(axes[k]))[:2]."""
    return torch.tensor(
        [[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
         [[1, 0, 0], [0, 0, 1], [0, 1, 0]],
         [[0, 0, 1], [1, 0, 0], [0, 1, 0]]], dtype=torch.float32)


def project_onto_planes(axes: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
    """coordinates (N, M, 3) -> (N * n_planes, M, 2)."""
    n, m, _ = coordinates.shape
    n_planes = axes.shape[0]
    coords = coordinates.unsqueeze(1).expand(-1, n_planes, -1, -1).reshape(n * n_planes, m, 3)
    inv = torch.linalg.inv(axes.to(coordinates.device, torch.float32)).unsqueeze(0).expand(n, -1, -1, -1)
    return torch.bmm(coords, inv.reshape(n * n_planes, 3, 3))[..., :2]


def sample_from_planes(planes: torch.Tensor, coordinates: torch.Tensor, box_warp: float) -> torch.Tensor:
    """planes (N, 3, C, H, W), world points (N, M, 3) -> features (N, 3, M, C).
    Points are scaled by 2 / box_warp to [-1, 1]; bilinear, zero padding, align_corners=False."""
    n, n_planes, c, h, w = planes.shape
    m = coordinates.shape[1]
    flat = planes.reshape(n * n_planes, c, h, w)
    grid = project_onto_planes(plane_axes(), (2.0 / box_warp) * coordinates).unsqueeze(1)
    out = F.grid_sample(flat, grid.to(flat.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.permute(0, 3, 2, 1).reshape(n, n_planes, m, c)
