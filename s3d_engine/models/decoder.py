"""pix2pix3D `OSGDecoder_semantic_lateSeparate`: two small MLPs on the same mean tri-plane
feature. `net` gives colour features (sigmoid, MipNeRF clamping); `net_semantic` gives the raw
density (its output 0) and the semantic features (raw logits)."""
from __future__ import annotations

import torch
from torch import nn

from ..nn.layers import FullyConnectedLayer


def _mlp(in_features: int, hidden: int, out_features: int, lr_multiplier: float) -> nn.Sequential:
    return nn.Sequential(
        FullyConnectedLayer(in_features, hidden, lr_multiplier=lr_multiplier),
        nn.Softplus(),
        FullyConnectedLayer(hidden, out_features, lr_multiplier=lr_multiplier),
    )


class TriPlaneDecoder(nn.Module):
    def __init__(self, n_features: int = 32, hidden: int = 64, output_dim: int = 32, lr_multiplier: float = 1.0,
                 sigmoid_semantic: bool = False) -> None:
        super().__init__()
        self.output_dim, self.sigmoid_semantic = output_dim, sigmoid_semantic
        self.net = _mlp(n_features, hidden, 1 + output_dim, lr_multiplier)
        self.net_semantic = _mlp(n_features, hidden, 1 + output_dim, lr_multiplier)

    def forward(self, sampled_features: torch.Tensor, ray_directions: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """sampled_features (N, 3, M, C) -> {'rgb': (N, M, 2 * output_dim) [colour | semantic], 'sigma': (N, M, 1)}."""
        x = sampled_features.mean(1)
        n, m, c = x.shape
        x = x.reshape(n * m, c)
        colour = self.net(x).reshape(n, m, -1)
        colour = torch.sigmoid(colour[..., 1:]) * (1 + 2 * 0.001) - 0.001
        semantic = self.net_semantic(x).reshape(n, m, -1)
        sigma = semantic[..., :1]
        semantic = semantic[..., 1:]
        if self.sigmoid_semantic:
            semantic = torch.sigmoid(semantic)
        return {"rgb": torch.cat([colour, semantic], dim=-1), "sigma": sigma}

    def density(self, sampled_features: torch.Tensor) -> torch.Tensor:
        """Raw sigma only (the semantic MLP's first output), for dense mesh grids."""
        x = sampled_features.mean(1)
        fc0, act, fc1 = self.net_semantic
        h = act(fc0(x))
        w = fc1.weight[:1] * fc1.weight_gain
        b = fc1.bias[:1] * fc1.bias_gain
        return h.matmul(w.t()) + b
