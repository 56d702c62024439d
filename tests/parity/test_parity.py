"""Parity: s3d_engine against naive float64 reference implementations of pix2pix3D's conventions
(tests/parity/reference_ops.py). Modules are compared one by one at the paper configuration's
channel sizes where that is cheap (small spatial inputs), and end to end at the `tiny`
configuration, which has the same architecture with fewer channels. All weights, including
biases, noise strengths and w_avg, are randomised so that every tensor's role is exercised."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s3d_engine import cameras
from s3d_engine.config import get_config
from s3d_engine.models.decoder import TriPlaneDecoder
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.mapping import DiscriminatorBlock, MaskMappingNetwork
from s3d_engine.nn import ops
from s3d_engine.nn.layers import Conv2dLayer, EqualConv2d, FullyConnectedLayer
from s3d_engine.nn.synthesis import SynthesisBlock, SynthesisLayer, ToRGBLayer
from s3d_engine.rendering import importance, ray_marcher, ray_sampler, triplane
from s3d_engine.rendering.renderer import render_with_depths
from tests.parity import reference_ops as ref

PAPER = get_config("paper", "face").generator


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values for every tensor except the fixed FIR filters, at the scale of the init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            noise = torch.randn(t.shape, generator=g)
            if leaf == "resample_filter" or leaf == "alpha":
                continue
            if leaf == "noise_strength":
                t.copy_(0.3 + 0.1 * noise)
            elif name.endswith("affine.bias"):
                t.copy_(1 + 0.2 * noise)
            elif leaf == "bias":
                t.copy_(0.1 * noise)
            elif leaf == "w_avg":
                t.copy_(0.3 * noise)
            elif leaf in ("noise_const", "const") or t.numel() == 1:
                t.copy_(noise)
            else:
                t.copy_(noise * t.std())
    return module.eval()


def sd_of(module: torch.nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v for k, v in module.state_dict().items()}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, tol: float = 1e-4, what: str = "") -> None:
    actual = actual.detach().to(torch.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    scale = max(float(expected.abs().max()), 1e-3)
    err = float((actual - expected).abs().max())
    assert err <= tol * scale, f"{what}: max |error| {err:.3g} > {tol} x {scale:.3g}"


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------------------------
# FIR resampling
# ----------------------------------------------------------------------------------------------


def test_fir_filter():
    assert_close(ops.setup_filter(), ref.fir_filter(), 1e-7, "setup_filter([1,3,3,1])")
    # the [4, 4] resample_filter buffers of the paper layout hold exactly that filter
    block = SynthesisBlock(0, 8, 8, 4, 3, is_last=False)
    assert_close(block.resample_filter, ref.fir_filter(), 1e-7, "resample_filter buffer")


@pytest.mark.parametrize("up,down,pad,gain", [
    (2, 1, (2, 1, 2, 1), 4.0),      # upsample2d
    (1, 2, (1, 1, 1, 1), 1.0),      # downsample2d
    (1, 1, (3, 2, 3, 2), 1.0),      # plain FIR with padding
    (2, 1, (-1, 0, 1, -2), 4.0),    # negative padding crops
])
def test_upfirdn2d(up, down, pad, gain):
    x = rand(2, 3, 7, 6, seed=1)
    f = torch.rand(4, 4, generator=torch.Generator().manual_seed(2))  # asymmetric: pins the flip convention
    assert_close(ops.upfirdn2d(x, f, up=up, down=down, padding=pad, gain=gain),
                 ref.upfirdn2d(x, f, up, down, pad, gain), 1e-5, "upfirdn2d")


def test_upsample_downsample_helpers():
    x = rand(1, 2, 8, 8, seed=3)
    f = ops.setup_filter()
    assert_close(ops.upsample2d(x, f), ref.upsample2d(x, f), 1e-5, "upsample2d")
    assert_close(ops.downsample2d(x, f), ref.upfirdn2d(x, f, down=2, pad=(1, 1, 1, 1)), 1e-5, "downsample2d")


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("act,lr", [("linear", 1.0), ("lrelu", 0.01), ("lrelu", 1.0)])
def test_fully_connected(act, lr):
    layer = randomize(FullyConnectedLayer(24, 16, activation=act, lr_multiplier=lr), 4)
    x = rand(5, 24, seed=5)
    assert_close(layer(x), ref.fully_connected(sd_of(layer, "l."), "l", x, lr, act), 1e-5, "fc")
    x3 = rand(2, 7, 24, seed=6)
    assert_close(layer(x3), ref.fully_connected(sd_of(layer, "l."), "l", x3, lr, act), 1e-5, "fc on (N, M, C)")


@pytest.mark.parametrize("kernel,act,up,down,bias,gain,clamp", [
    (3, "lrelu", 1, 1, True, 1.0, None),
    (3, "lrelu", 1, 2, True, math.sqrt(0.5), None),   # discriminator conv1
    (1, "linear", 1, 2, False, math.sqrt(0.5), None),  # resnet skip
    (1, "lrelu", 1, 1, True, 1.0, None),              # fromrgb
    (3, "lrelu", 2, 1, True, 1.0, None),              # up-conv (true convolution)
    (3, "lrelu", 1, 1, True, 1.0, 0.3),               # clamp
])
def test_conv2d_layer(kernel, act, up, down, bias, gain, clamp):
    layer = randomize(Conv2dLayer(5, 6, kernel, bias=bias, activation=act, up=up, down=down, conv_clamp=clamp), 7)
    x = rand(2, 5, 8, 8, seed=8)
    expected = ref.conv2d_layer(sd_of(layer, "c."), "c", x, act, up, down, gain, clamp)
    assert_close(layer(x, gain=gain), expected, 1e-5, "conv2d_layer")


@pytest.mark.parametrize("up,noise_mode,clamp", [(1, "const", None), (2, "const", None), (2, "none", 256.0),
                                                 (1, "const", 0.5)])
def test_synthesis_layer(up, noise_mode, clamp):
    res = 8
    layer = randomize(SynthesisLayer(6, 5, 12, res, up=up, conv_clamp=clamp), 9)
    x = rand(2, 6, res // up, res // up, seed=10)
    w = rand(2, 12, seed=11)
    expected = ref.synthesis_layer(sd_of(layer, "s."), "s", x, w, up, noise_mode, clamp)
    assert_close(layer(x, w, noise_mode=noise_mode), expected, 1e-5, "synthesis layer")


def test_modulated_conv_demodulation_and_noise():
    weight, styles = rand(4, 3, 3, 3, seed=12), rand(2, 3, seed=13)
    x, noise = rand(2, 3, 6, 6, seed=14), rand(6, 6, seed=15)
    for demod in (True, False):
        got = ops.modulated_conv2d(x, weight, styles, noise=noise if demod else None, padding=1, demodulate=demod)
        want = ref.modulated_conv(x, weight, styles, demod, noise if demod else None, padding=1)
        assert_close(got, want, 1e-5, f"modulated conv demodulate={demod}")


def test_to_rgb():
    layer = randomize(ToRGBLayer(6, 4, 12, conv_clamp=256.0), 16)
    x, w = rand(2, 6, 5, 5, seed=17), rand(2, 12, seed=18)
    assert_close(layer(x, w), ref.to_rgb(sd_of(layer, "t."), "t", x, w, 256.0), 1e-5, "torgb")


def test_paper_synthesis_blocks_b4_b8():
    """b4 (const, conv1, torgb) and b8 (up-conv0, conv1, torgb, upsampled skip image) at the
    paper's 512 channels and 96 tri-plane channels."""
    b4 = randomize(SynthesisBlock(0, 512, 512, 4, 96, is_last=False), 19)
    b8 = randomize(SynthesisBlock(512, 512, 512, 8, 96, is_last=False), 20)
    ws = rand(2, 4, 512, seed=21)
    with torch.no_grad():
        x, img = b4(None, None, ws[:, 0:2])
        x, img = b8(x, img, ws[:, 1:4])
    sd = {**sd_of(b4, "b4."), **sd_of(b8, "b8.")}
    rx, rimg = ref.synthesis_block(sd, "b4", None, None, [ws[:, 0], ws[:, 1]])
    rx, rimg = ref.synthesis_block(sd, "b8", rx, rimg, [ws[:, 1], ws[:, 2], ws[:, 3]])
    assert_close(x, rx, 1e-4, "b8 features")
    assert_close(img, rimg, 1e-4, "b8 tri-plane image")


