"""Generate a procedural training dataset (faces or cats) in pix2pix3D's and S3D's layouts.

    python -m training.make_dataset --kind face --count 1000 --out /tmp/faces --res 128

* Deterministic: sample k of a split is view k % V of identity `identity_seed(split, k // V,
  seed)` (V = --views-per-identity), whatever the number of workers or interruptions.
* Held out: the test split uses identities >= 10^9 (`training.data.TEST_IDENTITY_OFFSET`),
  which the train split and `render_sample` callers on train identities never produce.
* Resumable: a sample counts as done when its meta file exists (written last, atomically);
  re-running the same command renders only what is missing. Changing settings on an existing
  folder is refused.
* Uses all cores: one process per core (torch/numpy single-threaded inside), one identity
  (V views) per task, so the head and its coarse SDF grid are built once per identity.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from training.data.sample import identity_seed, make_head, render_sample, set_single_thread
from training.data.writer import (DatasetLayout, atomic_write_bytes, atomic_write_json, class_frequency,
                                  contact_sheet, frequency_table, read_metas, write_dataset_json, write_sample,
                                  zip_folder)

SETTINGS = ("kind", "res", "views_per_identity", "seed", "yaw_range", "pitch_range", "radius_jitter",
            "pivot_jitter", "sketch_style", "mesh_res", "extras")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m training.make_dataset", description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=("face", "cat"), required=True)
    ap.add_argument("--count", type=int, required=True, help="training samples (views)")
    ap.add_argument("--test-count", type=int, default=None, help="held-out samples (default: count // 10)")
    ap.add_argument("--out", required=True, help="output folder (created; resumed if it exists)")
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--views-per-identity", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0, help="dataset seed in [0, 1000)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--yaw-range", type=float, default=None, help="max |yaw| offset in radians (default: engine's)")
    ap.add_argument("--pitch-range", type=float, default=None, help="max |pitch| offset in radians")
    ap.add_argument("--radius-jitter", type=float, default=0.0, help="relative camera radius jitter")
    ap.add_argument("--pivot-jitter", type=float, default=0.0, help="look-at point jitter (world units)")
    ap.add_argument("--sketch-style", choices=("random", "contour", "hand", "xdog"), default="random")
    ap.add_argument("--mesh-res", type=int, default=0, help="also write GT meshes at this grid size (0 = no)")
    ap.add_argument("--no-extras", dest="extras", action="store_false", help="skip depth/alpha npz files")
    ap.add_argument("--zip", action="store_true", help="also pack pix2pix3D zips next to the folders")
    ap.add_argument("--sheet", type=int, default=16, help="samples on the contact sheet (0 = none)")
    args = ap.parse_args(argv)
    if args.count < 0 or (args.test_count is not None and args.test_count < 0):
        ap.error("counts must be >= 0")
    if args.res < 16:
        ap.error("--res must be at least 16")
    if args.views_per_identity < 1:
        ap.error("--views-per-identity must be >= 1")
    if not 0 <= args.seed < 1000:
        ap.error("--seed must lie in [0, 1000)")
    if args.mesh_res and (args.mesh_res < 16 or args.mesh_res % 4):
        ap.error("--mesh-res must be 0 or a multiple of 4, at least 16")
    if args.test_count is None:
        args.test_count = args.count // 10
    return args


def _init_worker() -> None:
    set_single_thread()


def _render_identity(job: tuple) -> list[dict]:
    """Worker: render and write the missing views of one identity; returns their metas."""
    root, split, identity, ks, views, settings = job
    layout = DatasetLayout(root)
    head = make_head(settings["kind"], identity)
    style = None if settings["sketch_style"] == "random" else settings["sketch_style"]
    metas = []
    for k in ks:
        sample = render_sample(settings["kind"], identity, k % views, settings["res"], sketch_style=style,
                               yaw_range=settings["yaw_range"], pitch_range=settings["pitch_range"],
                               radius_jitter=settings["radius_jitter"], pivot_jitter=settings["pivot_jitter"], head=head)
        metas.append(write_sample(layout, split, k, sample, extras=settings["extras"]))
    if settings["mesh_res"] and not layout.mesh(split, identity).is_file():
        import io

        import numpy as np

        from training.data.gt_mesh import head_mesh

        mesh = head_mesh(head, settings["mesh_res"])
        buf = io.BytesIO()
        np.savez_compressed(buf, vertices=mesh.vertices, faces=mesh.faces.astype(np.int32), labels=mesh.labels)
        atomic_write_bytes(layout.mesh(split, identity), buf.getvalue())
    return metas


def plan_jobs(layout: DatasetLayout, split: str, count: int, views: int, seed: int, settings: dict) -> list[tuple]:
    """One job per identity with at least one missing sample."""
    jobs = []
    for index in range(math.ceil(count / views)):
        ks = [k for k in range(index * views, min(count, (index + 1) * views)) if not layout.done(split, k)]
        identity = identity_seed(split, index, seed)
        mesh_missing = settings["mesh_res"] and not layout.mesh(split, identity).is_file()
        if ks or mesh_missing:
            jobs.append((str(layout.root), split, identity, ks, views, settings))
    return jobs


def check_settings(layout: DatasetLayout, settings: dict) -> None:
    info = layout.root / "dataset_info.json"
    if info.is_file():
        old = json.loads(info.read_text())
        diff = {k: (old.get(k), settings[k]) for k in SETTINGS if old.get(k) != settings[k]}
        if diff:
            raise SystemExit(f"error: {layout.root} was made with other settings {diff}; "
                             "use the same options to resume or another --out folder")
    atomic_write_json(info, settings)


def run(args: argparse.Namespace) -> dict:
    layout = DatasetLayout(args.out)
    layout.root.mkdir(parents=True, exist_ok=True)
    settings = {k: getattr(args, k) for k in SETTINGS}
    check_settings(layout, settings)
    counts = {"train": args.count, "test": args.test_count}
    jobs = [j for split, n in counts.items() for j in plan_jobs(layout, split, n, args.views_per_identity, args.seed, settings)]
    todo = sum(len(j[3]) for j in jobs)
    start = time.perf_counter()
    bar = tqdm(total=sum(counts.values()), initial=sum(counts.values()) - todo, unit="view", desc=f"{args.kind} {args.res}px")
    workers = max(1, min(args.workers, len(jobs)))
    if args.kind == "face" and jobs:
        from training.data.face_template import face_template

        face_template()  # built once here, inherited by forked workers
    if workers == 1:
        _init_worker()
        for job in jobs:
            bar.update(len(_render_identity(job)))
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for metas in pool.imap_unordered(_render_identity, jobs):
                bar.update(len(metas))
    bar.close()
    elapsed = time.perf_counter() - start
    summary = {"rendered": todo, "seconds": elapsed, "views_per_s": todo / elapsed if elapsed > 0 and todo else None}
    for split, n in counts.items():
        if n == 0:
            continue
        metas = read_metas(layout, split, n)
        write_dataset_json(layout, split, metas)
        if args.zip:
            for sub in ("images", "masks", "edges"):
                zip_folder(layout.root / "pix2pix3d" / split / sub, layout.root / "pix2pix3d" / f"{split}_{sub}.zip")
        if split == "train":
            rows = class_frequency(metas, args.kind)
            table = frequency_table(rows, n)
            atomic_write_json(layout.root / "class_frequency.json", rows)
            atomic_write_bytes(layout.root / "class_frequency.md", (table + "\n").encode())
            summary["table"] = table
    if args.sheet and args.count:
        stride = args.views_per_identity if args.count >= args.sheet * args.views_per_identity else 1
        sheet = contact_sheet(layout, "train", args.kind, args.count, n=args.sheet, stride=stride)
        # a quick-look image: a 256-colour palette keeps it small enough to commit or mail
        sheet.quantize(256, dither=0).save(layout.root / "contact_sheet.png", optimize=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = run(args)
    if summary["rendered"]:
        print(f"rendered {summary['rendered']} views in {summary['seconds']:.1f} s "
              f"({summary['views_per_s']:.2f} views/s with {args.workers} workers)")
    else:
        print("nothing to render: the dataset is complete")
    if "table" in summary:
        print(f"class frequencies of the train split ({args.count} samples):")
        print(summary["table"])
    print(f"wrote {Path(args.out).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
