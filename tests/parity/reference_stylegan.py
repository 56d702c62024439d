"""Deliberately naive reference implementations of the conventions pix2pix3D inherits from
StyleGAN2, EG3D and its own generator, for parity tests against s3d_engine. This module holds
the shared helpers and the StyleGAN2 parts (FIR resampling, layers, synthesis, and EG3D's
super-resolution, which is built from synthesis blocks); `reference_mapping` holds pix2pix3D's
conditional mapping and `reference_rendering` EG3D's tri-plane, decoder, rays, marching and
cameras.

Written from the documented conventions (docs/PARITY.md, /work/shared/reference/s3d-pix2pix3d.md),
not from the engine: explicit loops over filter taps and samples, float64 throughout, and the
weights read by pix2pix3D's G_ema tensor names from a state dict, so every tensor is checked to
play the role it plays upstream. Speed is irrelevant here; clarity is the point.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

D = torch.float64
SQRT2 = math.sqrt(2.0)
SQRT_HALF = math.sqrt(0.5)
LRELU_SLOPE = 0.2

StateDict = Mapping[str, torch.Tensor]


def f64(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(D)
    return torch.as_tensor(x, dtype=D)  # python floats and numpy arrays without a float32 detour


# ==============================================================================================
# FIR resampling (StyleGAN2 upfirdn2d)
# ==============================================================================================


def fir_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """2-D filter = outer product of the 1-D taps, normalised to sum 1."""
    f = f64(list(taps))
    f2 = f[:, None] * f[None, :]
    return f2 / f2.sum()


def zero_insert(x: torch.Tensor, up: int) -> torch.Tensor:
    """Upsample by writing x[i, j] to (i * up, j * up) and zeros elsewhere."""
    n, c, h, w = x.shape
    out = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    out[:, :, ::up, ::up] = x
    return out


def pad_or_crop(x: torch.Tensor, x0: int, x1: int, y0: int, y1: int) -> torch.Tensor:
    """Positive amounts add zeros, negative amounts remove rows/columns, per side."""
    n, c, h, w = x.shape
    out = torch.zeros(n, c, h + max(y0, 0) + max(y1, 0), w + max(x0, 0) + max(x1, 0), dtype=x.dtype)
    out[:, :, max(y0, 0):max(y0, 0) + h, max(x0, 0):max(x0, 0) + w] = x
    return out[:, :, max(-y0, 0):out.shape[2] - max(-y1, 0), max(-x0, 0):out.shape[3] - max(-x1, 0)]


def fir_convolve(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """True 2-D convolution (the filter is flipped), valid region, one tap at a time:
    y[i, j] = sum_{a, b} f[a, b] * x[i + K - 1 - a, j + K - 1 - b]."""
    kh, kw = f.shape
    h, w = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    y = torch.zeros(x.shape[0], x.shape[1], h, w, dtype=x.dtype)
    for a in range(kh):
        for b in range(kw):
            y += f[a, b] * x[:, :, kh - 1 - a:kh - 1 - a + h, kw - 1 - b:kw - 1 - b + w]
    return y


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1, pad=(0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Zero-insert by `up`, pad (x0, x1, y0, y1), convolve with f * gain, keep every `down`-th pixel."""
    x = f64(x)
    if up > 1:
        x = zero_insert(x, up)
    x = pad_or_crop(x, *pad)
    x = fir_convolve(x, f64(f) * gain)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """x2 upsampling of the running image in 'skip' synthesis: pads (2, 1) for a 4-tap filter, gain 4."""
    k = f.shape[-1]
    p0, p1 = (k + 1) // 2, (k - 2) // 2
    return upfirdn2d(x, f, up=2, pad=(p0, p1, p0, p1), gain=4)


# ==============================================================================================
# Convolutions and layers (StyleGAN2 networks_stylegan2)
# ==============================================================================================


