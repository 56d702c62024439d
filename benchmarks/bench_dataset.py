"""Throughput of the procedural dataset generator: views/s for faces and cats at 128^2 with
two worker processes, through the real `python -m training.make_dataset` code path (render,
sketch, PNG encoding and atomic writes of both layouts, depth/alpha extras), compared with the
targets of issue #3 (faces >= 4 views/s, cats >= 6 views/s on the 2-core machine).

    .venv/bin/python benchmarks/bench_dataset.py [--count 96] [--res 128] [--workers 2] [--gt 8]

`--gt N` also measures ground-truth self-consistency on N identities x 2 views per kind: the
rendered label map against the GT mesh's per-vertex labels rasterised through the same camera
(agreement over all pixels and over pixels where either shows the head), and the depth error.

Wall-clock numbers on a shared machine are noisy; the load average is printed alongside. The
run includes process start-up and the per-identity setup (one head and one coarse SDF grid per
4 views), i.e. what a user of the CLI sees.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.make_dataset import parse_args, run  # noqa: E402

TARGETS = {"face": 4.0, "cat": 6.0}


def bench(kind: str, count: int, res: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        args = parse_args(["--kind", kind, "--count", str(count), "--test-count", "0", "--out", tmp, "--res", str(res),
                           "--workers", str(workers), "--sheet", "0"])
        start = time.perf_counter()
        summary = run(args)
        elapsed = time.perf_counter() - start
    return summary["rendered"] / elapsed


def gt_consistency(kind: str, identities: int, res: int, mesh_res: int) -> None:
    import numpy as np

    from training.data.gt_mesh import head_mesh, label_agreement, rasterize_mesh
    from training.data.sample import identity_seed, make_head, render_sample

    agree_all, agree_fg, dz_med, dz_p95 = [], [], [], []
    for i in range(identities):
        identity = identity_seed("train", i)
        head = make_head(kind, identity)
        mesh = head_mesh(head, mesh_res)
        for view in range(2):
            s = render_sample(kind, identity, view, res, head=head)
            labels, depth = rasterize_mesh(mesh, s.camera, res)
            a, f = label_agreement(s.labels, labels)
            both = (s.alpha > 0) & (depth > 0)
            dz = np.abs(s.depth[both] - depth[both])
            agree_all.append(a)
            agree_fg.append(f)
            dz_med.append(np.median(dz))
            dz_p95.append(np.percentile(dz, 95))
    print(f"{kind:4s} GT consistency ({identities} ids x 2 views, render {res}^2, mesh {mesh_res}^3): label agreement "
          f"all pixels mean {100 * np.mean(agree_all):.2f} % (min {100 * np.min(agree_all):.2f} %), head pixels mean "
          f"{100 * np.mean(agree_fg):.2f} % (min {100 * np.min(agree_fg):.2f} %); |depth error| median "
          f"{np.mean(dz_med):.5f}, p95 {np.mean(dz_p95):.5f} (world units; head ~0.45 wide)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=96)
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gt", type=int, default=0, help="identities for the GT consistency check (0 = skip)")
    ap.add_argument("--mesh-res", type=int, default=128)
    args = ap.parse_args()
    print(f"cpu cores: {os.cpu_count()}, workers: {args.workers}, load average before: {os.getloadavg()[0]:.2f}")
    ok = True
    for kind in ("face", "cat"):
        rate = bench(kind, args.count, args.res, args.workers)
        target = TARGETS[kind]
        ok &= rate >= target
        print(f"{kind:4s} {args.res}^2: {rate:6.2f} views/s  (target {target:.0f} views/s, ratio {rate / target:4.2f}x)",
              flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for kind in ("face", "cat") if args.gt else ():
        gt_consistency(kind, args.gt, args.res, args.mesh_res)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
