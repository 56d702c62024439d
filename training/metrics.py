"""Evaluation metrics, pure numpy (+ scipy's k-d tree). The definitions live in the docstrings;
tests/training/test_metrics.py checks each against answers worked out by hand.

* Masks: pixel accuracy, foreground accuracy, per-class IoU and mIoU (S3D-style: IoU summed over
  the whole set, averaged over the classes that occur in the GT or the prediction).
* Surfaces: Chamfer distance (mean of both directions), precision / recall / F-score at
  distance thresholds (Tatarchenko et al. 2019), from samples on one mesh to the other mesh
  (exact point-to-triangle distances, `training.surface_distance`), or between two point sets;
  the per-vertex label accuracy through the nearest GT point.
* Images: PSNR; per-part mean colours and their spread over a set (seed diversity).

Distances are in world units: the EG3D box is 1.0 wide, so a threshold of 0.01 is 1 % of the box.
"""
from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLDS = (0.01, 0.02)


def mask_iou(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> dict:
    """Segmentation metrics of integer label maps `pred` and `gt` of the same shape (e.g. (N, H, W)).

    * pixel_accuracy = #(pred == gt) / #pixels.
    * foreground_accuracy = the same over the pixels where gt > 0 (NaN when there are none).
    * iou[c] = #(pred == c AND gt == c) / #(pred == c OR gt == c), counted over all pixels at once;
      None where class c occurs in neither map (its union is empty).
    * miou = the mean of iou[c] over the classes that are not None, i.e. present in gt or pred
      (absent classes are not counted as 0 or 1).
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ in shape")
    iou: list[float | None] = []
    for c in range(num_classes):
        p, g = pred == c, gt == c
        union = int(np.logical_or(p, g).sum())
        inter = int(np.logical_and(p, g).sum())
        iou.append(inter / union if union > 0 else None)
    present = [v for v in iou if v is not None]
    fg = gt > 0
    return {
        "pixel_accuracy": float((pred == gt).mean()),
        "foreground_accuracy": float((pred[fg] == gt[fg]).mean()) if fg.any() else float("nan"),
        "miou": float(np.mean(present)) if present else float("nan"),
        "iou": iou,
    }


def point_distances(pred_pts: np.ndarray, gt_pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest-neighbour distances between point sets pred (P, 3) and gt (G, 3).

    Returns (d_pred_to_gt (P,), nearest_idx_in_gt (P,), d_gt_to_pred (G,)): for each pred point the
    Euclidean distance to, and the index of, its nearest gt point; for each gt point the distance
    to its nearest pred point."""
    from scipy.spatial import cKDTree

    pred_pts = np.asarray(pred_pts, dtype=np.float64).reshape(-1, 3)
    gt_pts = np.asarray(gt_pts, dtype=np.float64).reshape(-1, 3)
    if len(pred_pts) == 0 or len(gt_pts) == 0:
        raise ValueError("Chamfer distance needs two non-empty point sets")
    d_pred, nearest = cKDTree(gt_pts).query(pred_pts)
    d_gt, _ = cKDTree(pred_pts).query(gt_pts)
    return d_pred, nearest, d_gt


def chamfer_fscore(pred_pts: np.ndarray, gt_pts: np.ndarray, thresholds=DEFAULT_THRESHOLDS) -> dict:
    """Chamfer distance and F-scores of point sets pred (P, 3) against gt (G, 3), each point's
    distance taken to the nearest point of the other set (see `distance_scores`; "nearest": the
    index of each pred point's nearest gt point). Between samplings of two surfaces this carries
    a sampling floor; `surface_chamfer_fscore` measures to the surfaces themselves."""
    d_pred, nearest, d_gt = point_distances(pred_pts, gt_pts)
    return {**distance_scores(d_pred, d_gt, thresholds), "nearest": nearest}


def surface_chamfer_fscore(pred_pts: np.ndarray, pred_mesh, gt_pts: np.ndarray, gt_mesh,
                           thresholds=DEFAULT_THRESHOLDS) -> dict:
    """Chamfer distance and F-scores between two triangle meshes, from points sampled on each:
    d_pred = distance of each pred sample to the gt *surface*, d_gt = distance of each gt sample
    to the pred surface (`training.surface_distance`), scored by `distance_scores`. Meshes are
    (vertices, faces) pairs; a surface against itself scores Chamfer 0 and F-score 1."""
    from .surface_distance import point_to_mesh_distance

    d_pred = point_to_mesh_distance(pred_pts, *gt_mesh)
    d_gt = point_to_mesh_distance(gt_pts, *pred_mesh)
    return distance_scores(d_pred, d_gt, thresholds)


def distance_scores(d_pred: np.ndarray, d_gt: np.ndarray, thresholds=DEFAULT_THRESHOLDS) -> dict:
    """Scores of the distances d_pred (P,) of pred points to gt and d_gt (G,) of gt points to pred:

    * chamfer = 0.5 * (mean of d_pred + mean of d_gt), unsquared distances.
    * For each threshold t (world units): precision = fraction of d_pred < t, recall = fraction
      of d_gt < t, fscore = 2 P R / (P + R), 0 when P + R = 0.
    * Keys: "chamfer", "precision", "recall", "fscore" (the last three dicts keyed by str(t), e.g.
      "0.01").
    """
    d_pred, d_gt = np.asarray(d_pred, dtype=np.float64), np.asarray(d_gt, dtype=np.float64)
    out: dict = {"chamfer": 0.5 * (float(d_pred.mean()) + float(d_gt.mean())),
                 "precision": {}, "recall": {}, "fscore": {}}
    for t in thresholds:
        key = str(float(t))
        precision = float((d_pred < t).mean())
        recall = float((d_gt < t).mean())
        total = precision + recall
        out["precision"][key] = precision
        out["recall"][key] = recall
        out["fscore"][key] = 2.0 * precision * recall / total if total > 0 else 0.0
    return out


def label_accuracy(pred_labels: np.ndarray, gt_labels: np.ndarray, nearest: np.ndarray) -> float:
    """Fraction of pred vertices whose label equals the label of their nearest gt vertex:
    mean(pred_labels[i] == gt_labels[nearest[i]])."""
    pred_labels = np.asarray(pred_labels)
    matched = np.asarray(gt_labels)[np.asarray(nearest)]
    if pred_labels.shape != matched.shape:
        raise ValueError(f"{pred_labels.shape[0]} labels for {matched.shape[0]} nearest indices")
    return float((pred_labels == matched).mean())


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio of float images in [0, peak]: 10 log10(peak^2 / MSE), MSE the mean
    of (a - b)^2 over every pixel and channel; +inf for identical images."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(peak * peak / mse))


def part_colours(rgb: np.ndarray, labels: np.ndarray, part_ids) -> np.ndarray:
    """Mean colour of each part in an image: (H, W, 3) rgb and (H, W) labels -> (P, 3), the mean
    of rgb over the pixels whose label is part_ids[p]; NaN where a part has no pixel."""
    rgb = np.asarray(rgb, dtype=np.float64)
    labels = np.asarray(labels)
    if rgb.shape[:2] != labels.shape:
        raise ValueError(f"image {rgb.shape[:2]} and labels {labels.shape} differ in size")
    out = np.full((len(part_ids), 3), np.nan)
    for p, c in enumerate(part_ids):
        sel = labels == c
        if sel.any():
            out[p] = rgb[sel].mean(0)
    return out


def colour_spread(colours: np.ndarray) -> float:
    """How much part colours vary across a set: colours (N, P, 3) -> the mean over parts and
    channels of the population standard deviation over N, ignoring NaN (a part absent in some
    images); NaN when no part occurs at least twice."""
    colours = np.asarray(colours, dtype=np.float64)
    counts = np.sum(~np.isnan(colours), axis=0)
    if not (counts >= 2).any():
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(colours, axis=0) / counts
        var = np.nansum((colours - mean) ** 2, axis=0) / counts
    return float(np.sqrt(var[counts >= 2]).mean())
