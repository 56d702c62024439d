"""The renderer against analytic fields: a constant-density slab has a known opacity and depth."""
import math

import pytest
import torch

from s3d_engine.cameras import look_at_pose
from s3d_engine.rendering.ray_marcher import march_rays
from s3d_engine.rendering.ray_sampler import sample_rays
from s3d_engine.rendering.renderer import RenderOptions, render_rays, render_with_depths
from s3d_engine.rendering.triplane import project_onto_planes, plane_axes

DENSITY = 5.0  # sigma after softplus(raw - 1)
SLAB = (-0.1, 0.1)  # z-range of the slab, world units
COLOUR = 0.25
RES = 2048


def slab_planes() -> torch.Tensor:
    """Feature 0 = 1 inside the slab on the (x, z) and (z, x) planes; their mean is 2/3 there."""
    centres = ((torch.arange(RES) * 2 + 1) / RES - 1) * 0.5  # texel centres in world units (box 1)
    inside = ((centres >= SLAB[0]) & (centres <= SLAB[1])).float()
    planes = torch.zeros(1, 3, 1, RES, RES)
    planes[0, 1, 0] = inside[:, None]  # plane (x, z): rows follow z
    planes[0, 2, 0] = inside[None, :]  # plane (z, x): columns follow z
    return planes


class SlabDecoder(torch.nn.Module):
    output_dim = 2

    def forward(self, features, ray_directions=None):
        inside = features.mean(1)[..., :1] * 1.5
        raw_in = 1 + math.log(math.expm1(DENSITY))
        sigma = -30 + (raw_in + 30) * inside
        rgb = torch.full(features.shape[:1] + features.shape[2:3] + (4,), COLOUR)
        return {"rgb": rgb, "sigma": sigma}


def centre_ray():
    pose = torch.tensor(look_at_pose(math.pi / 2, math.pi / 2, (0, 0, 0), 2.7), dtype=torch.float32)[None]
    K = torch.tensor([[[4.2647, 0, 0.5], [0, 4.2647, 0.5], [0, 0, 1]]])
    return sample_rays(pose, K, 1)


def expected_opacity_and_depth():
    length = SLAB[1] - SLAB[0]
    t0 = 2.7 - SLAB[1]
    opacity = 1 - math.exp(-DENSITY * length)
    mean = t0 + 1 / DENSITY - length * math.exp(-DENSITY * length) / opacity
    return opacity, mean


def test_central_ray_points_down_minus_z():
    origins, dirs = centre_ray()
    assert torch.allclose(origins[0, 0], torch.tensor([0, 0, 2.7]), atol=1e-6)
    assert torch.allclose(dirs[0, 0], torch.tensor([0.0, 0.0, -1.0]), atol=1e-6)


def test_plane_projection_quirk():
    p = torch.tensor([[[0.1, 0.2, 0.3]]])
    uv = project_onto_planes(plane_axes(), p)
    assert torch.allclose(uv[:, 0], torch.tensor([[0.1, 0.2], [0.1, 0.3], [0.3, 0.1]]))


def test_constant_density_slab_gives_known_opacity_and_depth():
    origins, dirs = centre_ray()
    depths = torch.linspace(2.25, 3.3, 4001).reshape(1, 1, -1, 1)
    opts = RenderOptions(ray_start=2.25, ray_end=3.3, box_warp=1.0, depth_resolution=48, depth_resolution_importance=48)
    feature, depth, weights = render_with_depths(slab_planes(), SlabDecoder(), origins, dirs, depths, opts)
    opacity, mean_depth = expected_opacity_and_depth()
    assert weights.sum().item() == pytest.approx(opacity, abs=3e-3)
    assert depth.item() == pytest.approx(mean_depth, abs=2e-3)
    assert feature[0, 0, 0].item() == pytest.approx(COLOUR * opacity * 2 - 1, abs=3e-3)  # the x2-1 composite


def test_importance_sampling_converges_on_the_slab():
    origins, dirs = centre_ray()
    opts = RenderOptions(ray_start=2.25, ray_end=3.3, box_warp=1.0, depth_resolution=48, depth_resolution_importance=48)
    gen = torch.Generator().manual_seed(0)
    _, depth, opacity = render_rays(slab_planes(), SlabDecoder(), origins, dirs, opts, gen)
    expected, mean_depth = expected_opacity_and_depth()
    assert opacity.item() == pytest.approx(expected, abs=0.05)
    assert depth.item() == pytest.approx(mean_depth, abs=0.02)


def test_marcher_white_background_and_empty_space():
    depths = torch.linspace(2, 3, 10).reshape(1, 1, 10, 1)
    colors = torch.zeros(1, 1, 10, 3)
    dens = torch.full((1, 1, 10, 1), -50.0)
    comp, depth, w = march_rays(colors, dens, depths, white_back=True)
    assert torch.allclose(comp, torch.ones(1, 1, 3), atol=1e-5)  # nothing there: white
    assert w.sum() < 1e-6
