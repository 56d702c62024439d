"""The cVAE appearance encoder: starts at the prior, KL and reparameterisation by their formulas."""
from __future__ import annotations

import math

import pytest
import torch

from training.appearance import AppearanceEncoder, kl_to_standard_normal, reparameterise


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
