"""Deliberately naive reference implementations of the conventions pix2pix3D inherits from
StyleGAN2, EG3D and its own generator, for parity tests against s3d_engine.

Written from the documented conventions (docs/PARITY.md, /work/shared/reference/s3d-pix2pix3d.md),
not from the engine: explicit loops over filter taps and samples, float64 throughout, and the
weights read by pix2pix3D's G_ema tensor names from a state dict, so every tensor is checked to
play the role it plays upstream. Speed is irrelevant here; clarity is the point.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

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
# pix2pix3D conditional mapping
# ==============================================================================================


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


# ==============================================================================================
# Tri-plane, decoder, rays, marching (EG3D)
# ==============================================================================================


def plane_axes() -> torch.Tensor:
    """EG3D generate_planes(): the three 3x3 'axes' matrices."""
    return f64([[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                [[1, 0, 0], [0, 0, 1], [0, 1, 0]],
                [[0, 0, 1], [1, 0, 0], [0, 1, 0]]])


def project(points: torch.Tensor, box_warp: float) -> list[torch.Tensor]:
    """Scale by 2 / box_warp, then plane k gets the first two coordinates of p @ inv(axes[k]):
    (x, y), (x, z), (z, x)."""
    p = f64(points) * (2.0 / box_warp)
    return [(p @ torch.linalg.inv(axes))[..., :2] for axes in plane_axes()]


def bilinear(plane: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """grid_sample(bilinear, zeros, align_corners=False) for one (C, H, W) plane at (M, 2) points,
    uv[:, 0] along the width, uv[:, 1] along the height, -1/+1 at the outer pixel edges."""
    plane = f64(plane)
    c, h, w = plane.shape
    ix = ((f64(uv[:, 0]) + 1) * w - 1) / 2
    iy = ((f64(uv[:, 1]) + 1) * h - 1) / 2
    x0, y0 = torch.floor(ix), torch.floor(iy)
    out = torch.zeros(uv.shape[0], c, dtype=D)
    for dx in (0, 1):
        for dy in (0, 1):
            xx, yy = x0 + dx, y0 + dy
            weight = (1 - (ix - xx).abs()) * (1 - (iy - yy).abs())
            inside = (xx >= 0) & (xx <= w - 1) & (yy >= 0) & (yy <= h - 1)
            xi = xx.clamp(0, w - 1).long()
            yi = yy.clamp(0, h - 1).long()
            vals = plane[:, yi, xi].T
            out += torch.where(inside[:, None], vals * weight[:, None], torch.zeros_like(vals))
    return out


def sample_from_planes(planes: torch.Tensor, points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """planes (N, 3, C, H, W), points (N, M, 3) -> (N, 3, M, C)."""
    n = planes.shape[0]
    out = torch.zeros(n, 3, points.shape[1], planes.shape[2], dtype=D)
    for i in range(n):
        for k, uv in enumerate(project(points[i], box_warp)):
            out[i, k] = bilinear(planes[i, k], uv)
    return out


def decoder(sd: StateDict, name: str, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """OSGDecoder_semantic_lateSeparate: mean over the 3 planes; net = FC, softplus, FC; colour =
    sigmoid(net[1:]) * 1.002 - 0.001 (net[0] unused); net_semantic gives sigma = out[0] (raw)
    and the semantic features out[1:] (raw logits). rgb = [colour | semantic]."""
    x = f64(features).mean(dim=1)

    def mlp(prefix: str) -> torch.Tensor:
        h = fully_connected(sd, f"{prefix}.0", x)
        h = torch.log1p(torch.exp(-h.abs())) + h.clamp(min=0)  # softplus, beta 1 (threshold irrelevant)
        return fully_connected(sd, f"{prefix}.2", h)

    colour = mlp(f"{name}.net")
    semantic = mlp(f"{name}.net_semantic")
    colour = torch.sigmoid(colour[..., 1:]) * (1 + 2 * 0.001) - 0.001
    return {"rgb": torch.cat([colour, semantic[..., 1:]], dim=-1), "sigma": semantic[..., :1]}


def rays(cam2world: torch.Tensor, intrinsics: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray m = pixel (row, col) = divmod(m, res); pixel centre (u, v) = ((col + .5) / res,
    (row + .5) / res) in normalised image coordinates; direction = normalize(R @ inv(K) @ (u, v, 1));
    origin = the camera position (cam2world translation)."""
    cam2world, intrinsics = f64(cam2world), f64(intrinsics)
    n = cam2world.shape[0]
    m = resolution * resolution
    origins = torch.zeros(n, m, 3, dtype=D)
    dirs = torch.zeros(n, m, 3, dtype=D)
    for i in range(n):
        k_inv = torch.linalg.inv(intrinsics[i])
        for idx in range(m):
            row, col = divmod(idx, resolution)
            pix = f64([(col + 0.5) / resolution, (row + 0.5) / resolution, 1.0])
            d = cam2world[i, :3, :3] @ (k_inv @ pix)
            dirs[i, idx] = d / torch.linalg.norm(d)
            origins[i, idx] = cam2world[i, :3, 3]
    return origins, dirs


