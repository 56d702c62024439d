"""The cVAE appearance encoder (starts at the prior, KL and reparameterisation by their formulas)
and the palette code (base colours, whitening, inverse, z layout) on hand-made 3D samples."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from training.appearance import PALETTE_EPS, AppearanceEncoder, PaletteCode, kl_to_standard_normal, reparameterise


def test_kl_known_values():
    zero = torch.zeros(3, 4)
    assert float(kl_to_standard_normal(zero, zero)) == 0.0
    # mu = 1 in each of 4 dims: 0.5 * 4 * 1 = 2 per sample, averaged over the batch
    assert float(kl_to_standard_normal(torch.ones(3, 4), zero)) == pytest.approx(2.0)
    # one sample with logvar = log 2 in 2 dims: 0.5 * 2 * (2 - 1 - log 2); the other at the prior
    logvar = torch.tensor([[math.log(2)] * 2, [0.0, 0.0]])
    assert float(kl_to_standard_normal(torch.zeros(2, 2), logvar)) == pytest.approx(0.5 * (1 - math.log(2)))


def test_reparameterise_mean_and_spread():
    g = torch.Generator().manual_seed(0)
    mu = torch.full((20000, 1), 3.0)
    z = reparameterise(mu, torch.full((20000, 1), math.log(4.0)), g)
    assert float(z.mean()) == pytest.approx(3.0, abs=0.05)
    assert float(z.std()) == pytest.approx(2.0, abs=0.05)


def test_encoder_starts_at_the_prior_and_sees_the_image():
    enc = AppearanceEncoder(z_dim=8, width=4)
    mu, logvar = enc(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert mu.shape == (2, 8) and torch.all(mu == 0) and torch.all(logvar == 0)
    torch.nn.init.normal_(enc.head.weight)
    a, _ = enc(torch.full((1, 3, 64, 64), -1.0))
    b, _ = enc(torch.full((1, 3, 64, 64), 1.0))
    assert not torch.allclose(a, b)  # different appearances, different posteriors


def _field(colours_per_identity, n=60):
    """I identities, each: n points of part 1 and n of part 2 on the surface, plus far points."""
    I = len(colours_per_identity)
    sdf = np.zeros((I, 3 * n), np.float16)
    sdf[:, 2 * n:] = 0.3  # far from the surface: ignored whatever their colour
    labels = np.zeros((I, 3 * n), np.uint8)
    labels[:, :n], labels[:, n:2 * n], labels[:, 2 * n:] = 1, 2, 1
    albedo = np.zeros((I, 3 * n, 3), np.uint8)
    for i, (a, b) in enumerate(colours_per_identity):
        albedo[i, :n], albedo[i, n:2 * n], albedo[i, 2 * n:] = a, b, 255
        albedo[i, 0] = (0, 0, 0)  # one outlier: the median ignores it
    return sdf, labels, albedo


def test_palette_code_recovers_base_colours_and_whitens():
    rng = np.random.default_rng(0)
    cols = [(tuple(rng.integers(20, 250, 3)), tuple(rng.integers(20, 250, 3))) for _ in range(40)]
    pal = PaletteCode.fit(*_field(cols), {"skin": 1, "hair": 2})
    assert pal.parts == ("skin", "hair") and pal.dim == 6
    np.testing.assert_allclose(pal.colours[3, 0], np.asarray(cols[3][0]) / 255.0, atol=1e-6)
    np.testing.assert_allclose(pal.colours[3, 1], np.asarray(cols[3][1]) / 255.0, atol=1e-6)
    # whitened: zero mean, identity covariance over the identities
    np.testing.assert_allclose(pal.codes.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.cov(pal.codes, rowvar=False), np.eye(6), atol=1e-4)
    # the inverse map gives back each identity's colours
    np.testing.assert_allclose(pal.colours_of(pal.codes), pal.colours, atol=1e-5)
    # z = 0 is the geometric mean colour: exp(mean log(c + eps)) - eps
    expected = np.exp(np.log(pal.colours.astype(np.float64) + PALETTE_EPS).mean(0)) - PALETTE_EPS
    np.testing.assert_allclose(pal.colours_of(np.zeros(6)), expected, atol=1e-6)


def test_palette_missing_part_takes_the_median_and_z_layout():
    cols = [((100, 100, 100), (10, 20, 30)), ((200, 200, 200), (30, 40, 50)), ((150, 150, 150), (20, 30, 40))]
    sdf, labels, albedo = _field(cols)
    labels[1, 60:120] = 1  # identity 1 has no part 2 (a hat over the hair)
    pal = PaletteCode.fit(sdf, labels, albedo, {"skin": 1, "hair": 2})
    np.testing.assert_allclose(pal.colours[1, 1], np.array([15, 25, 35]) / 255.0, atol=1e-6)  # median of 2
    z = pal.z(np.array([2, 0]), 10, generator=torch.Generator().manual_seed(0))
    assert z.shape == (2, 10)
    np.testing.assert_array_equal(z[:, :6].numpy(), pal.codes[[2, 0]])
    with pytest.raises(ValueError, match="needs 6"):
        pal.z(np.array([0]), 4)
    labels[:, 60:120] = 1
    with pytest.raises(ValueError, match="no identity has part 'hair'"):
        PaletteCode.fit(sdf, labels, albedo, {"skin": 1, "hair": 2})
