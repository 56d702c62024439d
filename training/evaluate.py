"""Held-out evaluation of trained weights (docs/TRAINING.md), as JSON plus a Markdown table.

All figures are on test identities (`identity_seed("test", k)`, never rendered for training);
the metric definitions live in `training.metrics` and are proven there by known-answer tests.

* Masks: the U-Net on held-out sketches (no augmentation) against the GT label maps: pixel
  accuracy, per-class IoU and mIoU over the classes present.
* Meshes, for the first view of each test identity, conditioned on (a) its GT label map and
  (b) end to end on the U-Net's mask of its sketch, with that view's camera and z from seed 0:
  marching cubes on the raw sigma at the configuration's level, largest component; then
  Chamfer and F-score at 1 % and 2 % of the box from `SURFACE_POINTS` area-uniform samples of
  each of the predicted and the GT mesh (`training.data.gt_mesh.head_mesh`) to the other
  mesh's surface (`training.metrics.surface_chamfer_fscore`: exact point-to-triangle
  distances, so a perfect mesh scores 0. The sample-to-sample distances used until the fifth
  session of 2026-12-03, JSON without "chamfer_to", carried a floor of ~0.0035 at 20,000
  samples), and the per-vertex label accuracy (decoder argmax at each vertex against the
  label of the nearest GT vertex).
* SG mIoU: the super-resolved semantic render at the input camera against the input GT mask
  (and per class, `sg_iou`).
* Front-view PSNR: the super-resolved RGB at the input camera against the GT view composited
  on black (the generator renders empty space black).
* Baseline "another identity's GT head": GT mesh j scored against GT mesh i (i != j).
* Conditioning sensitivity: mean Chamfer between the predicted meshes of different identities
  divided by the mean Chamfer between their GT meshes (same pairs). ~0 means every mask gives
  the same head; ~1 means the outputs differ as much as the people do.
* Seed diversity: on the GT masks of the first `SEED_IDENTITIES` test identities, the front
  renders of `SEEDS` seeds; the spread (`training.metrics.colour_spread`) of their part colours
  (skin, hair, cloth; cat: face, eye, nose, each where the input mask puts it) over the
  seeds, divided by the spread of the same parts over the GT views of all test identities. ~0
  means the seed changes nothing; ~1 means seeds vary colours as much as people do.
* `--choose-level` picks the iso-level with the lowest mean Chamfer on validation identities
  (training-split indices >= 500,000, never rendered for training).

    python -m training.evaluate --weights weights/face.safetensors --data out/face_data --out out/eval.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from s3d_engine.mesh.attributes import vertex_attributes
from s3d_engine.mesh.cleanup import largest_component
from s3d_engine.mesh.grid import DensityLattice
from s3d_engine.mesh.isosurface import choose_level, extract_isosurface
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_into, load_weights

from .arrays import Arrays, load_folder, render_arrays
from .field_samples import surface_points
from .appearance import PALETTE_PARTS
from .metrics import colour_spread, label_accuracy, mask_iou, part_colours, point_distances, psnr, surface_chamfer_fscore

DEFAULT_LEVELS = (0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0)
SURFACE_POINTS = 20000
SENSITIVITY_POINTS = 5000  # per surface and pair: 2 x 66 pairs of 12 identities, each to the other surface
THRESHOLDS = (0.01, 0.02)  # 1 % and 2 % of the 1.0-wide box
SEEDS = 6
SEED_IDENTITIES = 3


@torch.no_grad()
def predict_logits(U: UNetStyleDistil, sketches: np.ndarray, batch: int = 16) -> torch.Tensor:
    """U-Net logits (N, C, R, R) of uint8 sketches (N, H, W), resized to the U-Net's resolution R."""
    U.eval()
    res = U.config.resolution
    out = []
    for i in range(0, len(sketches), batch):
        x = torch.from_numpy(sketches[i:i + batch].astype(np.float32) / 255.0)[:, None]
        if x.shape[-1] != res:
            x = torch.nn.functional.interpolate(x, size=(res, res), mode="bilinear", antialias=True)
        out.append(U(x)[0])
    return torch.cat(out)


