"""Engine stage timings for the `small` and `paper` configurations, side by side, from one run.

    .venv/bin/python benchmarks/bench_engine.py [--configs small,paper] [--grids 128,256]
        [--repeats 3] [--paper-repeats 1] [--threads 2] [--batch 3] [--paper-batch 1]

Each configuration runs in its own process (so its peak RSS is its own): `small` with the shipped
`weights/face.safetensors` (a `small` model), `paper` with random weights (`random:paper:face`;
no paper weights are shipped). Per stage the median of the repeats, after one warm-up:

- U-Net (sketch -> mask), mapping, synthesis, front render + super-resolution;
- per mesh grid: the field on the dense lattice against coarse to fine (the grid stage: lattice
  tables, coarse grid, level, refinement), the fraction of lattice points evaluated, the speed-up
  and the issue's bar for it (half the inverse fraction); marching cubes on the dense grid and on
  the coarse-to-fine cells; the Chamfer distance between the two meshes (raw, and after the
  largest component the pipeline keeps); `extract_mesh`'s stages;
- sketch -> mesh without render (mask -> ws -> planes -> mesh, colours and labels included);
- peak RSS of the sketch -> mesh path alone, and of the whole child (dense grids, render);
- `s3d batch` throughput: the real CLI on copies of examples/face_sketch.png, wall clock including
  process start and model load, default mesh grid (128) and `--batch-frames` turntable frames (0).

The load average (`/proc/loadavg`) is printed before and after: on a shared machine it says how
much the numbers can be trusted."""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s3d_engine import S3DPipeline  # noqa: E402
from s3d_engine.cameras import domain_camera  # noqa: E402
from s3d_engine.mesh.cleanup import largest_component  # noqa: E402
from s3d_engine.mesh.extract import MeshOptions, extract_mesh, pick_level  # noqa: E402
from s3d_engine.mesh.grid import DensityLattice  # noqa: E402
from s3d_engine.mesh.isosurface import extract_cells, extract_isosurface  # noqa: E402
from s3d_engine.mesh.sparse import coarse_grid, surface_cells  # noqa: E402
from s3d_engine.sketch import normalize_sketch  # noqa: E402

SKETCH = ROOT / "examples" / "face_sketch.png"


