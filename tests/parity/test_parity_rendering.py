"""Parity: s3d_engine's tri-plane sampling, decoder, rays, ray marching, depth sampling and cameras
against the naive float64 reference (tests/parity/reference_rendering.py), at the paper
configuration's sizes where that is cheap.
All weights, including biases, noise strengths and w_avg, are randomised so that every tensor's
role is exercised."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s3d_engine import cameras
from s3d_engine.models.decoder import TriPlaneDecoder
from s3d_engine.rendering import importance, ray_marcher, ray_sampler, triplane
from tests.parity import reference_rendering as ref
from tests.parity.helpers import PAPER, assert_close, rand, randomize, sd_of


def test_plane_projection_quirk():
    p = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    planes = ref.project(p, 2.0)  # box 2 -> unit scale
    assert torch.cat([q[0] for q in planes]).tolist() == pytest.approx([0.1, 0.2, 0.1, 0.3, 0.3, 0.1])
    got = triplane.project_onto_planes(triplane.plane_axes(), p.float()[None])
    assert_close(got.reshape(3, 2), torch.stack([q[0] for q in planes]), 1e-6, "projection")
    assert_close(triplane.plane_axes(), ref.plane_axes(), 0, "generate_planes")


@pytest.mark.parametrize("box_warp", [1.0, 1.6])
def test_sample_from_planes(box_warp):
    planes = rand(2, 3, 4, 9, 7, seed=34)
    points = (torch.rand(2, 60, 3, generator=torch.Generator().manual_seed(35)) - 0.5) * 1.3  # some outside the box
    got = triplane.sample_from_planes(planes, points, box_warp)
    assert_close(got, ref.sample_from_planes(planes, points, box_warp), 1e-5, "tri-plane features")


def test_paper_decoder():
    dec = randomize(TriPlaneDecoder(PAPER.plane_channels, PAPER.decoder_hidden, PAPER.decoder_output_dim), 36)
    feats = rand(2, 3, 50, 32, seed=37)
    with torch.no_grad():
        got = dec(feats)
        density = dec.density(feats)
    want = ref.decoder(sd_of(dec, "d."), "d", feats)
    assert got["rgb"].shape == (2, 50, 64)
    assert_close(got["rgb"], want["rgb"], 1e-5, "decoder rgb|semantic")
    assert_close(got["sigma"], want["sigma"], 1e-5, "decoder sigma")
    assert_close(density, want["sigma"], 1e-5, "decoder.density shortcut")


def test_ray_sampler():
    c = torch.from_numpy(np.stack([cameras.domain_camera("face"), cameras.domain_camera("cat", 0.3, -0.2)]))
    cam2world = c[:, :16].reshape(-1, 4, 4).float()
    k = c[:, 16:].reshape(-1, 3, 3).float().clone()
    k[1, 0, 1] = 0.05   # skew
    k[1, 0, 2], k[1, 1, 2] = 0.47, 0.52  # off-centre principal point
    origins, dirs = ray_sampler.sample_rays(cam2world, k, 6)
    r_origins, r_dirs = ref.rays(cam2world, k, 6)
    assert_close(origins, r_origins, 1e-6, "ray origins")
    assert_close(dirs, r_dirs, 1e-5, "ray directions")


@pytest.mark.parametrize("white_back", [False, True])
def test_ray_marcher(white_back):
    g = torch.Generator().manual_seed(38)
    colors = torch.rand(2, 5, 9, 6, generator=g)
    densities = torch.randn(2, 5, 9, 1, generator=g) * 3
    depths = torch.sort(2.25 + torch.rand(2, 5, 9, 1, generator=g) * 1.05, dim=2).values
    got = ray_marcher.march_rays(colors, densities, depths, white_back=white_back)
    want = ref.ray_march(colors, densities, depths, white_back)
    for a, b, what in zip(got, want, ("composite", "depth", "weights")):
        assert_close(a, b, 1e-5, what)


def test_stratified_and_importance_sampling():
    n, m, s, count = 1, 7, 12, 10
    origins = torch.zeros(n, m, 3)
    depths = importance.sample_stratified(origins, 2.25, 3.3, s, torch.Generator().manual_seed(39))
    jitter = torch.rand((n, m, s, 1), generator=torch.Generator().manual_seed(39))
    assert_close(depths, ref.stratified_depths(n, m, 2.25, 3.3, s, jitter), 1e-6, "stratified depths")
    weights = torch.rand(n, m, s - 1, 1, generator=torch.Generator().manual_seed(40))
    got = importance.sample_importance(depths, weights, count, torch.Generator().manual_seed(41))
    u = torch.rand(n * m, count, generator=torch.Generator().manual_seed(41))
    assert_close(got, ref.importance_depths(depths, weights, u), 1e-5, "importance depths")


def test_cameras():
    assert cameras.fov_to_intrinsics(18.837)[0, 0] == pytest.approx(ref.fov_to_focal(18.837), rel=1e-12)
    assert ref.fov_to_focal(18.837) == pytest.approx(4.2647, abs=2e-3)  # FFHQ labels: 4.2647
    for yaw, pitch, pivot, radius in [(math.pi / 2, math.pi / 2, (0, 0, 0.2), 2.7),
                                      (math.pi / 2 + 0.35, math.pi / 2 - 0.25, (0, 0, -0.06), 2.7),
                                      (1.0, 0.3, (0.1, -0.2, 0.0), 1.7)]:
        got = torch.from_numpy(cameras.look_at_pose(yaw, pitch, pivot, radius))
        assert_close(got, ref.look_at(yaw, pitch, pivot, radius), 1e-9, "LookAtPoseSampler")
    frontal = ref.look_at(math.pi / 2, math.pi / 2, (0, 0, 0.2), 2.7)
    assert frontal[:3, 3].tolist() == pytest.approx([0, 0, 2.7], abs=1e-9)
    assert frontal[:3, 1].tolist() == pytest.approx([0, -1, 0], abs=1e-9)  # OpenCV: camera y points down
    label = torch.from_numpy(cameras.domain_camera("face")).double()
    assert_close(label, ref.camera_label(frontal, 4.2647), 1e-6, "25-float camera label")