def predict_masks(U: UNetStyleDistil, sketches: np.ndarray, batch: int = 16) -> np.ndarray:
    """U-Net argmax masks (N, R, R) uint8 of uint8 sketches (N, H, W)."""
    return predict_logits(U, sketches, batch).argmax(1).to(torch.uint8).numpy()


@torch.no_grad()
def condition(G: TriPlaneGenerator, mask: np.ndarray, camera: np.ndarray, seed: int = 0):
    """ws and tri-planes for a label map and camera, z from `seed`."""
    z = torch.randn(1, G.config.generator.z_dim, generator=torch.Generator().manual_seed(seed))
    c = torch.from_numpy(camera)[None].float()
    ws = G.mapping(z, c, mask=torch.from_numpy(mask.astype(np.int64))[None])
    return ws, G.planes(ws)


@torch.no_grad()
def field_grid(G: TriPlaneGenerator, planes: torch.Tensor, resolution: int = 129) -> np.ndarray:
    return DensityLattice(planes, G.decoder, resolution, G.render_options.box_warp).dense(step=1).cpu().numpy()


def predicted_mesh(G: TriPlaneGenerator, planes, grid: np.ndarray, level: float):
    """Largest component of the iso-surface and its vertex labels, or None if there is none."""
    if choose_level(grid, level) is None:
        return None
    v, f = extract_isosurface(grid, level, G.render_options.box_warp)
    v, f = largest_component(v, f)
    if len(v) == 0:
        return None
    _, labels = vertex_attributes(planes, G.decoder, v, G.num_classes, G.render_options.box_warp)
    return v, f, labels


def surface_sample(vertices: np.ndarray, faces: np.ndarray, seed: int = 0) -> np.ndarray:
    return surface_points(vertices, faces, SURFACE_POINTS, np.random.default_rng(seed))


def mesh_scores(mesh, gt, gt_pts: np.ndarray) -> dict:
    """Chamfer / F-score from surface samples to the other surface (`surface_chamfer_fscore`), and
    per-vertex label accuracy; "surface" keeps the prediction's (samples, (vertices, faces))."""
    v, f, labels = mesh
    pts = surface_sample(v, f)
    scores = surface_chamfer_fscore(pts, (v, f), gt_pts, (gt.vertices, gt.faces), THRESHOLDS)
    near = point_distances(v, gt.vertices)[1]
    return {"chamfer": scores["chamfer"], "fscore": scores["fscore"],
            "label_accuracy": label_accuracy(labels, gt.labels, near), "vertices": int(len(v)),
            "surface": (pts, (v, f))}


