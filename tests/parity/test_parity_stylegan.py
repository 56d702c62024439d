"""Parity: s3d_engine's FIR resampling, layers, synthesis blocks and super-resolution against the
naive float64 reference (tests/parity/reference_stylegan.py), at the paper configuration's
channel sizes where that is cheap (small spatial inputs).
All weights, including biases, noise strengths and w_avg, are randomised so that every tensor's
role is exercised."""
from __future__ import annotations

import math

import pytest
import torch

from s3d_engine.nn import ops
from s3d_engine.nn.layers import Conv2dLayer, FullyConnectedLayer
from s3d_engine.nn.synthesis import SynthesisBlock, SynthesisLayer, ToRGBLayer
from tests.parity import reference_stylegan as ref
from tests.parity.helpers import PAPER, assert_close, rand, randomize, sd_of


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
    (2, 1, (5, 4, -3, 0), 4.0),     # the transposed-conv path: more padding than the filter adds
    (3, 1, (2, 2, 1, 3), 9.0),      # and another factor
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