def test_paper_superresolution_blocks_small_input():
    """The paper SR blocks (32 -> 256 -> 128 channels, conv clamp 256, noise 'none', one w)
    on an 8x8 input instead of 128x128 (the layers do not depend on the input size)."""
    gen_cfg = PAPER
    from s3d_engine.models.superresolution import SuperResolution

    sr = randomize(SuperResolution(32, 19, 512, 8, gen_cfg.sr_channels, gen_cfg.sr_conv_clamp, True), 22)
    rgb, x, ws = rand(1, 19, 8, 8, seed=23), rand(1, 32, 8, 8, seed=24), rand(1, 14, 512, seed=25)
    with torch.no_grad():
        got = sr(rgb, x, ws)
    want = ref.super_resolution(sd_of(sr, "sr."), "sr", rgb, x, ws, 2, gen_cfg.sr_conv_clamp)
    assert got.shape == (1, 19, 32, 32)
    assert_close(got, want, 1e-4, "super-resolution")


# ----------------------------------------------------------------------------------------------
# Mapping
# ----------------------------------------------------------------------------------------------


def test_paper_encoder_blocks_and_projector():
    """b512 (fromrgb 19 -> 64, conv0, down conv1 -> 128, skip) on a 16x16 one-hot, b8 (512) and
    the 4x4 projector to 7 x 512, at paper sizes."""
    first = randomize(DiscriminatorBlock(0, 64, 128, 19), 26)
    b8 = randomize(DiscriminatorBlock(512, 512, 512, 19), 27)
    proj = randomize(EqualConv2d(512, 7 * 512, 4, padding=0, bias=False), 28)
    mask = torch.randint(0, 19, (2, 16, 16), generator=torch.Generator().manual_seed(29))
    onehot = ref.one_hot(mask, 19).float()
    x8 = rand(2, 512, 8, 8, seed=30)
    with torch.no_grad():
        got_first = first(None, onehot)
        got_b8 = b8(x8, onehot)
        got_proj = proj(got_b8)
    sd = {**sd_of(first, "e.b512."), **sd_of(b8, "e.b8."), **sd_of(proj, "e.projector.")}
    assert_close(got_first, ref.discriminator_block(sd, "e.b512", None, onehot), 1e-4, "encoder first block")
    ref_b8 = ref.discriminator_block(sd, "e.b8", x8, onehot)
    assert_close(got_b8, ref_b8, 1e-4, "encoder b8")
    w = ref.f64(sd["e.projector.weight"])
    assert_close(got_proj, ref.correlate(ref_b8, w / math.sqrt(512 * 16)), 1e-4, "projector")