def stratified_depths(n: int, m: int, start: float, end: float, count: int, jitter: torch.Tensor) -> torch.Tensor:
    """linspace(start, end, count) plus jitter (uniform [0, 1)) times one cell (end - start) / (count - 1)."""
    base = f64([start + (end - start) * k / (count - 1) for k in range(count)])
    return (base.reshape(1, 1, count, 1) + f64(jitter).reshape(n, m, count, 1) * (end - start) / (count - 1))


def ray_march(colors, densities, depths, white_back: bool = False):
    """MipRayMarcher2 with a loop over intervals: midpoint colour, density and depth of each
    interval; sigma = softplus(density - 1); alpha = 1 - exp(-sigma * delta); weight = alpha * T,
    T = prod over earlier intervals of (1 - alpha + 1e-10). Composite = sum w * colour, mapped
    x * 2 - 1 (semantic channels too); depth = sum w * depth / sum w (NaN -> inf), clamped to the
    min/max of all depths; white_back adds 1 - sum w before the mapping."""
    colors, densities, depths = f64(colors), f64(densities), f64(depths)
    n, m, s, c = colors.shape
    transmittance = torch.ones(n, m, 1, dtype=D)
    composite = torch.zeros(n, m, c, dtype=D)
    depth_sum = torch.zeros(n, m, 1, dtype=D)
    weights = torch.zeros(n, m, s - 1, 1, dtype=D)
    for i in range(s - 1):
        delta = depths[:, :, i + 1] - depths[:, :, i]
        sigma = F.softplus((densities[:, :, i] + densities[:, :, i + 1]) / 2 - 1)
        alpha = 1 - torch.exp(-sigma * delta)
        w = alpha * transmittance
        weights[:, :, i] = w
        composite += w * (colors[:, :, i] + colors[:, :, i + 1]) / 2
        depth_sum += w * (depths[:, :, i] + depths[:, :, i + 1]) / 2
        transmittance = transmittance * (1 - alpha + 1e-10)
    total = weights.sum(dim=2)
    depth = torch.nan_to_num(depth_sum / total, float("inf")).clamp(depths.min(), depths.max())
    if white_back:
        composite = composite + 1 - total
    return composite * 2 - 1, depth, weights