@torch.no_grad()
def render_at(G: TriPlaneGenerator, planes, ws, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Super-resolved RGB (H, W, 3) in [0, 1] and argmax labels (H, W) at a camera."""
    out = G.render(planes, ws, torch.from_numpy(camera)[None].float(), generator=torch.Generator().manual_seed(0))
    rgb = ((out["image"][0].clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
    return rgb, out["semantic"][0].argmax(0).numpy().astype(np.uint8)


def _resize_labels(labels: np.ndarray, res: int) -> np.ndarray:
    t = torch.from_numpy(labels.astype(np.float32))[None, None]
    return torch.nn.functional.interpolate(t, size=(res, res), mode="nearest")[0, 0].numpy().astype(np.uint8)


def _gt_view(arrays: Arrays, i: int, res: int) -> np.ndarray:
    rgb = arrays.rgb[i].astype(np.float32) / 255.0 * arrays.alpha[i][..., None]
    if rgb.shape[0] != res:
        t = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        rgb = torch.nn.functional.interpolate(t, size=(res, res), mode="area")[0].permute(1, 2, 0).numpy()
    return rgb


def _mean(rows: list[dict], key: str):
    vals = [r[key] for r in rows]
    if isinstance(vals[0], dict):
        return {k: float(np.mean([v[k] for v in vals])) for k in vals[0]}
    return float(np.mean(vals))


def evaluate_identities(G: TriPlaneGenerator, arrays: Arrays, level: float, max_identities: int,
                        masks: np.ndarray | None = None, renders: bool = True, gt_cache: dict | None = None) -> dict:
    """Mesh (and, with `renders`, SG mIoU and PSNR) figures over the first view of each identity;
    `masks` replaces the GT label maps (the U-Net's output, end to end)."""
    from training.data.gt_mesh import head_mesh
    from training.data.sample import make_head

    gt_cache = {} if gt_cache is None else gt_cache
    rows, preds, gts, sg_pred, sg_gt, psnrs = [], [], [], [], [], []
    failures = 0
    for idx in arrays.groups()[:max_identities]:
        i = int(idx[0])
        ident = int(arrays.identity[i])
        mask = arrays.labels[i] if masks is None else masks[i]
        ws, planes = condition(G, mask, arrays.camera[i])
        if ident not in gt_cache:
            gt = head_mesh(make_head(G.config.domain, ident), res=128)
            gt_cache[ident] = (gt, surface_sample(gt.vertices, gt.faces))
        gt, gt_pts = gt_cache[ident]
        mesh = predicted_mesh(G, planes, field_grid(G, planes), level)
        if mesh is None:
            failures += 1
            continue
        s = mesh_scores(mesh, gt, gt_pts)
        preds.append(s.pop("surface"))
        gts.append((gt_pts, (gt.vertices, gt.faces)))
        rows.append(s)
        if renders:
            rgb, labels = render_at(G, planes, ws, arrays.camera[i])
            sg_pred.append(labels)
            sg_gt.append(_resize_labels(arrays.labels[i], labels.shape[0]))
            psnrs.append(psnr(rgb, _gt_view(arrays, i, rgb.shape[0])))
    if not rows:
        return {"identities": 0, "failures": failures}
    out = {"identities": len(rows), "failures": failures, "chamfer": _mean(rows, "chamfer"),
           "fscore": _mean(rows, "fscore"), "label_accuracy": _mean(rows, "label_accuracy")}
    if renders:
        sg = mask_iou(np.stack(sg_pred), np.stack(sg_gt), G.num_classes)
        out["sg_miou"], out["sg_iou"] = sg["miou"], sg["iou"]
        out["psnr"] = float(np.mean(psnrs))
    if len(preds) > 1:
        out["sensitivity"] = conditioning_sensitivity(preds, gts)
    return out


def conditioning_sensitivity(preds: list, gts: list, points: int = SENSITIVITY_POINTS) -> float:
    """mean_{i<j} Chamfer(pred_i, pred_j) / mean_{i<j} Chamfer(gt_i, gt_j); each entry is a surface
    (samples, (vertices, faces)), of which the first `points` samples are used (they are i.i.d.)."""
    def chamfer(a, b) -> float:
        return surface_chamfer_fscore(a[0][:points], a[1], b[0][:points], b[1], ())["chamfer"]

    pairs = [(i, j) for i in range(len(preds)) for j in range(i + 1, len(preds))]
    num = np.mean([chamfer(preds[i], preds[j]) for i, j in pairs])
    den = np.mean([chamfer(gts[i], gts[j]) for i, j in pairs])
    return float(num / den)


def seed_diversity(G: TriPlaneGenerator, arrays: Arrays, identities: int = SEED_IDENTITIES,
                   seeds: int = SEEDS) -> dict:
    """Part-colour spread over seeds on one mask, relative to the spread over people."""
    from s3d_engine.labels import label_set

    names = label_set(G.config.domain).names
    parts = [names.index(n) for n in PALETTE_PARTS[G.config.domain]]
    groups = arrays.groups()
    over_seeds = []
    for idx in groups[:identities]:
        i = int(idx[0])
        cols = []
        for seed in range(seeds):
            ws, planes = condition(G, arrays.labels[i], arrays.camera[i], seed=seed)
            rgb, _ = render_at(G, planes, ws, arrays.camera[i])
            cols.append(part_colours(rgb, _resize_labels(arrays.labels[i], rgb.shape[0]), parts))
        over_seeds.append(colour_spread(np.stack(cols)))
    people = [part_colours(_gt_view(arrays, int(idx[0]), arrays.labels.shape[-1]), arrays.labels[int(idx[0])], parts)
              for idx in groups]
    spread_people = colour_spread(np.stack(people))
    spread_seeds = float(np.nanmean(over_seeds))
    return {"seeds": seeds, "identities": min(identities, len(groups)), "spread_seeds": spread_seeds,
            "spread_people": spread_people, "ratio": spread_seeds / spread_people}


def other_identity_baseline(gt_cache: dict) -> dict:
    """GT mesh of identity j as the prediction for identity i (consecutive pairs, both ways)."""
    ids = list(gt_cache)
    rows = []
    for a, b in zip(ids, ids[1:] + ids[:1]):
        if a == b:
            continue
        gt_a, pts_a = gt_cache[a]
        gt_b, pts_b = gt_cache[b]
        s = surface_chamfer_fscore(pts_b, (gt_b.vertices, gt_b.faces), pts_a, (gt_a.vertices, gt_a.faces), THRESHOLDS)
        near = point_distances(gt_b.vertices, gt_a.vertices)[1]
        rows.append({"chamfer": s["chamfer"], "fscore": s["fscore"],
                     "label_accuracy": label_accuracy(gt_b.labels, gt_a.labels, near)})
    if not rows:
        return {}
    return {"pairs": len(rows), "chamfer": _mean(rows, "chamfer"), "fscore": _mean(rows, "fscore"),
            "label_accuracy": _mean(rows, "label_accuracy")}


def choose_mesh_level(G: TriPlaneGenerator, arrays: Arrays, levels, max_identities: int) -> tuple[float, dict]:
    summary = {}
    for level in levels:
        r = evaluate_identities(G, arrays, level, max_identities, renders=False)
        summary[str(level)] = r if r["identities"] == max_identities else None
    ok = {float(k): v["chamfer"] for k, v in summary.items() if v is not None}
    if not ok:
        raise RuntimeError("no candidate level produced a surface for every identity")
    return min(ok, key=ok.get), summary


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


def evaluate(G: TriPlaneGenerator, U: UNetStyleDistil | None, test: Arrays, level: float, identities: int,
             diversity: bool = True) -> dict:
    """Every held-out figure for one model (see the module docstring); `diversity`: also the
    seed-diversity figure (SEEDS x SEED_IDENTITIES extra renders)."""
    results: dict = {"mesh_level": level, "chamfer_to": "surface"}
    gt_cache: dict = {}
    pred = None
    if U is not None:
        pred = predict_masks(U, test.sketch)
        results["masks"] = mask_iou(pred, test.labels, G.num_classes)
        results["masks"]["views"] = int(len(test))
    results["gt_mask"] = evaluate_identities(G, test, level, identities, gt_cache=gt_cache)
    if pred is not None:
        results["sketch"] = evaluate_identities(G, test, level, identities, masks=pred, gt_cache=gt_cache)
    results["other_identity"] = other_identity_baseline(gt_cache)
    if diversity:
        results["seed_diversity"] = seed_diversity(G, test)
    return results


def smoke_metrics(G: TriPlaneGenerator, U: UNetStyleDistil | None, level: float, identities: int = 2) -> dict:
    """A small fixed held-out set that needs no dataset folder: the first `identities` test
    identities of seed 0, view 0, rendered at the mask resolution. Its figures are stored in
    the weights sidecar and recomputed by the shipped-weights test."""
    test = render_arrays(G.config.domain, "test", identities, 1, G.config.generator.mask_resolution)
    r = evaluate(G, U, test, level, identities, diversity=False)
    keep = ("chamfer", "fscore", "label_accuracy", "sg_miou")
    out = {"identities": identities, "gt_mask": {k: r["gt_mask"].get(k) for k in keep}}
    if "masks" in r:
        out["mask_miou"] = r["masks"]["miou"]
        out["sketch"] = {k: r["sketch"].get(k) for k in keep}
    return out


def markdown_table(results: dict, names: tuple[str, ...]) -> str:
    """The headline figures as a Markdown table (class names for the per-class IoU row)."""
    g, s, o, m = (results.get(k, {}) for k in ("gt_mask", "sketch", "other_identity", "masks"))
    f = lambda x, d=3: "-" if x is None else f"{x:.{d}f}"  # noqa: E731
    fs = lambda r, t: f(r.get("fscore", {}).get(t)) if r else "-"  # noqa: E731
    rows = ["| metric | from GT mask | end to end (sketch) | other identity's GT head |", "|---|---:|---:|---:|"]
    rows.append(f"| Chamfer (box = 1) | {f(g.get('chamfer'), 4)} | {f(s.get('chamfer'), 4)} | {f(o.get('chamfer'), 4)} |")
    for t in ("0.01", "0.02"):
        rows.append(f"| F-score@{float(t):.0%} | {fs(g, t)} | {fs(s, t)} | {fs(o, t)} |")
    rows.append(f"| per-vertex label accuracy | {f(g.get('label_accuracy'))} | {f(s.get('label_accuracy'))} | "
                f"{f(o.get('label_accuracy'))} |")
    rows.append(f"| SG mIoU (render vs input mask) | {f(g.get('sg_miou'))} | {f(s.get('sg_miou'))} | |")
    rows.append(f"| front-view PSNR (dB) | {f(g.get('psnr'), 2)} | {f(s.get('psnr'), 2)} | |")
    rows.append(f"| conditioning sensitivity | {f(g.get('sensitivity'))} | {f(s.get('sensitivity'))} | 1 (by definition) |")
    d = results.get("seed_diversity")
    if d:
        rows.append(f"| seed diversity (colour spread over {d['seeds']} seeds / over people) | {f(d['ratio'])} | | |")
    if m:
        rows.append(f"| U-Net mask mIoU ({m['views']} views) | | {f(m['miou'])} | |")
        per = " · ".join(f"{n} {f(v, 2)}" for n, v in zip(names, m["iou"]) if v is not None)
        rows.append("")
        rows.append(f"Per-class mask IoU: {per}")
    if g.get("sg_iou"):
        per = " · ".join(f"{n} {f(v, 2)}" for n, v in zip(names, g["sg_iou"]) if v is not None)
        rows.append("")
        rows.append(f"Per-class SG IoU (render from the GT mask vs the mask): {per}")
    return "\n".join(rows) + "\n"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="generator (+ U-Net) .safetensors")
    ap.add_argument("--unet", default=None, help="U-Net .safetensors, if not in --weights")
    ap.add_argument("--data", required=True, help="dataset folder (its test split is held out)")
    ap.add_argument("--levels", type=float, nargs="+", default=list(DEFAULT_LEVELS))
    ap.add_argument("--choose-level", action="store_true", help="pick the level on validation identities")
    ap.add_argument("--val-identities", type=int, default=4)
    ap.add_argument("--test-identities", type=int, default=12)
    ap.add_argument("--smoke-identities", type=int, default=2,
                    help="also score this many test identities rendered on the fly (no dataset needed): the "
                         "'smoke' block that tests/engine/test_shipped_weights.py recomputes (0 = skip)")
    ap.add_argument("--out", default=None, help="write the metrics JSON here (and a .md table beside it)")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    for path in [args.weights] + ([args.unet] if args.unet else []):
        if not Path(path).is_file():
            raise SystemExit(f"error: weights file {path} does not exist")
    if not (Path(args.data) / "meta" / "test").is_dir():
        raise SystemExit(f"error: {args.data} has no test split (meta/test); make it with training.make_dataset")
    w, G, U = load_models(args.weights)
    if args.unet:
        uw = load_weights(args.unet)
        U = UNetStyleDistil(uw.config.unet, uw.config.num_classes)
        load_into(U, uw.state_dict("unet"), args.unet)
        U.eval()
    t0 = time.time()
    level = w.config.mesh_level
    extra = {}
    if args.choose_level:
        val = render_arrays(w.config.domain, "train", args.val_identities, 1, G.config.generator.mask_resolution,
                            first_index=500_000)
        level, summary = choose_mesh_level(G, val, args.levels, args.val_identities)
        extra["validation_levels"] = summary
        print("validation:", json.dumps(summary), "-> level", level, flush=True)
    results = {"weights": str(args.weights), **extra, **evaluate(G, U, load_folder(args.data, "test"), level,
                                                                  args.test_identities)}
    if args.smoke_identities > 0:
        results["smoke"] = smoke_metrics(G, U, level, args.smoke_identities)
    results["seconds"] = round(time.time() - t0, 1)
    from s3d_engine.labels import label_set

    table = markdown_table(results, tuple(label_set(w.config.domain).names))
    print(table, flush=True)
    if args.out:
        from s3d_engine.io_utils import write_text_atomic

        write_text_atomic(Path(args.out), json.dumps(results, indent=2) + "\n")
        write_text_atomic(Path(args.out).with_suffix(".md"), table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