@pytest.mark.parametrize("psi", [1.0, 0.7])
def test_mapping_paper_dims(psi):
    """z + c branch at paper sizes (embed 25 -> 512, fc0 1024 -> 512, fc1, lr 0.01), geometry ws
    from a small encoder, 7 + 7 ws, truncation toward w_avg [14, 512]."""
    net = randomize(MaskMappingNetwork(512, 25, 512, 14, 19, mask_resolution=16, encoder_channel_base=128,
                                       encoder_channel_max=16), 31)
    z = rand(3, 512, seed=32)
    c = torch.from_numpy(np.stack([cameras.domain_camera("face", 0.1 * i) for i in range(3)]))
    mask = torch.randint(0, 19, (3, 16, 16), generator=torch.Generator().manual_seed(33))
    with torch.no_grad():
        ws = net(z, c, mask=mask, truncation_psi=psi)
        geom = net.geometry(mask)
    sd = sd_of(net, "m.")
    assert_close(geom, ref.label_encoder(sd, "m.embed_mask", ref.one_hot(mask, 19)), 1e-4, "geometry ws")
    assert_close(ws, ref.mapping(sd, "m", z, c, mask, 19, 14, 7, psi), 1e-4, "ws")
    if psi == 1.0:
        assert torch.equal(ws[:, 7], ws[:, 13])  # appearance w repeated


