"""Time each engine stage for a configuration (default: small) at mesh grids 128^3 and 256^3.

    .venv/bin/python benchmarks/bench_engine.py [--config small] [--repeats 3] [--device cpu]

Prints the median of `repeats` runs per stage, the share of the total, and the lattice-trick
speed-up over naive grid_sample + MLP evaluation (measured in the same run)."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3d_engine import S3DPipeline  # noqa: E402
from s3d_engine.config import get_config  # noqa: E402
from s3d_engine.mesh.attributes import vertex_attributes  # noqa: E402
from s3d_engine.mesh.export import export_mesh  # noqa: E402
from s3d_engine.mesh.grid import density_grid, density_grid_coarse_to_fine, density_grid_naive  # noqa: E402
from s3d_engine.mesh.isosurface import extract_isosurface  # noqa: E402
from s3d_engine.mesh.extract import fallback_level  # noqa: E402
from s3d_engine.mesh.types import LabelledMesh  # noqa: E402
from s3d_engine.sketch import normalize_sketch  # noqa: E402


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="small")
    ap.add_argument("--domain", default="face")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--grids", default="128,256")
    ap.add_argument("--weights", help="benchmark trained weights (e.g. face) instead of a random-init config")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.weights:
        pipe = S3DPipeline.from_pretrained(args.weights, device=args.device)
        cfg = pipe.config
    else:
        cfg = get_config(args.config, args.domain)
        pipe = S3DPipeline.from_config(cfg, device=args.device)
    sketch_file = Path(__file__).resolve().parents[1] / "examples" / f"{args.domain}_sketch.png"
    sketch = normalize_sketch(sketch_file, cfg.unet.resolution)
    print(f"weights={args.weights or 'random init'} config={cfg.name} domain={cfg.domain} device={pipe.device} threads={torch.get_num_threads()} "
          f"torch={torch.__version__} repeats={args.repeats} (median seconds)")
    pipe.sketch_to_mask(sketch)  # warm-up
    t_unet, (mask, _) = timed(lambda: pipe.sketch_to_mask(sketch), args.repeats)
    with torch.no_grad():
        def synth():
            ws = pipe.mask_to_ws(mask, seed=0)
            return ws, pipe.generator.planes(ws)
        t_synth, (ws, planes) = timed(synth, args.repeats)
        t_render, _ = timed(lambda: pipe.render_views(planes, ws, np.array([pipe_cam(pipe)]), 0), args.repeats)
    print(f"{'stage':28s}{'seconds':>10s}")
    print(f"{'U-Net (sketch -> mask)':28s}{t_unet:10.3f}")
    print(f"{'mapping + synthesis':28s}{t_synth:10.3f}")
    print(f"{'render front view (+SR)':28s}{t_render:10.3f}")
    box = cfg.camera.box_warp
    for res in [int(r) for r in args.grids.split(",")]:
        t_grid, grid = timed(lambda: density_grid(planes, pipe.generator.decoder, res, box), args.repeats)
        level = cfg.mesh_level if grid.min() < cfg.mesh_level < grid.max() else fallback_level(grid, 0.15)
        odd = res + 1 - res % 2
        t_c2f, (_, fraction) = timed(lambda: density_grid_coarse_to_fine(planes, pipe.generator.decoder, odd, box, level),
                                     args.repeats)
        t_mc, (v, f) = timed(lambda: extract_isosurface(grid, level, box), args.repeats)
        t_col, (rgb, lab) = timed(lambda: vertex_attributes(planes, pipe.generator.decoder, v, cfg.num_classes, box),
                                  args.repeats)
        mesh = LabelledMesh(v, f, rgb, lab, list(pipe.labels.names))
        with tempfile.TemporaryDirectory() as tmp:
            t_glb, _ = timed(lambda: export_mesh(mesh, Path(tmp) / "m.glb"), args.repeats)
            t_ply, _ = timed(lambda: export_mesh(mesh, Path(tmp) / "m.ply"), args.repeats)
        naive_res = min(res, 128)
        t_lat, _ = timed(lambda: density_grid(planes, pipe.generator.decoder, naive_res, box), 1)
        t_naive, _ = timed(lambda: density_grid_naive(planes, pipe.generator.decoder, naive_res, box), 1)
        total = t_unet + t_synth + t_render + min(t_grid, t_c2f) + t_mc + t_col + t_glb + t_ply
        print(f"--- mesh grid {res}^3: {len(v)} vertices, {len(f)} faces")
        for name, t in [("field grid (dense lattice)", t_grid), (f"field grid (c2f {odd}^3)", t_c2f),
                        ("marching cubes", t_mc), ("colouring + labels", t_col),
                        ("export GLB", t_glb), ("export PLY", t_ply)]:
            print(f"{name:28s}{t:10.3f}")
        print(f"{'total sketch -> files':28s}{total:10.3f}")
        print(f"coarse-to-fine evaluated {fraction:.1%} of the fine points: {t_grid / t_c2f:.1f}x faster than dense")
        print(f"lattice vs naive grid at {naive_res}^3: {t_naive:.3f} s / {t_lat:.3f} s = {t_naive / t_lat:.1f}x faster")


def pipe_cam(pipe):
    from s3d_engine.cameras import domain_camera

    return domain_camera(pipe.config.domain)


if __name__ == "__main__":
    main()