def importance_depths(depths: torch.Tensor, weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """EG3D importance sampling, one ray at a time. Smooth the S-1 marcher weights: padded max over
    neighbour pairs (S values), then mean over neighbour pairs (S-1 values), + 0.01; keep the inner
    S-3 as a piecewise-constant pdf (+1e-5, normalised) over the S-1 interval midpoints; invert the
    CDF at u (searchsorted right; the first S-2 midpoints are the reachable bin edges)."""
    depths, weights, u = f64(depths), f64(weights), f64(u)
    n, m, s, _ = depths.shape
    count = u.shape[1]
    out = torch.zeros(n * m, count, dtype=D)
    z = depths.reshape(n * m, s)
    wts = weights.reshape(n * m, s - 1)
    for r in range(n * m):
        w = wts[r].tolist()
        padded = [-math.inf] + w + [-math.inf]
        mx = [max(padded[k], padded[k + 1]) for k in range(s)]
        avg = [(mx[k] + mx[k + 1]) / 2 + 0.01 for k in range(s - 1)]
        pdf_w = [v + 1e-5 for v in avg[1:-1]]
        total = sum(pdf_w)
        cdf = [0.0]
        for v in pdf_w:
            cdf.append(cdf[-1] + v / total)
        mids = [(z[r, k].item() + z[r, k + 1].item()) / 2 for k in range(s - 1)]
        nb = len(pdf_w)
        for j in range(count):
            uj = u[r, j].item()
            ind = sum(1 for v in cdf if v <= uj)  # searchsorted(right=True)
            below, above = max(ind - 1, 0), min(ind, nb)
            denom = cdf[above] - cdf[below]
            if denom < 1e-5:
                denom = 1.0
            out[r, j] = mids[below] + (uj - cdf[below]) / denom * (mids[above] - mids[below])
    return out.reshape(n, m, count, 1)


def render_fixed_depths(sd: StateDict, planes: torch.Tensor, c: torch.Tensor, depths: torch.Tensor, resolution: int,
                        box_warp: float, white_back: bool = False):
    """Rays from the 25-float camera c, the decoder at origin + depth * direction, one march."""
    c = f64(c)
    origins, dirs = rays(c[:, :16].reshape(-1, 4, 4), c[:, 16:].reshape(-1, 3, 3), resolution)
    n, m, s, _ = depths.shape
    points = (origins[:, :, None] + f64(depths) * dirs[:, :, None]).reshape(n, m * s, 3)
    out = decoder(sd, "decoder", sample_from_planes(f64(planes), points, box_warp))
    colors = out["rgb"].reshape(n, m, s, -1)
    sigma = out["sigma"].reshape(n, m, s, 1)
    feature, depth, weights = ray_march(colors, sigma, depths, white_back)
    image = feature.permute(0, 2, 1).reshape(n, -1, resolution, resolution)
    return image, depth.permute(0, 2, 1).reshape(n, 1, resolution, resolution), weights


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


# ==============================================================================================
# Cameras (EG3D camera_utils)
# ==============================================================================================


def fov_to_focal(fov_degrees: float) -> float:
    """EG3D FOV_to_intrinsics, including its rounded constants 3.14159 and 1.414."""
    return 1.0 / (math.tan(fov_degrees * 3.14159 / 360) * 1.414)


def cam2world_from_forward(forward, origin) -> torch.Tensor:
    """create_cam2world_matrix: y-up world, right = -normalize(up x forward), up' = normalize(forward
    x right); columns (right, up', forward), translation = origin (OpenCV: camera y points down)."""
    fwd = f64(forward) / torch.linalg.norm(f64(forward))
    up = f64([0.0, 1.0, 0.0])
    right = -torch.linalg.cross(up, fwd)
    right = right / torch.linalg.norm(right)
    new_up = torch.linalg.cross(fwd, right)
    new_up = new_up / torch.linalg.norm(new_up)
    m = torch.eye(4, dtype=D)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, new_up, fwd, f64(origin)
    return m


def look_at(h: float, v: float, lookat, radius: float) -> torch.Tensor:
    """LookAtPoseSampler.sample without noise: theta = h, phi = arccos(1 - 2 v / pi) (v clamped to
    [1e-5, pi - 1e-5]); origin = r (sin phi cos(pi - theta), cos phi, sin phi sin(pi - theta)) on a
    sphere around the world origin; looking at `lookat`."""
    v = min(max(v, 1e-5), math.pi - 1e-5)
    phi = math.acos(1 - 2 * v / math.pi)
    origin = f64([radius * math.sin(phi) * math.cos(math.pi - h), radius * math.cos(phi),
                  radius * math.sin(phi) * math.sin(math.pi - h)])
    return cam2world_from_forward(f64(lookat) - origin, origin)


def camera_label(cam2world: torch.Tensor, focal: float) -> torch.Tensor:
    """25 floats: cam2world flattened row-major, then [[f, 0, .5], [0, f, .5], [0, 0, 1]] row-major."""
    k = f64([[focal, 0, 0.5], [0, focal, 0.5], [0, 0, 1]])
    return torch.cat([f64(cam2world).reshape(16), k.reshape(9)])