# ----------------------------------------------------------------------------------------------
# Tri-plane, decoder, rays, marching, cameras
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# End to end (tiny configuration: same architecture, fewer channels)
# ----------------------------------------------------------------------------------------------


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
    r_ws = ref.mapping(sd, "backbone.mapping", inputs["z"], inputs["c"], inputs["mask"], cfg.num_classes, gen.num_ws)
    r_img = ref.synthesis_network(sd, "backbone.synthesis", r_ws, cfg.generator.synthesis_resolution)
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
    want = ref.decoder(tiny["sd"], "decoder", ref.sample_from_planes(tiny["r_planes"], points, box))
    assert_close(got["sigma"], want["sigma"], 2e-4, "raw sigma")
    assert_close(got["rgb"], want["rgb"], 2e-4, "colour | semantic features")


def test_e2e_render_fixed_depths_and_superresolution(tiny):
    """Raw image, raw semantic logits and depth for a fixed set of depth samples; then the RGB and
    semantic super-resolution and the argmax labels."""
    cfg, gen = tiny["cfg"], tiny["gen"]
    res, k, classes = cfg.generator.neural_rendering_resolution, cfg.generator.decoder_output_dim, cfg.num_classes
    c = tiny["c"]
    s = 10
    depths = ref.stratified_depths(2, res * res, 2.25, 3.3, s, torch.rand(2, res * res, s, 1,
                                                                        generator=torch.Generator().manual_seed(45)))
    origins, dirs = ray_sampler.sample_rays(c[:, :16].reshape(-1, 4, 4).float(), c[:, 16:].reshape(-1, 3, 3).float(), res)
    with torch.no_grad():
        feature, depth, _ = render_with_depths(tiny["planes"], gen.decoder, origins, dirs, depths.float(), gen.render_options)
        image = feature.permute(0, 2, 1).reshape(2, -1, res, res)
        sr_rgb = gen.superresolution(image[:, :3], image[:, :k], tiny["ws"])
        sr_sem = gen.superresolution_semantic(image[:, k:k + classes], image[:, k:], tiny["ws"])
    r_image, r_depth, _ = ref.render_fixed_depths(tiny["sd"], tiny["r_planes"], c, depths, res, cfg.camera.box_warp)
    assert_close(image[:, :3], r_image[:, :3], 2e-4, "image_raw")
    assert_close(image[:, k:k + classes], r_image[:, k:k + classes], 2e-4, "semantic_raw")
    assert_close(depth.permute(0, 2, 1).reshape(2, 1, res, res), r_depth, 1e-5, "depth")
    blocks = len(cfg.generator.sr_channels)
    r_rgb = ref.super_resolution(tiny["sd"], "superresolution", r_image[:, :3], r_image[:, :k], tiny["r_ws"], blocks,
                                 cfg.generator.sr_conv_clamp)
    r_sem = ref.super_resolution(tiny["sd"], "superresolution_semantic", r_image[:, k:k + classes], r_image[:, k:],
                                 tiny["r_ws"], blocks, cfg.generator.sr_conv_clamp)
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
    coarse = ref.stratified_depths(2, m, opts.ray_start, opts.ray_end, s, jitter)
    _, _, weights = ref.render_fixed_depths(tiny["sd"], tiny["r_planes"], c, coarse, res, cfg.camera.box_warp)
    u = torch.rand((2 * m, s2), generator=g)
    fine = ref.importance_depths(coarse, weights, u)
    merged = torch.sort(torch.cat([coarse, fine], dim=2), dim=2).values
    r_image, r_depth, _ = ref.render_fixed_depths(tiny["sd"], tiny["r_planes"], c, merged, res, cfg.camera.box_warp)
    assert_close(out["image_raw"], r_image[:, :3], 5e-4, "image_raw (importance sampled)")
    assert_close(out["semantic_raw"], r_image[:, k:k + classes], 5e-4, "semantic_raw (importance sampled)")
    assert_close(out["image_depth"], r_depth, 1e-4, "depth (importance sampled)")
