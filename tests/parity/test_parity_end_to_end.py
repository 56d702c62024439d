"""Parity end to end: the whole generator (mapping, synthesis, tri-plane decoding, rendering with
fixed and importance-sampled depths, super-resolution) against the chained naive float64
reference, at the `tiny` configuration, which has the same architecture as `paper` with fewer
channels. All weights, including biases, noise strengths and w_avg, are randomised so that every
tensor's role is exercised."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from s3d_engine import cameras
from s3d_engine.config import get_config
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.rendering import ray_sampler
from s3d_engine.rendering.renderer import render_with_depths
from tests.parity import reference_mapping as ref_mapping
from tests.parity import reference_rendering as ref_rendering
from tests.parity import reference_stylegan as ref_stylegan
from tests.parity.helpers import assert_close, randomize


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = get_config("tiny", "face")
    gen = randomize(TriPlaneGenerator(cfg), 42)
    g = torch.Generator().manual_seed(43)
    res = cfg.generator.mask_resolution
    inputs = {
        "mask": torch.randint(0, cfg.num_classes, (2, res, res), generator=g),
        "z": torch.randn(2, cfg.generator.z_dim, generator=g),
        "c": torch.from_numpy(np.stack([cameras.domain_camera("face", 0.2, 0.1), cameras.domain_camera("face", -0.3)])),
    }
    sd = gen.state_dict()
    with torch.no_grad():
        ws = gen.mapping(inputs["z"], inputs["c"], mask=inputs["mask"])
        planes = gen.planes(ws)
    r_ws = ref_mapping.mapping(sd, "backbone.mapping", inputs["z"], inputs["c"], inputs["mask"], cfg.num_classes,
                               gen.num_ws)
    r_img = ref_stylegan.synthesis_network(sd, "backbone.synthesis", r_ws, cfg.generator.synthesis_resolution)
    r_planes = r_img.reshape(2, 3, cfg.generator.plane_channels, *r_img.shape[-2:])
    return {"cfg": cfg, "gen": gen, "sd": sd, "ws": ws, "planes": planes, "r_ws": r_ws, "r_planes": r_planes, **inputs}


def test_e2e_ws_and_planes(tiny):
    assert_close(tiny["ws"], tiny["r_ws"], 1e-4, "ws")
    assert_close(tiny["planes"], tiny["r_planes"], 1e-4, "planes")


def test_e2e_sigma_and_features_at_points(tiny):
    points = torch.rand(2, 40, 3, generator=torch.Generator().manual_seed(44)) - 0.5
    with torch.no_grad():
        got = tiny["gen"].sample_mixed(points, planes=tiny["planes"])
    box = tiny["cfg"].camera.box_warp
    features = ref_rendering.sample_from_planes(tiny["r_planes"], points, box)
    want = ref_rendering.decoder(tiny["sd"], "decoder", features)
    assert_close(got["sigma"], want["sigma"], 2e-4, "raw sigma")
    assert_close(got["rgb"], want["rgb"], 2e-4, "colour | semantic features")


def test_e2e_render_fixed_depths_and_superresolution(tiny):
    """Raw image, raw semantic logits and depth for a fixed set of depth samples; then the RGB and
    semantic super-resolution and the argmax labels."""
    cfg, gen = tiny["cfg"], tiny["gen"]
    res, k, classes = cfg.generator.neural_rendering_resolution, cfg.generator.decoder_output_dim, cfg.num_classes
    c = tiny["c"]
    s = 10
    depths = ref_rendering.stratified_depths(2, res * res, 2.25, 3.3, s, torch.rand(
        2, res * res, s, 1, generator=torch.Generator().manual_seed(45)))
    origins, dirs = ray_sampler.sample_rays(c[:, :16].reshape(-1, 4, 4).float(), c[:, 16:].reshape(-1, 3, 3).float(), res)
    with torch.no_grad():
        feature, depth, _ = render_with_depths(tiny["planes"], gen.decoder, origins, dirs, depths.float(), gen.render_options)
        image = feature.permute(0, 2, 1).reshape(2, -1, res, res)
        sr_rgb = gen.superresolution(image[:, :3], image[:, :k], tiny["ws"])
        sr_sem = gen.superresolution_semantic(image[:, k:k + classes], image[:, k:], tiny["ws"])
    r_image, r_depth, _ = ref_rendering.render_fixed_depths(tiny["sd"], tiny["r_planes"], c, depths, res,
                                                            cfg.camera.box_warp)
    assert_close(image[:, :3], r_image[:, :3], 2e-4, "image_raw")
    assert_close(image[:, k:k + classes], r_image[:, k:k + classes], 2e-4, "semantic_raw")
    assert_close(depth.permute(0, 2, 1).reshape(2, 1, res, res), r_depth, 1e-5, "depth")
    blocks = len(cfg.generator.sr_channels)
    r_rgb = ref_stylegan.super_resolution(tiny["sd"], "superresolution", r_image[:, :3], r_image[:, :k], tiny["r_ws"],
                                          blocks, cfg.generator.sr_conv_clamp)
    r_sem = ref_stylegan.super_resolution(tiny["sd"], "superresolution_semantic", r_image[:, k:k + classes],
                                          r_image[:, k:], tiny["r_ws"], blocks, cfg.generator.sr_conv_clamp)
    assert_close(sr_rgb, r_rgb, 5e-4, "super-resolved image")
    assert_close(sr_sem, r_sem, 5e-4, "super-resolved semantic logits")
    agree = (sr_sem.argmax(1) == r_sem.argmax(1)).double().mean()
    assert agree > 0.999, f"labels agree on {agree:.4f} of pixels"


def test_e2e_full_render_with_importance_sampling(tiny):
    """generator.render (stratified + importance + merge + march) against the reference chain fed
    with the same uniform draws (the engine draws the stratified jitter, then the importance u)."""
    cfg, gen = tiny["cfg"], tiny["gen"]
    res, k, classes = 8, cfg.generator.decoder_output_dim, cfg.num_classes
    opts = gen.render_options
    c = tiny["c"]
    with torch.no_grad():
        out = gen.render(tiny["planes"], tiny["ws"], c, resolution=res, generator=torch.Generator().manual_seed(46),
                         super_resolve=False)
    g = torch.Generator().manual_seed(46)
    m, s, s2 = res * res, opts.depth_resolution, opts.depth_resolution_importance
    jitter = torch.rand((2, m, s, 1), generator=g)
    coarse = ref_rendering.stratified_depths(2, m, opts.ray_start, opts.ray_end, s, jitter)
    box = cfg.camera.box_warp
    _, _, weights = ref_rendering.render_fixed_depths(tiny["sd"], tiny["r_planes"], c, coarse, res, box)
    u = torch.rand((2 * m, s2), generator=g)
    fine = ref_rendering.importance_depths(coarse, weights, u)
    merged = torch.sort(torch.cat([coarse, fine], dim=2), dim=2).values
    r_image, r_depth, _ = ref_rendering.render_fixed_depths(tiny["sd"], tiny["r_planes"], c, merged, res, box)
    assert_close(out["image_raw"], r_image[:, :3], 5e-4, "image_raw (importance sampled)")
    assert_close(out["semantic_raw"], r_image[:, k:k + classes], 5e-4, "semantic_raw (importance sampled)")
    assert_close(out["image_depth"], r_depth, 1e-4, "depth (importance sampled)")
