"""Synthesis (ws -> tri-planes) with the upsampling in its textbook order against the order
`s3d_engine/nn/ops.py` uses, in one process, calls interleaved (issue 10).

    .venv/bin/python benchmarks/bench_synthesis.py [--weights face] [--threads 1] [--repeats 7]

Textbook order: zero insertion, padding, then a depthwise FIR convolution (and, in an
upsampling modulated conv, the 3x3 convolution on the zero-inserted grid). ops.py: one
depthwise conv_transpose2d for the FIR, and the transposed 3x3 convolution on the coarse grid
before the filter. Prints the medians, the speed-up and the largest difference of the planes.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from s3d_engine.nn import ops, synthesis
from s3d_engine.pipeline import S3DPipeline


def textbook_upfirdn2d(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0):
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [px0, px1, py0, py1])  # negative values crop
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype).flip([0, 1])
    x = F.conv2d(x, f[None, None].expand(c, 1, *f.shape), groups=c)
    return x[:, :, ::down, ::down]


def textbook_upsample2d(x, f, up=2):
    fw = f.shape[-1]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return textbook_upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def textbook_modulated_conv2d(x, weight, styles, noise=None, up=1, padding=0, resample_filter=None, demodulate=True):
    if up == 1:
        return ops.modulated_conv2d(x, weight, styles, noise, up, padding, resample_filter, demodulate)
    batch, (out_ch, in_ch, kh, kw) = x.shape[0], weight.shape
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(batch, -1, 1, 1, 1)
    fw = resample_filter.shape[-1]
    p0, p1 = padding + (fw + up - 1) // 2, padding + (fw - up) // 2
    x = textbook_upfirdn2d(x.reshape(1, -1, *x.shape[2:]), resample_filter, up=up, padding=(p0, p1, p0, p1), gain=up * up)
    y = F.conv2d(x, w.reshape(-1, in_ch, kh, kw).flip([2, 3]), groups=batch)
    y = y.reshape(batch, out_ch, *y.shape[2:])
    return y + noise if noise is not None else y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="face")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    G = S3DPipeline.from_pretrained(args.weights, device="cpu").generator
    mask = torch.zeros(1, G.config.generator.mask_resolution, G.config.generator.mask_resolution, dtype=torch.long)
    ws = G.mapping(torch.randn(1, G.config.generator.z_dim, generator=torch.Generator().manual_seed(0)),
                   torch.zeros(1, 25), mask=mask)
    variants = {"ops.py": (ops.modulated_conv2d, ops.upsample2d),
                "textbook": (textbook_modulated_conv2d, textbook_upsample2d)}
    times: dict[str, list[float]] = {k: [] for k in variants}
    planes = {}
    with torch.no_grad():
        for i in range(args.repeats + 1):
            for name, (modconv, upsample) in variants.items():
                synthesis.modulated_conv2d, synthesis.upsample2d = modconv, upsample
                t = time.perf_counter()
                planes[name] = G.planes(ws)
                if i:  # the first round warms up
                    times[name].append(time.perf_counter() - t)
    synthesis.modulated_conv2d, synthesis.upsample2d = variants["ops.py"]
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    diff = (planes["ops.py"] - planes["textbook"]).abs().max().item()
    print(f"synthesis ({args.weights}, threads {args.threads}, median of {args.repeats}): "
          f"ops.py {med['ops.py']:.4f} s, textbook {med['textbook']:.4f} s, "
          f"speed-up {med['textbook'] / med['ops.py']:.2f}x, max |difference| {diff:.2e} "
          f"(planes up to {planes['textbook'].abs().max().item():.1f})")


if __name__ == "__main__":
    main()
