"""Low-level StyleGAN2 ops in plain PyTorch: FIR resampling, bias + activation, modulated conv.

Written from the published formulas (Karras et al. 2020) so that checkpoints trained with
NVIDIA's CUDA kernels give the same numbers through these reference paths."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
ACTIVATION_GAIN = {"linear": 1.0, "lrelu": math.sqrt(2.0), "relu": math.sqrt(2.0)}


def setup_filter(taps=(1, 3, 3, 1)) -> torch.Tensor:
    """Separable binomial FIR as a normalised 2D outer product, e.g. [1,3,3,1] -> (4, 4)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative = crop), convolve with FIR `f`, keep every
    `down`-th pixel. padding = (x0, x1, y0, y1). The filter is flipped (true convolution).

    Upsampling runs as one depthwise `conv_transpose2d` instead (10x faster on the CPU than
    convolving the zero-inserted image): with u the zero-inserted input and g = flip(f),

        y[n] = sum_k g[k] u[n + k - p0] = sum_j u[j] f[n - p0 + K - 1 - j] = full[n + K - 1 - p0],

    where full = u * f is exactly what conv_transpose2d(x, f, stride=up) computes (length
    (L - 1) up + K). So y is `full` shifted by s = K - 1 - p0: crop s on the left (pad if
    negative), and keep N = L up + p0 + p1 - K + 1 samples (zeros past the end)."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if up > 1 and down == 1:
        kh, kw = f.shape
        full = F.conv_transpose2d(x, f[None, None].expand(c, 1, kh, kw), stride=up, groups=c)
        sx, sy = kw - 1 - px0, kh - 1 - py0
        nx, ny = w * up + px0 + px1 - kw + 1, h * up + py0 + py1 - kh + 1
        return F.pad(full, [-sx, nx - (full.shape[3] - sx), -sy, ny - (full.shape[2] - sy)])
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    weight = f.flip([0, 1])[None, None].expand(c, 1, *f.shape)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    fw = f.shape[-1]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    fw = f.shape[-1]
    p0, p1 = (fw - down + 1) // 2, (fw - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None, dim: int = 1) -> torch.Tensor:
    """x + b, activation, times gain (default: the activation's gain), optional clamp."""
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.reshape(shape).to(x.dtype)
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    elif act == "relu":
        x = F.relu(x)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    g = ACTIVATION_GAIN[act] if gain is None else gain
    if g != 1:
        x = x * g
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1, down: int = 1,
                    padding: int = 0, groups: int = 1) -> torch.Tensor:
    """Convolution with FIR up/down-sampling, equal to the reference order: upsample+filter ->
    conv, or filter -> strided conv (which equals conv -> filter -> decimate).

    Quirk kept for weight compatibility: StyleGAN2 runs upsampling convs as transposed
    convolutions, i.e. a true convolution with `w`; plain convs are correlations. So the
    kernel is flipped on the upsampling path only.

    The upsampling path is computed in the cheap order (StyleGAN2's own fast path): zero
    insertion followed by a true convolution with w *is* `conv_transpose2d(x, w, stride=up)`,
    and the FIR filter commutes with w (both are convolutions on the fine grid), so

        conv(w) . fir(f) . zero_insert(x)  ==  fir(f) . conv_transpose(w, stride=up)(x)

    with the FIR's padding reduced by what the transposed conv already added: left
    p0 - (k - 1), right p1 - (k - up). The k x k conv then runs on the coarse grid: up^2 = 4x
    fewer multiply-adds for the block's largest convolution."""
    kw = w.shape[-1]
    if up > 1:
        fw = f.shape[-1]
        p0 = padding + (fw + up - 1) // 2 - (kw - 1)
        p1 = padding + (fw - up) // 2 - (kw - up)
        pt = max(min(-p0, -p1), 0)  # what the transposed conv may crop itself
        out_ch, in_per_group = w.shape[0], w.shape[1]
        # conv_transpose2d wants (in, out / groups, k, k): swap the two channel axes per group
        wt = w.reshape(groups, out_ch // groups, in_per_group, kw, kw).transpose(1, 2)
        wt = wt.reshape(groups * in_per_group, out_ch // groups, kw, kw)
        x = F.conv_transpose2d(x, wt, stride=up, padding=pt, groups=groups)
        return upfirdn2d(x, f, padding=(p0 + pt, p1 - pt, p0 + pt, p1 - pt), gain=up * up)
    if down > 1:
        fw = f.shape[-1]
        p0 = padding + (fw - down + 1) // 2
        p1 = padding + (fw - down) // 2
        if kw == 1:
            x = upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))
            return F.conv2d(x, w, groups=groups)
        x = upfirdn2d(x, f, padding=(p0, p1, p0, p1))
        return F.conv2d(x, w, stride=down, groups=groups)
    return F.conv2d(x, w, padding=padding, groups=groups)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None = None,
                     up: int = 1, padding: int = 0, resample_filter: torch.Tensor | None = None,
                     demodulate: bool = True) -> torch.Tensor:
    """StyleGAN2 weight (de)modulation as one grouped convolution (one group per sample)."""
    batch = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_ch, kh, kw).to(x.dtype)
    x = conv2d_resample(x, w, f=resample_filter, up=up, padding=padding, groups=batch)
    x = x.reshape(batch, -1, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
