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

from dataclasses import dataclass

import numpy as np
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


# --------------------------------------------------------------------------- palette code
# The cVAE above collapsed on our data (KL 0.1-0.6 nats: the posterior carried almost no
# colour, because the procedural albedo's noise and stripes dominate what z could explain).
# The procedural heads know their appearance exactly, so the encoder need not be learned:
# each identity's base colours (median albedo of its skin, hair and cloth near the surface)
# are mapped by a fixed whitening into N(0, I) and written into the first dims of z.
#
#     x = log(c + EPS)                  (9 values: 3 parts x linear RGB; log: ratios matter)
#     code = Lambda^-1/2 U^T (x - m)    (PCA whitening: cov(x) = U Lambda U^T over identities)
#
# so code ~ N(0, I) over the training identities up to its Gaussian fit, and at inference a
# seed's z ~ N(0, I) picks x = m + U Lambda^1/2 z: base colours with the data's mean and
# *correlations* (dark hair with dark hair channels), i.e. the Gaussian prior of a cVAE whose
# posterior is a point mass at a known code. The other z dims stay N(0, I) noise.

PALETTE_PARTS = {"face": ("skin", "hair", "cloth"), "cat": ("face", "eye", "nose")}
PALETTE_EPS = 0.01


@dataclass(frozen=True)
class PaletteCode:
    """Per-identity base colours and the whitening that maps them to z's first `dim` entries."""

    parts: tuple[str, ...]
    colours: np.ndarray  # (I, P, 3) linear RGB in [0, 1], rows aligned with the field samples
    mean: np.ndarray  # (D,) mean of log(colours + EPS), D = 3P
    basis: np.ndarray  # (D, D) U Lambda^1/2: code -> centred log colour
    codes: np.ndarray  # (I, D) float32 whitened codes

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    @classmethod
    def fit(cls, sdf: np.ndarray, labels: np.ndarray, albedo: np.ndarray, part_ids: dict[str, int],
            band: float = 0.02) -> "PaletteCode":
        """Base colours from 3D samples (I, N): the median albedo (uint8, /255) of each part's
        points with |sdf| < band; a part an identity lacks (a hat over the hair) takes the
        median over the identities that have it. Then the PCA whitening of their logs."""
        parts = tuple(part_ids)
        I = sdf.shape[0]
        colours = np.full((I, len(parts), 3), np.nan, np.float64)
        near = np.abs(sdf.astype(np.float32)) < band
        for i in range(I):
            for j, name in enumerate(parts):
                sel = near[i] & (labels[i] == part_ids[name])
                if sel.any():
                    colours[i, j] = np.median(albedo[i][sel].astype(np.float64), axis=0) / 255.0
        for j in range(len(parts)):
            missing = np.isnan(colours[:, j, 0])
            if missing.all():
                raise ValueError(f"no identity has part {parts[j]!r} near its surface")
            colours[missing, j] = np.median(colours[~missing, j], axis=0)
        x = np.log(colours.reshape(I, -1) + PALETTE_EPS)
        mean = x.mean(0)
        cov = np.cov(x - mean, rowvar=False) if I > 1 else np.zeros((x.shape[1],) * 2)
        eigval, eigvec = np.linalg.eigh(cov)
        scale = np.sqrt(np.maximum(eigval, 1e-6))  # a constant channel gets a unit, harmless axis
        basis = eigvec * scale[None]
        codes = ((x - mean) @ eigvec) / scale[None]
        return cls(parts, colours.astype(np.float32), mean, basis, codes.astype(np.float32))

    def colours_of(self, code: np.ndarray) -> np.ndarray:
        """Inverse map, (..., D) -> (..., P, 3) linear RGB: what a z's first D dims ask for."""
        x = self.mean + np.asarray(code, np.float64) @ self.basis.T
        return (np.exp(x) - PALETTE_EPS).reshape(*np.shape(code)[:-1], len(self.parts), 3)

    def z(self, rows: np.ndarray, z_dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z for identities `rows`: the code in the first D dims, N(0, I) in the rest."""
        if z_dim < self.dim:
            raise ValueError(f"z has {z_dim} dims, the palette code needs {self.dim}")
        z = torch.randn(len(rows), z_dim, generator=generator)
        z[:, :self.dim] = torch.from_numpy(self.codes[np.asarray(rows)])
        return z
