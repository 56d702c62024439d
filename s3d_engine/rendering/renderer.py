"""EG3D `ImportanceRenderer`: coarse stratified pass, importance pass from the coarse weights,
merge, and one final march. Rays are processed in chunks to bound memory on the CPU."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .importance import sample_importance, sample_stratified, unify_samples
from .ray_marcher import march_rays
from .triplane import sample_from_planes


@dataclass(frozen=True)
class RenderOptions:
    ray_start: float
    ray_end: float
    box_warp: float
    depth_resolution: int
    depth_resolution_importance: int
    clamp_mode: str = "softplus"
    white_back: bool = False
    chunk_rays: int = 1024


def query_field(planes: torch.Tensor, decoder, points: torch.Tensor, box_warp: float) -> dict[str, torch.Tensor]:
    """Decoder outputs at world points (N, M, 3): {'rgb': (N, M, F), 'sigma': (N, M, 1)} (raw sigma)."""
    return decoder(sample_from_planes(planes, points, box_warp))


def _run(planes, decoder, origins, directions, depths, box_warp):
    n, m, s, _ = depths.shape
    points = (origins.unsqueeze(-2) + depths * directions.unsqueeze(-2)).reshape(n, -1, 3)
    out = query_field(planes, decoder, points, box_warp)
    return out["rgb"].reshape(n, m, s, -1), out["sigma"].reshape(n, m, s, 1)


def render_with_depths(planes, decoder, origins, directions, depths, options: RenderOptions):
    """Composite given depth samples (N, M, S, 1) without importance sampling (for parity tests)."""
    colors, densities = _run(planes, decoder, origins, directions, depths, options.box_warp)
    return march_rays(colors, densities, depths, options.clamp_mode, options.white_back)


def _render_chunk(planes, decoder, origins, directions, options: RenderOptions, generator):
    depths = sample_stratified(origins, options.ray_start, options.ray_end, options.depth_resolution, generator)
    colors, densities = _run(planes, decoder, origins, directions, depths, options.box_warp)
    if options.depth_resolution_importance > 0:
        _, _, weights = march_rays(colors, densities, depths, options.clamp_mode, options.white_back)
        fine = sample_importance(depths, weights, options.depth_resolution_importance, generator)
        colors_f, densities_f = _run(planes, decoder, origins, directions, fine, options.box_warp)
        depths, colors, densities = unify_samples(depths, colors, densities, fine, colors_f, densities_f)
    feature, depth, weights = march_rays(colors, densities, depths, options.clamp_mode, options.white_back)
    return feature, depth, weights.sum(2)


def render_rays(planes: torch.Tensor, decoder, origins: torch.Tensor, directions: torch.Tensor,
                options: RenderOptions, generator: torch.Generator | None = None):
    """origins/directions (N, M, 3) -> features (N, M, F), depth (N, M, 1), opacity (N, M, 1)."""
    m = origins.shape[1]
    step = max(1, options.chunk_rays)
    parts = [_render_chunk(planes, decoder, origins[:, i:i + step], directions[:, i:i + step], options, generator)
             for i in range(0, m, step)]
    return tuple(torch.cat(p, dim=1) for p in zip(*parts))
