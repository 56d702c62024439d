"""Parity at the full `paper` configuration (not a pytest test: too heavy for the CPU suite).

Runs the engine (float32, TF32 off) and the naive float64 reference (tests/parity/reference_*.py)
on the same randomised paper generator and inputs, and reports the largest relative error of:
ws, planes, sigma and features at points, the raw image / semantic logits / depth for a fixed
set of depth samples, the RGB and semantic super-resolution from a 128^2 feature image, and the
agreement of the argmax labels.

    python tests/parity/paper_gpu_check.py --device cuda --out report.json
    python tests/parity/paper_gpu_check.py --config tiny          # quick self-check on the CPU
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from s3d_engine import cameras  # noqa: E402
from s3d_engine.config import get_config  # noqa: E402
from s3d_engine.models.generator import TriPlaneGenerator  # noqa: E402
from s3d_engine.rendering import ray_sampler  # noqa: E402
from s3d_engine.rendering.renderer import render_with_depths  # noqa: E402
from tests.parity import reference_mapping as ref_mapping  # noqa: E402
from tests.parity import reference_rendering as ref_rendering  # noqa: E402
from tests.parity import reference_stylegan as ref_stylegan  # noqa: E402
from tests.parity.helpers import randomize  # noqa: E402


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    actual = actual.detach().to(torch.float64).to(expected.device)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float((actual - expected).abs().max()) / max(float(expected.abs().max()), 1e-3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="paper")
    parser.add_argument("--domain", default="face")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--render-res", type=int, default=32)
    parser.add_argument("--depths", type=int, default=24)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(args.device)
    t0 = time.time()
    cfg = get_config(args.config, args.domain)
    g = cfg.generator
    torch.manual_seed(0)
    gen = randomize(TriPlaneGenerator(cfg), 42).to(dev)
    rng = torch.Generator().manual_seed(43)
    mask = torch.randint(0, cfg.num_classes, (1, g.mask_resolution, g.mask_resolution), generator=rng)
    z = torch.randn(1, g.z_dim, generator=rng)
    c = torch.from_numpy(cameras.domain_camera(args.domain, 0.2, 0.1))[None].float()
    points = torch.rand(1, 256, 3, generator=rng) - 0.5
    res, s = args.render_res, args.depths
    jitter = torch.rand(1, res * res, s, 1, generator=rng)
    k, classes = g.decoder_output_dim, cfg.num_classes
    sr_in = g.sr_input_resolution
    feat = torch.rand(1, 2 * k, sr_in, sr_in, generator=rng) * 2 - 1
    mask, z, c, points, jitter, feat = (t.to(dev) for t in (mask, z, c, points, jitter, feat))
    report: dict = {"config": args.config, "domain": args.domain, "device": str(dev),
                    "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None, "errors": {}}

    with torch.no_grad():
        ws = gen.mapping(z, c, mask=mask)
        planes = gen.planes(ws)
        field = gen.sample_mixed(points, planes=planes)
        origins, dirs = ray_sampler.sample_rays(c[:, :16].reshape(-1, 4, 4), c[:, 16:].reshape(-1, 3, 3), res)
        depths32 = (torch.linspace(2.25, 3.3, s, device=dev).reshape(1, 1, s, 1)
                    + jitter * (3.3 - 2.25) / (s - 1))
        feature, depth, _ = render_with_depths(planes, gen.decoder, origins, dirs, depths32, gen.render_options)
        image = feature.permute(0, 2, 1).reshape(1, -1, res, res)
        sr_rgb = gen.superresolution(feat[:, :3], feat[:, :k], ws)
        sr_sem = gen.superresolution_semantic(feat[:, k:k + classes], feat[:, k:], ws)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    report["engine_s"] = round(time.time() - t0, 1)

    t1 = time.time()
    if dev.type == "cuda":
        torch.set_default_device(dev)
    sd = gen.state_dict()
    r_ws = ref_mapping.mapping(sd, "backbone.mapping", z, c, mask, classes, gen.num_ws)
    r_img = ref_stylegan.synthesis_network(sd, "backbone.synthesis", r_ws, g.synthesis_resolution)
    r_planes = r_img.reshape(1, 3, g.plane_channels, *r_img.shape[-2:])
    r_features = ref_rendering.sample_from_planes(r_planes, points, cfg.camera.box_warp)
    r_field = ref_rendering.decoder(sd, "decoder", r_features)
    r_depths = ref_rendering.stratified_depths(1, res * res, 2.25, 3.3, s, jitter)
    r_image, r_depth, _ = ref_rendering.render_fixed_depths(sd, r_planes, c, r_depths, res, cfg.camera.box_warp)
    blocks = len(g.sr_channels)
    r_rgb = ref_stylegan.super_resolution(sd, "superresolution", feat[:, :3], feat[:, :k], r_ws, blocks,
                                          g.sr_conv_clamp)
    r_sem = ref_stylegan.super_resolution(sd, "superresolution_semantic", feat[:, k:k + classes], feat[:, k:], r_ws,
                                          blocks, g.sr_conv_clamp)
    report["reference_s"] = round(time.time() - t1, 1)

    errors = report["errors"]
    errors["ws"] = rel_err(ws, r_ws)
    errors["geometry_ws"] = rel_err(ws[:, :7], r_ws[:, :7])
    errors["planes"] = rel_err(planes, r_planes)
    errors["sigma_at_points"] = rel_err(field["sigma"], r_field["sigma"])
    errors["features_at_points"] = rel_err(field["rgb"], r_field["rgb"])
    errors["image_raw"] = rel_err(image[:, :3], r_image[:, :3])
    errors["semantic_raw"] = rel_err(image[:, k:k + classes], r_image[:, k:k + classes])
    errors["depth"] = rel_err(depth.permute(0, 2, 1).reshape(1, 1, res, res), r_depth)
    errors["sr_image"] = rel_err(sr_rgb, r_rgb)
    errors["sr_semantic"] = rel_err(sr_sem, r_sem)
    report["raw_label_agreement"] = float((image[:, k:k + classes].argmax(1).to(r_image.device)
                                           == r_image[:, k:k + classes].argmax(1)).double().mean())
    report["sr_label_agreement"] = float((sr_sem.argmax(1).to(r_sem.device) == r_sem.argmax(1)).double().mean())
    report["tolerance"] = args.tol
    report["passed"] = (all(v <= args.tol for v in errors.values()) and report["raw_label_agreement"] > 0.999
                        and report["sr_label_agreement"] > 0.999)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
