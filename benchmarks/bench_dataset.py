"""Throughput of the procedural dataset generator: views/s for faces and cats at 128^2 with
two worker processes, through the real `python -m training.make_dataset` code path (render,
sketch, PNG encoding and atomic writes of both layouts, depth/alpha extras), compared with the
targets of issue #3 (faces >= 4 views/s, cats >= 6 views/s on the 2-core machine).

    .venv/bin/python benchmarks/bench_dataset.py [--count 96] [--res 128] [--workers 2]

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=96)
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
