"""Naive float64 reference for pix2pix3D's conditional mapping: the one-hot mask encoder gives
the geometry ws, the z + c branch the appearance w (see reference_stylegan for the conventions)."""
from __future__ import annotations

import math

import torch

from tests.parity.reference_stylegan import (D, SQRT_HALF, StateDict, conv2d_layer, correlate, f64,
                                             fully_connected)


def one_hot(mask: torch.Tensor, classes: int) -> torch.Tensor:
    """(B, H, W) integer labels -> (B, C, H, W) float, channel k = (mask == k)."""
    return torch.stack([(mask == k).to(D) for k in range(classes)], dim=1)


def discriminator_block(sd: StateDict, name: str, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
    """'resnet' block: [x = fromrgb(img) (1x1, lrelu) on the first block]; skip = 1x1 down conv
    (no bias, linear) * sqrt(1/2); x = conv1(conv0(x)) (3x3 lrelu; conv1 down 2, gain sqrt(1/2));
    out = skip + x."""
    if f"{name}.fromrgb.weight" in sd:
        x = conv2d_layer(sd, f"{name}.fromrgb", img, act="lrelu")
    y = conv2d_layer(sd, f"{name}.skip", x, act="linear", down=2, gain=SQRT_HALF)
    h = conv2d_layer(sd, f"{name}.conv0", x, act="lrelu")
    h = conv2d_layer(sd, f"{name}.conv1", h, act="lrelu", down=2, gain=SQRT_HALF)
    return y + h


def label_encoder(sd: StateDict, name: str, onehot: torch.Tensor, n_latents: int = 7) -> torch.Tensor:
    """Blocks from the input resolution down to b8 (-> 4x4), then the 4x4 projector (an
    equalised conv, weight / sqrt(in * 16), no bias, no padding) -> (B, n_latents, w_dim)."""
    x = None
    res = onehot.shape[-1]
    while res >= 8:
        x = discriminator_block(sd, f"{name}.b{res}", x, f64(onehot))
        res //= 2
    w = f64(sd[f"{name}.projector.weight"])
    out = correlate(x, w / math.sqrt(w.shape[1] * w.shape[2] * w.shape[3]))
    return out.reshape(out.shape[0], n_latents, -1)


def normalize_2nd_moment(x: torch.Tensor) -> torch.Tensor:
    x = f64(x)
    return x / torch.sqrt((x * x).mean(dim=1, keepdim=True) + 1e-8)


def appearance_w(sd: StateDict, name: str, z: torch.Tensor, c: torch.Tensor, layers: int = 2,
                 lr_multiplier: float = 0.01) -> torch.Tensor:
    """[norm(z), norm(embed(c))] -> fc0 -> fc1 (lrelu, lr multiplier 0.01). embed is a plain FC."""
    x = torch.cat([normalize_2nd_moment(z), normalize_2nd_moment(fully_connected(sd, f"{name}.embed", c))], dim=1)
    for i in range(layers):
        x = fully_connected(sd, f"{name}.fc{i}", x, lr_multiplier, act="lrelu")
    return x


def mapping(sd: StateDict, name: str, z, c, mask, classes: int, num_ws: int = 14, geometry_ws: int = 7,
            truncation_psi: float = 1.0) -> torch.Tensor:
    """ws = [7 encoder ws of the one-hot mask, then the appearance w repeated num_ws - 7 times],
    truncated toward w_avg ([num_ws, w_dim]) by lerp(w_avg, ws, psi)."""
    geom = label_encoder(sd, f"{name}.embed_mask", one_hot(mask, classes), geometry_ws)
    w = appearance_w(sd, name, z, c)
    ws = torch.cat([geom] + [w[:, None]] * (num_ws - geometry_ws), dim=1)
    if truncation_psi != 1:
        w_avg = f64(sd[f"{name}.w_avg"])
        ws = w_avg + truncation_psi * (ws - w_avg)
    return ws