def correlate(x: torch.Tensor, w: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Cross-correlation over the valid region, one kernel tap at a time:
    y[n, o, i, j] = sum_{c, a, b} w[o, c, a, b] * x[n, c, i * s + a, j * s + b]."""
    x, w = f64(x), f64(w)
    out_c, _, kh, kw = w.shape
    h = (x.shape[2] - kh) // stride + 1
    wd = (x.shape[3] - kw) // stride + 1
    y = torch.zeros(x.shape[0], out_c, h, wd, dtype=D)
    for a in range(kh):
        for b in range(kw):
            patch = x[:, :, a:a + (h - 1) * stride + 1:stride, b:b + (wd - 1) * stride + 1:stride]
            y += torch.einsum("nchw,oc->nohw", patch, w[:, :, a, b])
    return y


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
                    padding: int = 0) -> torch.Tensor:
    """StyleGAN2's conv2d_resample in its generic order.

    * up: zero-insert + pad + FIR (gain up^2), then a *true convolution* with w (StyleGAN2 runs
      upsampling convs as transposed convolutions, so the kernel is effectively flipped);
    * otherwise: zero-pad, cross-correlate with w, then FIR-filter and decimate by `down`.
    Paddings: padding + (fw + up - 1) // 2 | padding + (fw - up) // 2 for up, and
    padding + (fw - down + 1) // 2 | padding + (fw - down) // 2 for down."""
    p0 = p1 = padding
    if up > 1:
        fw = f.shape[-1]
        p0 += (fw + up - 1) // 2
        p1 += (fw - up) // 2
        x = upfirdn2d(x, f, up=up, pad=(p0, p1, p0, p1), gain=up * up)
        return correlate(x, f64(w).flip([2, 3]))
    if down > 1:
        fw = f.shape[-1]
        p0 += (fw - down + 1) // 2
        p1 += (fw - down) // 2
    x = pad_or_crop(f64(x), p0, p1, p0, p1)
    x = correlate(x, w)
    if down > 1:
        x = upfirdn2d(x, f, down=down)
    return x


def bias_act(x: torch.Tensor, b: torch.Tensor | None, act: str, gain: float, clamp: float | None) -> torch.Tensor:
    """x + b (per channel, axis 1) -> activation (lrelu slope 0.2) -> * gain -> clamp to +-clamp."""
    x = f64(x)
    if b is not None:
        shape = [1] * x.ndim
        shape[1] = -1
        x = x + f64(b).reshape(shape)
    if act == "lrelu":
        x = torch.where(x >= 0, x, x * LRELU_SLOPE)
    elif act != "linear":
        raise ValueError(act)
    x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def fully_connected(sd: StateDict, name: str, x: torch.Tensor, lr_multiplier: float = 1.0, act: str = "linear") -> torch.Tensor:
    """Equalised FC: weight * lr / sqrt(fan_in), bias * lr, then bias_act (lrelu gain sqrt 2)."""
    w = f64(sd[f"{name}.weight"])
    y = f64(x) @ (w * (lr_multiplier / math.sqrt(w.shape[1]))).T
    b = f64(sd[f"{name}.bias"]) * lr_multiplier if f"{name}.bias" in sd else None
    if x.ndim != 2:  # bias on the last axis
        return bias_act(y.movedim(-1, 1), b, act, SQRT2 if act == "lrelu" else 1.0, None).movedim(1, -1)
    return bias_act(y, b, act, SQRT2 if act == "lrelu" else 1.0, None)


def conv2d_layer(sd: StateDict, name: str, x: torch.Tensor, act: str = "linear", up: int = 1, down: int = 1,
                 gain: float = 1.0, conv_clamp: float | None = None) -> torch.Tensor:
    """Equalised conv: weight / sqrt(in * k * k), padding k // 2, bias_act with act gain * gain and
    clamp conv_clamp * gain."""
    w = f64(sd[f"{name}.weight"])
    k = w.shape[-1]
    w = w / math.sqrt(w.shape[1] * k * k)
    y = conv2d_resample(x, w, sd.get(f"{name}.resample_filter"), up=up, down=down, padding=k // 2)
    act_gain = (SQRT2 if act == "lrelu" else 1.0) * gain
    clamp = conv_clamp * gain if conv_clamp is not None else None
    return bias_act(y, sd.get(f"{name}.bias"), act, act_gain, clamp)


def modulated_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                   noise: torch.Tensor | None = None, up: int = 1, padding: int = 0,
                   f: torch.Tensor | None = None) -> torch.Tensor:
    """One sample at a time: w_n = weight * styles[n] (per input channel); demodulated by
    1 / sqrt(sum over (in, kh, kw) of w_n^2 + 1e-8) per output channel; noise added after."""
    outs = []
    for n in range(x.shape[0]):
        w = f64(weight) * f64(styles[n]).reshape(1, -1, 1, 1)
        if demodulate:
            w = w / torch.sqrt((w * w).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        outs.append(conv2d_resample(x[n:n + 1], w, f, up=up, padding=padding))
    y = torch.cat(outs)
    if noise is not None:
        y = y + f64(noise)
    return y


def synthesis_layer(sd: StateDict, name: str, x: torch.Tensor, w: torch.Tensor, up: int = 1, noise_mode: str = "const",
                    conv_clamp: float | None = None, gain: float = 1.0) -> torch.Tensor:
    """styles = affine(w); 3x3 modulated conv (+up); noise = noise_const * noise_strength ('const')
    or none; bias + lrelu, gain sqrt 2, clamp."""
    styles = fully_connected(sd, f"{name}.affine", w)
    noise = None
    if noise_mode == "const":
        noise = f64(sd[f"{name}.noise_const"]) * f64(sd[f"{name}.noise_strength"])
    elif noise_mode != "none":
        raise ValueError(noise_mode)
    y = modulated_conv(x, sd[f"{name}.weight"], styles, True, noise, up=up, padding=1, f=sd[f"{name}.resample_filter"])
    clamp = conv_clamp * gain if conv_clamp is not None else None
    return bias_act(y, sd[f"{name}.bias"], "lrelu", SQRT2 * gain, clamp)


def to_rgb(sd: StateDict, name: str, x: torch.Tensor, w: torch.Tensor, conv_clamp: float | None = None) -> torch.Tensor:
    """styles = affine(w) / sqrt(in_channels); 1x1 modulated conv without demodulation; bias; clamp."""
    weight = sd[f"{name}.weight"]
    styles = fully_connected(sd, f"{name}.affine", w) / math.sqrt(weight.shape[1])
    y = modulated_conv(x, weight, styles, demodulate=False)
    return bias_act(y, sd[f"{name}.bias"], "linear", 1.0, conv_clamp)


def synthesis_block(sd: StateDict, name: str, x: torch.Tensor | None, img: torch.Tensor | None,
                    ws: Sequence[torch.Tensor], noise_mode: str = "const", conv_clamp: float | None = None):
    """'skip' block. First block: const -> conv1 (ws[0]) -> torgb (ws[1]). Others: conv0 (up 2,
    ws[0]) -> conv1 (ws[1]) -> torgb (ws[2]); the running image is upsampled x2 and summed."""
    if f"{name}.const" in sd:
        x = f64(sd[f"{name}.const"]).unsqueeze(0).repeat(ws[0].shape[0], 1, 1, 1)
        x = synthesis_layer(sd, f"{name}.conv1", x, ws[0], noise_mode=noise_mode, conv_clamp=conv_clamp)
        rgb_w = ws[1]
    else:
        x = synthesis_layer(sd, f"{name}.conv0", x, ws[0], up=2, noise_mode=noise_mode, conv_clamp=conv_clamp)
        x = synthesis_layer(sd, f"{name}.conv1", x, ws[1], noise_mode=noise_mode, conv_clamp=conv_clamp)
        rgb_w = ws[2]
    y = to_rgb(sd, f"{name}.torgb", x, rgb_w, conv_clamp)
    if img is not None:
        img = upsample2d(img, sd[f"{name}.resample_filter"])
    return x, (y if img is None else img + y)


def synthesis_network(sd: StateDict, name: str, ws: torch.Tensor, resolution: int, noise_mode: str = "const") -> torch.Tensor:
    """Blocks b4 .. b{resolution}. Block i (0-based) uses ws[2i - 1] and ws[2i] for its convs (b4:
    ws[0] only) and ws[2i + 1] for its ToRGB, so ToRGB of block i shares its w with conv0 of block
    i + 1 and a 256^2 network takes 14 ws."""
    ws = f64(ws)
    x = img = None
    levels = int(math.log2(resolution)) - 1
    assert ws.shape[1] == 2 * levels, (ws.shape, levels)
    for i in range(levels):
        res = 4 * 2 ** i
        idx = [0, 1] if i == 0 else [2 * i - 1, 2 * i, 2 * i + 1]
        x, img = synthesis_block(sd, f"{name}.b{res}", x, img, [ws[:, j] for j in idx], noise_mode)
    return img


# ==============================================================================================
# Super-resolution (EG3D SuperresolutionHybrid, made of synthesis blocks)
# ==============================================================================================


def super_resolution(sd: StateDict, name: str, rgb: torch.Tensor, x: torch.Tensor, ws: torch.Tensor, blocks: int = 2,
                     conv_clamp: float | None = 256.0, noise_mode: str = "none") -> torch.Tensor:
    """EG3D SuperresolutionHybrid: only the last w, used for every layer of every block; 'skip'
    synthesis blocks upsampling x2 each, starting from x (features) and rgb (the running image);
    SR noise mode 'none'; conv clamp 256 (SR blocks are built with fp16 settings)."""
    w = f64(ws)[:, -1]
    img = f64(rgb)
    h = f64(x)
    for i in range(blocks):
        h, img = synthesis_block(sd, f"{name}.block{i}", h, img, [w, w, w], noise_mode, conv_clamp)
    return img
