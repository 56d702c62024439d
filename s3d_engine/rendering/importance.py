"""Depth sampling along rays: EG3D's stratified coarse samples and importance (inverse-CDF)
samples from the smoothed coarse weights."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_stratified(ray_origins: torch.Tensor, ray_start: float, ray_end: float, count: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, M, count, 1) depths: a uniform grid on [start, end] with one uniform jitter of a cell each."""
    n, m, _ = ray_origins.shape
    depths = torch.linspace(ray_start, ray_end, count, device=ray_origins.device).reshape(1, 1, count, 1).repeat(n, m, 1, 1)
    delta = (ray_end - ray_start) / (count - 1)
    jitter = torch.rand(depths.shape, device=depths.device, generator=generator)
    return depths + jitter * delta


def sample_pdf(bins: torch.Tensor, weights: torch.Tensor, count: int, generator: torch.Generator | None = None,
               eps: float = 1e-5) -> torch.Tensor:
    """Inverse-CDF sampling of `count` depths per ray from piecewise-constant `weights` on `bins`."""
    n_rays, n_bins = weights.shape
    weights = weights + eps
    pdf = weights / torch.sum(weights, -1, keepdim=True)
    cdf = torch.cumsum(pdf, -1)
    cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf], -1)
    u = torch.rand(n_rays, count, device=bins.device, generator=generator).contiguous()
    inds = torch.searchsorted(cdf, u, right=True)
    below = torch.clamp_min(inds - 1, 0)
    above = torch.clamp_max(inds, n_bins)
    inds_sampled = torch.stack([below, above], -1).view(n_rays, 2 * count)
    cdf_g = torch.gather(cdf, 1, inds_sampled).view(n_rays, count, 2)
    bins_g = torch.gather(bins, 1, inds_sampled).view(n_rays, count, 2)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom = torch.where(denom < eps, torch.ones_like(denom), denom)
    return bins_g[..., 0] + (u - cdf_g[..., 0]) / denom * (bins_g[..., 1] - bins_g[..., 0])


@torch.no_grad()
def sample_importance(depths: torch.Tensor, weights: torch.Tensor, count: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """EG3D: max-pool(2) then avg-pool(2) the marcher weights, add 0.01, sample at interval midpoints."""
    n, m, s, _ = depths.shape
    z = depths.reshape(n * m, s)
    w = weights.reshape(n * m, -1).unsqueeze(1).float()
    w = F.max_pool1d(w, 2, 1, padding=1)
    w = F.avg_pool1d(w, 2, 1).squeeze(1)
    w = w + 0.01
    z_mid = 0.5 * (z[:, :-1] + z[:, 1:])
    return sample_pdf(z_mid, w[:, 1:-1], count, generator).reshape(n, m, count, 1)


def unify_samples(depths1, colors1, densities1, depths2, colors2, densities2):
    """Merge two sample sets along each ray and sort them by depth."""
    depths = torch.cat([depths1, depths2], dim=-2)
    colors = torch.cat([colors1, colors2], dim=-2)
    densities = torch.cat([densities1, densities2], dim=-2)
    _, order = torch.sort(depths, dim=-2)
    depths = torch.gather(depths, -2, order)
    colors = torch.gather(colors, -2, order.expand(-1, -1, -1, colors.shape[-1]))
    densities = torch.gather(densities, -2, order.expand(-1, -1, -1, 1))
    return depths, colors, densities
