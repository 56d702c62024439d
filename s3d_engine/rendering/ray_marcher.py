"""EG3D `MipRayMarcher2`: midpoint quadrature of the volume rendering integral.

    sigma_i = softplus(raw_i - 1) (at interval midpoints), alpha_i = 1 - exp(-sigma_i * delta_i)
    T_i = prod_{j<i} (1 - alpha_j + 1e-10), w_i = alpha_i * T_i
    feature = sum_i w_i * f_i, then mapped by x * 2 - 1 (semantic logits too: argmax is unaffected)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def march_rays(colors: torch.Tensor, densities: torch.Tensor, depths: torch.Tensor, clamp_mode: str = "softplus",
               white_back: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """colors (N, M, S, C), densities (N, M, S, 1), depths (N, M, S, 1) ->
    composite (N, M, C), depth (N, M, 1), weights (N, M, S-1, 1)."""
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    colors_mid = (colors[:, :, :-1] + colors[:, :, 1:]) / 2
    densities_mid = (densities[:, :, :-1] + densities[:, :, 1:]) / 2
    depths_mid = (depths[:, :, :-1] + depths[:, :, 1:]) / 2
    if clamp_mode != "softplus":
        raise ValueError(f"only clamp_mode 'softplus' is supported, got {clamp_mode!r}")
    densities_mid = F.softplus(densities_mid - 1)
    alpha = 1 - torch.exp(-densities_mid * deltas)
    alpha_shifted = torch.cat([torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10], dim=-2)
    weights = alpha * torch.cumprod(alpha_shifted, dim=-2)[:, :, :-1]
    composite = torch.sum(weights * colors_mid, dim=-2)
    weight_total = weights.sum(2)
    depth = torch.sum(weights * depths_mid, dim=-2) / weight_total
    depth = torch.nan_to_num(depth, float("inf"))
    depth = torch.clamp(depth, torch.min(depths), torch.max(depths))
    if white_back:
        composite = composite + 1 - weight_total
    return composite * 2 - 1, depth, weights