def timed(fn, repeats: int):
    """(median seconds over `repeats` calls after one warm-up call, last result)."""
    out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric mean nearest-vertex distance (world units) between two vertex sets."""
    from scipy.spatial import cKDTree

    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float((cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean()) / 2)


def weights_for(config: str) -> str:
    shipped = ROOT / "weights" / "face.safetensors"
    if config == "small" and shipped.exists():
        return str(shipped)
    return f"random:{config}:face"


def grid_stages(pipe: S3DPipeline, planes: torch.Tensor, res: int, repeats: int) -> dict:
    """Dense lattice against coarse to fine at the lattice `extract_mesh` uses for `res`."""
    dec, box, wanted = pipe.generator.decoder, pipe.config.camera.box_warp, pipe.config.mesh_level
    n = res + 1 - res % 2

    def dense():
        grid = DensityLattice(planes, dec, n, box).dense().cpu().numpy()
        return grid, pick_level(grid, wanted, MeshOptions.auto_level_fraction)[0]

    def sparse():
        lattice = DensityLattice(planes, dec, n, box)
        coarse, levels = coarse_grid(lattice)
        level = pick_level(coarse.cpu().numpy(), wanted, MeshOptions.auto_level_fraction)[0]
        return surface_cells(lattice, coarse, levels, level), level

    t_dense, (grid, level_d) = timed(dense, repeats)
    t_c2f, (cells, level) = timed(sparse, repeats)
    t_mc_dense, mesh_d = timed(lambda: extract_isosurface(grid, level, box), repeats)
    t_mc, mesh_s = timed(lambda: extract_cells(cells.cells, cells.corners, level, n, box), repeats)
    opts = MeshOptions(resolution=res)
    _, (_, rep) = timed(lambda: extract_mesh(planes, dec, pipe.config.num_classes, list(pipe.labels.names), box,
                                             wanted, opts), repeats)
    fraction = cells.evaluated_fraction
    return {
        "lattice": n, "level": level, "same_level": level == level_d,
        "grid_dense": t_dense, "grid_c2f": t_c2f, "fraction": fraction, "speedup": t_dense / t_c2f,
        "bar": 0.5 / fraction, "mc_dense": t_mc_dense, "mc_c2f": t_mc,
        "chamfer": chamfer(mesh_s[0], mesh_d[0]),
        "chamfer_largest": chamfer(largest_component(*mesh_s)[0], largest_component(*mesh_d)[0]),
        "vertices": len(mesh_s[0]), "vertices_dense": len(mesh_d[0]),
        "extract": rep.timings,
    }


def child(config: str, grids: list[int], repeats: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    name = weights_for(config)
    pipe = S3DPipeline.from_pretrained(name, device="cpu")
    cfg = pipe.config
    sketch = normalize_sketch(SKETCH, cfg.unet.resolution)
    box = cfg.camera.box_warp
    out: dict = {"config": cfg.name, "weights": Path(name).name, "threads": torch.get_num_threads(),
                 "torch": torch.__version__, "repeats": repeats, "grids": {}}
    with torch.no_grad():
        out["unet"], (mask, _) = timed(lambda: pipe.sketch_to_mask(sketch), repeats)
        out["mapping"], ws = timed(lambda: pipe.mask_to_ws(mask, seed=0), repeats)
        out["synthesis"], planes = timed(lambda: pipe.generator.planes(ws), repeats)

        def to_mesh(res):
            m, _ = pipe.sketch_to_mask(sketch)
            p = pipe.generator.planes(pipe.mask_to_ws(m, seed=0))
            return extract_mesh(p, pipe.generator.decoder, cfg.num_classes, list(pipe.labels.names), box,
                                cfg.mesh_level, MeshOptions(resolution=res))

        out["sketch_to_mesh"] = {res: timed(lambda: to_mesh(res), repeats)[0] for res in grids}
        out["rss_mesh_path"] = peak_rss_mb()
        for res in grids:
            out["grids"][res] = grid_stages(pipe, planes, res, repeats)
        out["render"], _ = timed(lambda: pipe.render_views(planes, ws, domain_camera(cfg.domain)[None], 0), repeats)
    out["rss_all"] = peak_rss_mb()
    return out


def batch_throughput(config: str, count: int, frames: int) -> dict:
    """`s3d batch` on `count` copies of the example sketch, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for i in range(count):
            shutil.copy(SKETCH, src / f"face_{i}.png")
        name = weights_for(config)
        model = ["--random-init", config] if name.startswith("random:") else ["--weights", name]
        cmd = [sys.executable, "-m", "s3d_engine", "batch", str(src), str(Path(tmp) / "out"), *model, "--device", "cpu",
               "--frames", str(frames)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"s3d batch failed: {done.stderr[-2000:]}")
    return {"sketches": count, "wall": wall, "per_minute": 60.0 * count / wall}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def row(label: str, values: list, fmt: str) -> str:
    cells = [(fmt.format(v) if isinstance(v, (int, float)) and v == v else str(v)) for v in values]
    return f"| {label} | " + " | ".join(cells) + " |"


