"""GPU check (run where CUDA exists): the engine on CUDA against the CPU, fp16 super-resolution and
U-Net against fp32, and per-stage timings of the full `paper` configuration.

    python benchmarks/gpu_check.py [--out report.txt]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3d_engine import S3DPipeline  # noqa: E402
from s3d_engine.cameras import domain_camera  # noqa: E402
from s3d_engine.config import get_config  # noqa: E402
from s3d_engine.rendering.ray_sampler import sample_rays  # noqa: E402
from s3d_engine.rendering.renderer import render_with_depths  # noqa: E402
from s3d_engine.sketch import normalize_sketch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeats=3):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def check(config_name: str, lines: list[str]) -> None:
    cfg = get_config(config_name, "face")
    cpu = S3DPipeline.from_config(cfg, device="cpu", seed=0)
    gpu = S3DPipeline.from_config(cfg, device="cuda", seed=0)
    sketch = normalize_sketch(ROOT / "examples" / "face_sketch.png", cfg.unet.resolution)
    mask_cpu, style_cpu = cpu.sketch_to_mask(sketch)
    gpu.half = False
    mask_gpu32, style_gpu32 = gpu.sketch_to_mask(sketch)
    gpu.half = True
    mask_gpu16, _ = gpu.sketch_to_mask(sketch)
    lines.append(f"[{config_name}] U-Net mask agreement cpu-fp32 vs cuda-fp32: {(mask_cpu == mask_gpu32).mean():.4f}, "
                 f"cuda-fp16 vs cuda-fp32: {(mask_gpu16 == mask_gpu32).mean():.4f}; style max|d| "
                 f"{(style_cpu - style_gpu32.cpu()).abs().max().item():.2e}")
    with torch.no_grad():
        ws_c = cpu.mask_to_ws(mask_cpu, 0)
        ws_g = gpu.mask_to_ws(mask_cpu, 0)
        planes_c = cpu.generator.planes(ws_c)
        planes_g = gpu.generator.planes(ws_g)
        lines.append(f"[{config_name}] ws max|d| {(ws_c - ws_g.cpu()).abs().max().item():.2e}; planes max|d| "
                     f"{(planes_c - planes_g.cpu()).abs().max().item():.2e} (planes range {planes_c.abs().max().item():.2f})")
        cam = torch.from_numpy(domain_camera("face"))[None]
        o, d = sample_rays(cam[:, :16].reshape(-1, 4, 4), cam[:, 16:].reshape(-1, 3, 3), 32)
        depths = torch.linspace(2.25, 3.3, 96).reshape(1, 1, -1, 1).expand(1, o.shape[1], -1, -1).contiguous()
        f_c, dep_c, _ = render_with_depths(planes_c, cpu.generator.decoder, o, d, depths, cpu.generator.render_options)
        f_g, dep_g, _ = render_with_depths(planes_g, gpu.generator.decoder, o.cuda(), d.cuda(), depths.cuda(),
                                           gpu.generator.render_options)
        lines.append(f"[{config_name}] fixed-depth render: features max|d| {(f_c - f_g.cpu()).abs().max().item():.2e}, "
                     f"depth max|d| {(dep_c - dep_g.cpu()).abs().max().item():.2e}")
        out32 = gpu.generator.render(planes_g, ws_g, cam.cuda(), generator=torch.Generator("cuda").manual_seed(0))
        out16 = gpu.generator.render(planes_g, ws_g, cam.cuda(), generator=torch.Generator("cuda").manual_seed(0),
                                     half_sr=True)
        img_d = (out32["image"] - out16["image"]).abs()
        agree = (out32["semantic"].argmax(1) == out16["semantic"].argmax(1)).float().mean().item()
        lines.append(f"[{config_name}] SR fp16 vs fp32: image max|d| {img_d.max().item():.3e} mean {img_d.mean().item():.3e} "
                     f"(range [-1, 1]); semantic argmax agreement {agree:.4f}")
    t_unet, _ = timed(lambda: gpu.sketch_to_mask(sketch))
    t_syn, _ = timed(lambda: gpu.generator.planes(gpu.mask_to_ws(mask_cpu, 0)))
    t_ren, _ = timed(lambda: gpu.render_views(planes_g, ws_g, domain_camera("face")[None], 0))
    lines.append(f"[{config_name}] cuda timings (median of 3): U-Net {t_unet * 1e3:.1f} ms, mapping+synthesis "
                 f"{t_syn * 1e3:.1f} ms, render+SR one view {t_ren * 1e3:.1f} ms")
    for res in (128, 256, 512):
        t_all, result = timed(lambda: gpu(sketch, mesh_resolution=res), repeats=2)
        lines.append(f"[{config_name}] cuda full call at {res}^3: {t_all:.2f} s, {len(result.mesh.faces)} faces, "
                     f"stages {', '.join(f'{k} {v * 1e3:.0f}ms' for k, v in result.timings.items())}")
    t_cpu, _ = timed(lambda: cpu(sketch, mesh_resolution=128), repeats=1)
    lines.append(f"[{config_name}] cpu ({torch.get_num_threads()} threads) full call at 128^3: {t_cpu:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="gpu_report.txt")
    ap.add_argument("--configs", default="small,paper")
    args = ap.parse_args()
    lines = [f"torch {torch.__version__}, cuda {torch.version.cuda}, device "
             f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"]
    if not torch.cuda.is_available():
        lines.append("no CUDA device: nothing to check")
    else:
        for name in args.configs.split(","):
            try:
                check(name, lines)
            except Exception as exc:  # report and keep going: this is a diagnostic script
                lines.append(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
