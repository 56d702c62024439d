"""pix2pix3D super-resolution (EG3D `SuperresolutionHybrid*`): StyleGAN2 synthesis blocks on the
neural rendering, driven only by the last w (the appearance w), repeated for each layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.synthesis import SynthesisBlock


class SuperResolution(nn.Module):
    """`channels[i]` output channels for block i; each block doubles the resolution, except that a
    block at the input resolution (pix2pix3D's 'NoUp' variant) keeps it."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, input_resolution: int,
                 channels: tuple[int, ...], conv_clamp: float | None = 256.0, antialias: bool = True) -> None:
        super().__init__()
        self.input_resolution, self.antialias = input_resolution, antialias
        self.num_blocks = len(channels)
        res, prev = input_resolution, in_channels
        for i, ch in enumerate(channels):
            res *= 2
            block = SynthesisBlock(prev, ch, w_dim, res, img_channels, is_last=(i == len(channels) - 1),
                                   conv_clamp=conv_clamp, up=2)
            setattr(self, f"block{i}", block)
            prev = ch
        self.output_resolution = res

    def forward(self, rgb: torch.Tensor, x: torch.Tensor, ws: torch.Tensor, noise_mode: str = "none") -> torch.Tensor:
        ws = ws[:, -1:, :].repeat(1, 3, 1)
        if x.shape[-1] != self.input_resolution:
            size = (self.input_resolution, self.input_resolution)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=self.antialias)
            rgb = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False, antialias=self.antialias)
        for i in range(self.num_blocks):
            x, rgb = getattr(self, f"block{i}")(x, rgb, ws, noise_mode=noise_mode)
        return rgb
