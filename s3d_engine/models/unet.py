"""S3D's sketch-to-mask U-Net (`UNetStyleDistil`): an encoder down to a 4x4 bottleneck whose
16 spatial positions are linearly mixed into 7 style vectors (B, style_dim, 7) — trained to
match the generator's 7 geometry ws — and mixed back to 4x4 before the decoder."""
from __future__ import annotations

import torch
from torch import nn

from ..config import GEOMETRY_WS, UNetConfig


def conv_block(in_channels: int, out_channels: int, repeat: int = 1) -> nn.Sequential:
    """conv3x3 (no bias) -> BN -> ReLU, plus `repeat` more of the same."""
    layers: list[nn.Module] = []
    for i in range(1 + repeat):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False),
                   nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class StyleBottleneck(nn.Module):
    """4x4 features -> 1x1 conv -> (B, C, 16) -> Linear(16 -> 7) = style code; then
    Linear(7 -> 16) -> (B, C, 4, 4) -> 1x1 conv. No residual, as in S3D."""

    def __init__(self, channels: int, n_styles: int = GEOMETRY_WS) -> None:
        super().__init__()
        self.pre = nn.Conv2d(channels, channels, 1)
        self.to_style = nn.Linear(16, n_styles)
        self.from_style = nn.Linear(n_styles, 16)
        self.post = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        if (h, w) != (4, 4):
            raise ValueError(f"the style bottleneck needs 4x4 features, got {h}x{w}")
        style = self.to_style(self.pre(x).reshape(b, c, 16))
        x = self.from_style(style).reshape(b, c, 4, 4)
        return self.post(x), style


class UNetStyleDistil(nn.Module):
    def __init__(self, config: UNetConfig, num_classes: int, in_channels: int = 1) -> None:
        super().__init__()
        self.config, self.num_classes = config, num_classes
        enc = list(config.channels)
        self.encoders = nn.ModuleList()
        prev = in_channels
        for ch in enc:
            self.encoders.append(conv_block(prev, ch, config.repeat))
            prev = ch
        self.pool = nn.MaxPool2d(2)
        self.bottleneck_block = conv_block(prev, config.style_dim, config.repeat)
        self.bottleneck = StyleBottleneck(config.style_dim)
        self.upconvs = nn.ModuleList()
        self.decoders = nn.ModuleList()
        prev = config.style_dim
        for ch in reversed(enc):
            self.upconvs.append(nn.ConvTranspose2d(prev, ch, 2, stride=2))
            self.decoders.append(conv_block(2 * ch, ch, config.repeat))
            prev = ch
        self.head = nn.Conv2d(prev, num_classes, 1)

    def forward(self, sketch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sketch (B, 1, R, R) in [0, 1], white paper = 1 -> logits (B, C, R, R), style (B, style_dim, 7)."""
        r = self.config.resolution
        if sketch.shape[-2:] != (r, r):
            raise ValueError(f"the U-Net expects {r}x{r} sketches, got {tuple(sketch.shape[-2:])}")
        skips = []
        x = sketch
        for block in self.encoders:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x, style = self.bottleneck(self.bottleneck_block(x))
        for up, block, skip in zip(self.upconvs, self.decoders, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x), style