def report(results: list[dict], grids: list[int]) -> str:
    names = [f"{r['config']} ({r['weights']})" for r in results]
    lines = ["| stage | " + " | ".join(names) + " |", "|---|" + "---:|" * len(results)]
    add = lambda label, key, fmt="{:.3f} s": lines.append(row(label, [key(r) for r in results], fmt))  # noqa: E731
    add("U-Net (sketch -> mask)", lambda r: r["unet"])
    add("mapping (mask -> ws)", lambda r: r["mapping"])
    add("synthesis (ws -> planes)", lambda r: r["synthesis"])
    add("front render + SR", lambda r: r["render"])
    for res in grids:
        g = lambda r: r["grids"][res]  # noqa: E731
        lines.append(row(f"**mesh grid {res}^3** (lattice {results[0]['grids'][res]['lattice']}^3)", [""] * len(results), "{}"))
        add("grid, dense lattice", lambda r: g(r)["grid_dense"])
        add("grid, coarse to fine", lambda r: g(r)["grid_c2f"])
        add("points evaluated (fraction)", lambda r: 100 * g(r)["fraction"], "{:.2f} %")
        add("speed-up (bar: 0.5 / fraction)", lambda r: f"{g(r)['speedup']:.1f}x ({g(r)['bar']:.1f}x)", "{}")
        add("marching cubes, dense grid", lambda r: g(r)["mc_dense"])
        add("marching cubes, c2f cells", lambda r: g(r)["mc_c2f"])
        add("Chamfer c2f to dense, raw", lambda r: g(r)["chamfer"], "{:.2e}")
        add("Chamfer, largest components", lambda r: g(r)["chamfer_largest"], "{:.2e}")
        add("vertices c2f / dense", lambda r: f"{g(r)['vertices']} / {g(r)['vertices_dense']}", "{}")
        add("extract_mesh: grid", lambda r: g(r)["extract"]["field_grid"])
        add("extract_mesh: marching cubes", lambda r: g(r)["extract"]["marching_cubes"])
        add("extract_mesh: clean-up", lambda r: g(r)["extract"]["cleanup"])
        add("extract_mesh: colours + labels", lambda r: g(r)["extract"]["colouring"])
        add(f"**sketch -> mesh, no render, {res}^3**", lambda r: r["sketch_to_mesh"][res])
    add("peak RSS, sketch -> mesh path", lambda r: r["rss_mesh_path"], "{:.0f} MB")
    add("peak RSS, whole child (dense, render)", lambda r: r["rss_all"], "{:.0f} MB")
    add("`s3d batch`, front + mesh (incl. start-up)", lambda r: (f"{r['batch']['per_minute']:.1f}/min ({r['batch']['sketches']} in "
                                                  f"{r['batch']['wall']:.0f} s)" if r.get("batch") else "skipped"), "{}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="small,paper")
    ap.add_argument("--grids", default="128,256")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paper-repeats", type=int, default=1, help="repeats for `paper` (its render takes ~30 s on 2 cores)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=3, help="sketches for the `s3d batch` run (0 = skip)")
    ap.add_argument("--paper-batch", type=int, default=1)
    ap.add_argument("--batch-frames", type=int, default=0, help="turntable frames per sketch in the batch run")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    grids = [int(g) for g in args.grids.split(",")]
    if args.child:
        print(json.dumps(child(args.child, grids, args.repeats, args.threads)))
        return
    print(f"load average before: {loadavg()}  (cpus: {os.cpu_count()})", flush=True)
    results = []
    for config in args.configs.split(","):
        repeats = args.paper_repeats if config == "paper" else args.repeats
        cmd = [sys.executable, __file__, "--child", config, "--grids", args.grids, "--repeats", str(repeats),
               "--threads", str(args.threads)]
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["grids"] = {int(k): v for k, v in result["grids"].items()}
        result["sketch_to_mesh"] = {int(k): v for k, v in result["sketch_to_mesh"].items()}
        count = args.paper_batch if config == "paper" else args.batch
        result["batch"] = batch_throughput(config, count, args.batch_frames) if count > 0 else None
        print(f"{config}: done in {time.perf_counter() - t:.0f} s, load average {loadavg()}", flush=True)
        results.append(result)
    print(f"threads={args.threads} torch={results[0]['torch']} repeats={args.repeats} (paper {args.paper_repeats}), "
          f"median seconds after a warm-up call")
    print(report(results, grids))
    print(f"load average after: {loadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
