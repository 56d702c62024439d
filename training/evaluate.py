"""Held-out evaluation of trained weights, and the choice of the mesh iso-level.

* Masks: the U-Net on held-out sketches (no augmentation) against the GT label maps: pixel
  accuracy and mIoU (per-class IoU accumulated over the whole set, averaged over the classes
  present in the GT or the prediction; S3D-style).
* Meshes: the generator conditioned on a GT label map (or on the U-Net's mask of the sketch)
  and its camera; marching cubes on the raw-sigma grid at candidate levels; Chamfer distance
  (mean of both directions, world units, vertex-to-nearest-vertex) to the GT mesh, and the
  per-vertex label accuracy (label of the nearest GT vertex).
* `--choose-level` picks the level with the lowest mean Chamfer distance on validation
  identities (training-split identities with indices never used by the dataset).

    python -m training.evaluate --weights weights/face.safetensors --data out/face_data
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from s3d_engine.mesh.cleanup import largest_component
from s3d_engine.mesh.grid import DensityLattice
from s3d_engine.mesh.isosurface import choose_level, extract_isosurface
from s3d_engine.mesh.attributes import vertex_attributes
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_into, load_weights

from .arrays import Arrays, load_folder, render_arrays

DEFAULT_LEVELS = (0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0)


def mask_metrics(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> dict:
    """pred, gt (N, H, W) -> pixel accuracy, mIoU, per-class IoU (None where a class never occurs)."""
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    for c in range(num_classes):
        p, g = pred == c, gt == c
        inter[c] = np.logical_and(p, g).sum()
        union[c] = np.logical_or(p, g).sum()
    iou = [float(inter[c] / union[c]) if union[c] > 0 else None for c in range(num_classes)]
    valid = [v for v in iou if v is not None]
    fg = gt > 0
    return {"pixel_accuracy": float((pred == gt).mean()), "foreground_accuracy": float((pred[fg] == gt[fg]).mean()),
            "miou": float(np.mean(valid)), "iou": iou}


@torch.no_grad()
def predict_masks(U: UNetStyleDistil, sketches: np.ndarray, batch: int = 16) -> np.ndarray:
    U.eval()
    res = U.config.resolution
    out = []
    for i in range(0, len(sketches), batch):
        x = torch.from_numpy(sketches[i:i + batch].astype(np.float32) / 255.0)[:, None]
        if x.shape[-1] != res:
            x = torch.nn.functional.interpolate(x, size=(res, res), mode="bilinear", antialias=True)
        out.append(U(x)[0].argmax(1).to(torch.uint8).numpy())
    return np.concatenate(out)


@torch.no_grad()
def field_grid(G: TriPlaneGenerator, mask: np.ndarray, camera: np.ndarray, seed: int = 0, resolution: int = 129):
    z = torch.randn(1, G.config.generator.z_dim, generator=torch.Generator().manual_seed(seed))
    ws = G.mapping(z, torch.from_numpy(camera)[None].float(), mask=torch.from_numpy(mask.astype(np.int64))[None])
    planes = G.planes(ws)
    grid = DensityLattice(planes, G.decoder, resolution, G.render_options.box_warp).dense(step=1).cpu().numpy()
    return planes, grid


def chamfer(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """Symmetric mean nearest-vertex distance and, for each point of a, its nearest index in b."""
    from scipy.spatial import cKDTree

    da, ia = cKDTree(b).query(a)
    db, _ = cKDTree(a).query(b)
    return 0.5 * (float(da.mean()) + float(db.mean())), ia


def mesh_scores(G: TriPlaneGenerator, planes, grid: np.ndarray, gt, levels) -> dict[float, dict]:
    box = G.render_options.box_warp
    out = {}
    for level in levels:
        if choose_level(grid, level) is None:
            out[level] = None
            continue
        v, f = extract_isosurface(grid, level, box)
        v, f = largest_component(v, f)
        if len(v) == 0:
            out[level] = None
            continue
        cd, nearest = chamfer(v, gt.vertices)
        _, labels = vertex_attributes(planes, G.decoder, v, G.num_classes, box)
        acc = float((labels == gt.labels[nearest]).mean())
        out[level] = {"chamfer": cd, "label_accuracy": acc, "vertices": int(len(v))}
    return out


def evaluate_meshes(G: TriPlaneGenerator, arrays: Arrays, levels, masks: np.ndarray | None = None,
                    max_identities: int = 6, mesh_res: int = 128) -> dict:
    """One view (the first) per identity; `masks` replaces the GT label maps (e.g. U-Net output)."""
    from training.data.gt_mesh import head_mesh
    from training.data.sample import make_head

    per_level: dict[float, list] = {lv: [] for lv in levels}
    seen = 0
    for idx in arrays.groups():
        if seen >= max_identities:
            break
        i = int(idx[0])
        m = arrays.labels[i] if masks is None else masks[i]
        planes, grid = field_grid(G, m, arrays.camera[i])
        gt = head_mesh(make_head(G.config.domain, int(arrays.identity[i])), res=mesh_res)
        for lv, s in mesh_scores(G, planes, grid, gt, levels).items():
            per_level[lv].append(s)
        seen += 1
    summary = {}
    for lv, rows in per_level.items():
        ok = [r for r in rows if r is not None]
        summary[str(lv)] = None if len(ok) < len(rows) or not ok else {
            "chamfer": float(np.mean([r["chamfer"] for r in ok])),
            "label_accuracy": float(np.mean([r["label_accuracy"] for r in ok])),
            "identities": len(ok)}
    return summary


def best_level(summary: dict) -> float:
    ok = {float(k): v["chamfer"] for k, v in summary.items() if v is not None}
    if not ok:
        raise RuntimeError("no candidate level produced a surface for every identity")
    return min(ok, key=ok.get)


def load_models(path: str):
    w = load_weights(path)
    G = TriPlaneGenerator(w.config)
    load_into(G, w.state_dict("generator"), path)
    U = None
    if "unet" in w.tensors:
        U = UNetStyleDistil(w.config.unet, w.config.num_classes)
        load_into(U, w.state_dict("unet"), path)
        U.eval()
    return w, G.eval(), U


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="generator (+ U-Net) .safetensors")
    ap.add_argument("--unet", default=None, help="U-Net .safetensors, if not in --weights")
    ap.add_argument("--data", required=True, help="dataset folder (its test split is held out)")
    ap.add_argument("--levels", type=float, nargs="+", default=list(DEFAULT_LEVELS))
    ap.add_argument("--choose-level", action="store_true", help="pick the level on validation identities")
    ap.add_argument("--val-identities", type=int, default=4)
    ap.add_argument("--test-identities", type=int, default=6)
    ap.add_argument("--out", default=None, help="write the metrics JSON here")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    w, G, U = load_models(args.weights)
    if args.unet:
        uw = load_weights(args.unet)
        U = UNetStyleDistil(uw.config.unet, uw.config.num_classes)
        load_into(U, uw.state_dict("unet"), args.unet)
        U.eval()
    domain = w.config.domain
    results: dict = {"weights": str(args.weights)}
    t0 = time.time()
    level = w.config.mesh_level
    if args.choose_level:
        val = render_arrays(domain, "train", args.val_identities, 1, G.config.generator.mask_resolution,
                            first_index=500_000)
        summary = evaluate_meshes(G, val, args.levels, max_identities=args.val_identities)
        level = best_level(summary)
        results["validation_levels"] = summary
        results["mesh_level"] = level
        print("validation:", json.dumps(summary), "-> level", level, flush=True)
    test = load_folder(args.data, "test")
    if U is not None:
        pred = predict_masks(U, test.sketch)
        results["masks"] = mask_metrics(pred, test.labels, w.config.num_classes)
        results["masks"]["views"] = int(len(test))
        print("masks:", {k: v for k, v in results["masks"].items() if k != "iou"}, flush=True)
    results["mesh_gt_mask"] = evaluate_meshes(G, test, [level], max_identities=args.test_identities)
    print("test meshes (GT masks):", results["mesh_gt_mask"], flush=True)
    if U is not None:
        results["mesh_sketch"] = evaluate_meshes(G, test, [level], masks=pred, max_identities=args.test_identities)
        print("test meshes (sketch -> U-Net mask):", results["mesh_sketch"], flush=True)
    results["seconds"] = round(time.time() - t0, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
