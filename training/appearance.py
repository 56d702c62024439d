"""A cVAE appearance encoder for training: it makes the seed pick a plausible appearance.

Regressing colour with z ~ N(0, I) that carries no information about the target teaches the
generator one blurry average (the L1 optimum is the median colour over all heads). A conditional
VAE (Sohn et al. 2015) fixes that: during training, z is drawn from a posterior
q(z | image) = N(mu, diag(exp(logvar))) predicted from the input view's RGB, so z *explains* the
skin, hair and cloth colours; the KL term

    KL(q || N(0, I)) = 0.5 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)

keeps q close to the prior, so at inference a seed's z ~ N(0, I) lands where training put real
appearances. The encoder is used only in training and is not shipped: the generator's mapping
(z, c) -> 7 appearance ws keeps pix2pix3D's layout exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AppearanceEncoder(nn.Module):
    """RGB (B, 3, R, R) in [-1, 1] -> (mu, logvar), each (B, z_dim). Four stride-2 convs on a
    64^2 copy, global average pool, one linear layer."""

    def __init__(self, z_dim: int, width: int = 32, resolution: int = 64) -> None:
        super().__init__()
        self.resolution = resolution
        chans = [3, width, width * 2, width * 4, width * 4]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 4, stride=2, padding=1) for a, b in zip(chans[:-1], chans[1:]))
        self.head = nn.Linear(chans[-1], 2 * z_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # starts at the prior: mu = 0, logvar = 0

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(rgb, size=(self.resolution, self.resolution), mode="area") if rgb.shape[-1] != self.resolution else rgb
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        mu, logvar = self.head(x.mean((2, 3))).chunk(2, dim=1)
        return mu, logvar.clamp(-8.0, 4.0)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over z and averaged over the batch."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum(1).mean()
