"""pix2pix3D's conditional mapping: label map -> 7 geometry ws (a ResNet-style encoder) and
z + camera -> appearance w (repeated for the remaining ws). S3D's style-alignment target is
exactly the encoder's output, `embed_mask(one_hot)`."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn.layers import Conv2dLayer, EqualConv2d, FullyConnectedLayer
from ..nn.ops import normalize_2nd_moment, setup_filter


class DiscriminatorBlock(nn.Module):
    """StyleGAN2 'resnet' discriminator block: [fromrgb], conv0, down-conv1, plus a 1x1 down skip,
    summed with sqrt(1/2) gains."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.register_buffer("resample_filter", setup_filter())
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.fromrgb(img)
        y = self.skip(x, gain=np.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=np.sqrt(0.5))
        return y + x


class LabelMapEncoder(nn.Module):
    """pix2pix3D `Encoder` (W+ mode): blocks from the mask resolution down to 8 (-> 4x4), then a
    4x4 projector to n_latents * w_dim, reshaped to (B, n_latents, w_dim)."""

    def __init__(self, img_resolution: int, img_channels: int, w_dim: int, n_latents: int,
                 channel_base: int = 32768, channel_max: int = 512) -> None:
        super().__init__()
        log2 = int(np.log2(img_resolution))
        if 2 ** log2 != img_resolution or img_resolution < 8:
            raise ValueError(f"mask resolution must be a power of two >= 8, got {img_resolution}")
        self.img_resolution, self.img_channels, self.w_dim, self.n_latents = img_resolution, img_channels, w_dim, n_latents
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions + [4]}
        for res in self.block_resolutions:
            in_ch = channels[res] if res < img_resolution else 0
            setattr(self, f"b{res}", DiscriminatorBlock(in_ch, channels[res], channels[res // 2], img_channels))
        self.projector = EqualConv2d(channels[4], w_dim * n_latents, 4, padding=0, bias=False)
        self.register_buffer("alpha", torch.tensor(-1.0))  # unused upstream; kept for checkpoint layout

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, onehot)
        out = self.projector(x)[:, :, 0, 0]
        return out.reshape(out.shape[0], self.n_latents, self.w_dim)


class MaskMappingNetwork(nn.Module):
    """`MaskMappingNetwork_disentangle`: ws = [7 encoder ws, then the z+c mapping w repeated]."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_classes: int, mask_resolution: int,
                 geometry_ws: int = 7, num_layers: int = 2, lr_multiplier: float = 0.01,
                 encoder_channel_base: int = 32768, encoder_channel_max: int = 512, w_avg_beta: float = 0.995) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_classes, self.geometry_ws, self.num_layers, self.w_avg_beta = num_classes, geometry_ws, num_layers, w_avg_beta
        self.mask_resolution = mask_resolution
        self.embed_mask = LabelMapEncoder(mask_resolution, num_classes, w_dim, geometry_ws,
                                          encoder_channel_base, encoder_channel_max)
        self.embed = FullyConnectedLayer(c_dim, w_dim)
        features = [z_dim + w_dim] + [w_dim] * num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation="lrelu",
                                                        lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(num_ws, w_dim))

    def onehot(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, H, W) or (B, 1, H, W) integer labels -> (B, C, R, R) float one-hot at mask resolution."""
        if mask.ndim == 4:
            mask = mask[:, 0]
        mask = mask.long()
        if mask.min() < 0 or mask.max() >= self.num_classes:
            raise ValueError(f"mask values must lie in 0..{self.num_classes - 1}")
        onehot = F.one_hot(mask, self.num_classes).permute(0, 3, 1, 2).float()
        if onehot.shape[-1] != self.mask_resolution:
            onehot = F.interpolate(onehot, size=(self.mask_resolution, self.mask_resolution), mode="nearest")
        return onehot

    def geometry(self, mask: torch.Tensor) -> torch.Tensor:
        """The 7 geometry ws for a label map: S3D's style-alignment target."""
        return self.embed_mask(self.onehot(mask))

    def appearance(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32))
        y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
        x = torch.cat([x, y], dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x

    def forward(self, z: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None = None,
                geometry_ws: torch.Tensor | None = None, truncation_psi: float = 1.0,
                update_emas: bool = False) -> torch.Tensor:
        if geometry_ws is None:
            if mask is None:
                raise ValueError("mapping needs a label map or precomputed geometry ws")
            geometry_ws = self.geometry(mask)
        w = self.appearance(z, c)
        ws = torch.cat([geometry_ws, w.unsqueeze(1).repeat(1, self.num_ws - self.geometry_ws, 1)], dim=1)
        if update_emas:
            self.w_avg.copy_(ws.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if truncation_psi != 1:
            ws = self.w_avg.lerp(ws, truncation_psi)
        return ws
