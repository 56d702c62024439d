"""The training-time volume rendering: EG3D's stratified samples and midpoint quadrature, as in
`s3d_engine.rendering`, but with a depth estimate whose gradient stays finite on empty rays.

The engine's marcher divides by the total weight and replaces the 0/0 of a ray that misses
everything with nan_to_num; that is fine for inference, but the backward pass of the division
is then 0 * inf = NaN, which poisons every parameter (it appears as soon as training empties
the background to exactly zero density). Here the division uses a clamped denominator."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from s3d_engine.rendering.importance import sample_stratified
from s3d_engine.rendering.renderer import RenderOptions, query_field


def march_safe(colors: torch.Tensor, densities: torch.Tensor, depths: torch.Tensor):
    """Same quadrature as `s3d_engine.rendering.ray_marcher.march_rays` (softplus(raw - 1),
    midpoints, composite * 2 - 1), with depth = sum(w z) / max(sum(w), 1e-6)."""
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    colors_mid = (colors[:, :, :-1] + colors[:, :, 1:]) / 2
    densities_mid = F.softplus((densities[:, :, :-1] + densities[:, :, 1:]) / 2 - 1)
    depths_mid = (depths[:, :, :-1] + depths[:, :, 1:]) / 2
    alpha = 1 - torch.exp(-densities_mid * deltas)
    shifted = torch.cat([torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10], dim=-2)
    weights = alpha * torch.cumprod(shifted, dim=-2)[:, :, :-1]
    composite = torch.sum(weights * colors_mid, dim=-2)
    total = weights.sum(2)
    depth = torch.sum(weights * depths_mid, dim=-2) / total.clamp_min(1e-6)
    return composite * 2 - 1, depth, total


def render_stratified(planes: torch.Tensor, decoder, origins: torch.Tensor, directions: torch.Tensor,
                      options: RenderOptions, generator: torch.Generator | None = None):
    """origins/directions (N, M, 3) -> features (N, M, F), depth (N, M, 1), opacity (N, M, 1)."""
    depths = sample_stratified(origins, options.ray_start, options.ray_end, options.depth_resolution, generator)
    n, m, s, _ = depths.shape
    points = (origins.unsqueeze(-2) + depths * directions.unsqueeze(-2)).reshape(n, -1, 3)
    out = query_field(planes, decoder, points, options.box_warp)
    colors = out["rgb"].reshape(n, m, s, -1)
    densities = out["sigma"].reshape(n, m, s, 1)
    return march_safe(colors, densities, depths)
