"""Parity: s3d_engine's mask encoder and mapping network against the naive float64 reference
(tests/parity/reference_mapping.py), at the paper configuration's sizes with small masks.
All weights, including biases, noise strengths and w_avg, are randomised so that every tensor's
role is exercised."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s3d_engine import cameras
from s3d_engine.models.mapping import DiscriminatorBlock, MaskMappingNetwork
from s3d_engine.nn.layers import EqualConv2d
from tests.parity import reference_mapping as ref
from tests.parity.helpers import assert_close, rand, randomize, sd_of
from tests.parity.reference_stylegan import correlate, f64


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
    w = f64(sd["e.projector.weight"])
    assert_close(got_proj, correlate(ref_b8, w / math.sqrt(512 * 16)), 1e-4, "projector")


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
