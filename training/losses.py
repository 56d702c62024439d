"""Losses for the CPU training recipe (docs/TRAINING.md).

Generator: direct multi-view supervision of the volume rendering on a random subset of rays
(in place of pix2pix3D's adversarial losses): L1 on RGB composited on black, cross-entropy of
the composited semantic logits on foreground rays, BCE of the opacity against the GT alpha, L1
of the expected ray depth on foreground rays.

U-Net (S3D `sketch2mask/train.py` + `loss.py`): CE + multi-class Dice + MSE between the
bottleneck style code and the frozen generator encoder's geometry ws."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1e-6) -> torch.Tensor:
    """S3D `MultiClassDiceLoss`: softmax, one-hot target, Dice per (batch, class), 1 - mean."""
    probs = logits.softmax(1)
    onehot = F.one_hot(target.long(), logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    inter = (probs * onehot).sum((2, 3))
    union = probs.sum((2, 3)) + onehot.sum((2, 3))
    return 1 - ((2 * inter + smooth) / (union + smooth)).mean()


def unet_loss(logits: torch.Tensor, style: torch.Tensor, mask: torch.Tensor,
              style_target: torch.Tensor | None, mse_weight: float = 1.0,
              class_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """S3D: L = CE + Dice + mse_weight * MSE(style (B, w_dim, 7), target (B, w_dim, 7)).
    `class_weights` (C,) weight the CE per class (None: S3D's unweighted CE)."""
    ce = F.cross_entropy(logits, mask.long(), weight=class_weights)
    dice = dice_loss(logits, mask)
    out = {"ce": ce, "dice": dice}
    total = ce + dice
    if style_target is not None:
        mse = F.mse_loss(style, style_target)
        out["mse"] = mse
        total = total + mse_weight * mse
    out["total"] = total
    return out


def ray_targets(rgb: torch.Tensor, labels: torch.Tensor, alpha: torch.Tensor, depth: torch.Tensor,
                directions: torch.Tensor, cam2world: torch.Tensor) -> dict[str, torch.Tensor]:
    """Ground truth for selected rays. rgb (B, M, 3) uint8, labels/alpha (B, M), depth (B, M)
    camera-space z; directions (B, M, 3) unit world directions. Returns RGB in [-1, 1]
    composited on black (empty space renders -1), the distance along the ray (the renderer's
    depth) and float alpha."""
    a = alpha.float()
    colour = (rgb.float() / 255.0) * a[..., None] * 2 - 1
    forward = cam2world[:, :3, 2]  # OpenCV camera z axis in world coordinates
    cos = (directions * forward[:, None, :]).sum(-1).clamp_min(1e-3)
    return {"rgb": colour, "labels": labels.long(), "alpha": a, "t": depth.float() / cos}


def render_loss(features: torch.Tensor, depth: torch.Tensor, opacity: torch.Tensor, target: dict[str, torch.Tensor],
                output_dim: int, num_classes: int, weights: dict[str, float],
                class_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """features (B, M, 2 * output_dim) = [colour | semantic] composites mapped to [-1, 1].
    The semantic CE covers the foreground rays; `class_weights` (C,) weight each ray's CE by its
    label, normalised by the summed weight (a weighted mean, so the term keeps its scale)."""
    rgb = features[..., :3]
    sem = features[..., output_dim:output_dim + num_classes]
    fg = target["alpha"]
    n_fg = fg.sum().clamp_min(1.0)
    l_rgb = (rgb - target["rgb"]).abs().mean()
    labels = target["labels"].reshape(-1)
    ce = F.cross_entropy(sem.reshape(-1, num_classes), labels, reduction="none")
    ray_w = fg.reshape(-1) if class_weights is None else fg.reshape(-1) * class_weights.to(ce)[labels]
    l_sem = (ce * ray_w).sum() / ray_w.sum().clamp_min(1.0)
    op = opacity[..., 0].clamp(1e-4, 1 - 1e-4)
    l_alpha = F.binary_cross_entropy(op, fg)
    l_depth = ((depth[..., 0] - target["t"]).abs() * fg).sum() / n_fg
    total = (weights.get("rgb", 1.0) * l_rgb + weights.get("sem", 1.0) * l_sem
             + weights.get("alpha", 1.0) * l_alpha + weights.get("depth", 1.0) * l_depth)
    return {"total": total, "rgb": l_rgb, "sem": l_sem, "alpha": l_alpha, "depth": l_depth}


def sr_loss(image: torch.Tensor, semantic: torch.Tensor, rgb_target: torch.Tensor, labels: torch.Tensor,
            class_weights: torch.Tensor | None = None, dice_weight: float = 0.0) -> dict[str, torch.Tensor]:
    """Super-resolved RGB (B, 3, R, R) and logits (B, C, R, R): L1 + CE over all pixels (the SR
    branch must also learn the background class from the empty raw semantics)
    + dice_weight * multi-class Dice.

    The SR semantic head adds a learned residual to the upsampled raw logits; with a plain CE
    the residual learns to favour the big classes (skin, hair, background), and eyes, brows and
    mouth, a few pixels each, are never the argmax. `class_weights` (C,) balance the CE and the
    Dice term scores every class present equally, as in the U-Net's loss."""
    l1 = (image - rgb_target).abs().mean()
    ce = F.cross_entropy(semantic, labels.long(), weight=class_weights)
    out = {"sr_rgb": l1, "sr_sem": ce}
    total = l1 + ce
    if dice_weight > 0:
        out["sr_dice"] = dice_loss(semantic, labels)
        total = total + dice_weight * out["sr_dice"]
    out["total"] = total
    return out


def density_target(sdf: torch.Tensor, level: float, slope: float, low: float = -20.0, high: float = 40.0) -> torch.Tensor:
    """Raw sigma that the field should have at a point of signed distance `sdf` (world units,
    negative inside): level - slope * sdf, clamped to [level + low, level + high]. The zero set
    of the SDF is then exactly the mesh's iso-surface sigma = level; the raw sigma is linear in
    the distance across the shell |sdf| < (high / slope), so marching cubes' linear
    interpolation finds the surface without bias; far inside the density saturates at level + high
    (softplus(level + high - 1) ~ 49 per unit: opaque within a few hundredths), far outside at
    level + low (softplus(-11) ~ 2e-5: empty)."""
    return (level - slope * sdf).clamp(level + low, level + high)


def field_loss(sigma: torch.Tensor, features: torch.Tensor, target: dict[str, torch.Tensor], output_dim: int,
               num_classes: int, level: float, slope: float, band: float,
               class_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """3D supervision at points (B, K): raw sigma (B, K, 1), decoder features (B, K, 2 * output_dim)
    ([colour in [0, 1] | semantic logits]); target sdf (B, K), labels (B, K), albedo (B, K, 3) in [0, 1].

    * density: L1 between sigma and `density_target`, divided by 20 (the clamp range's scale);
    * labels: class-weighted cross-entropy on points within `band` of the surface (labels far
      from any surface are meaningless: only the iso-surface's vertices are ever labelled);
    * albedo: L1 of the first 3 colour features (what the mesh's vertex colours are) on the same points."""
    sdf = target["sdf"].float()
    l_density = (sigma[..., 0] - density_target(sdf, level, slope)).abs().mean() / 20.0
    near = (sdf.abs() < band).reshape(-1)
    logits = features[..., output_dim:output_dim + num_classes].reshape(-1, num_classes)[near]
    labels = target["labels"].reshape(-1)[near].long()
    if labels.numel():
        l_label = F.cross_entropy(logits, labels, weight=class_weights)
        colour = features[..., :3].reshape(-1, 3)[near]
        l_albedo = (colour - target["albedo"].reshape(-1, 3)[near].float()).abs().mean()
    else:
        l_label = l_albedo = sigma.sum() * 0.0
    return {"density": l_density, "label3d": l_label, "albedo": l_albedo}


def class_weights_from_counts(counts: torch.Tensor, power: float = 0.5, cap: float = 10.0) -> torch.Tensor:
    """Cross-entropy weights ~ frequency^-power, normalised so that the frequency-weighted mean
    weight is 1 (the loss keeps its scale), capped at `cap` times that mean; absent classes get 0."""
    freq = counts.double() / counts.sum().clamp_min(1)
    w = torch.where(freq > 0, freq.clamp_min(1e-12) ** -power, torch.zeros_like(freq))
    w = w / (w * freq).sum().clamp_min(1e-12)
    return w.clamp(max=cap).float()


def mask_class_weights(labels, num_classes: int, power: float) -> torch.Tensor:
    """`class_weights_from_counts` of the pixel counts of label maps (any shape, numpy ints):
    the CE weights of the U-Net (`--class-power`), the SR head (`--sr-class-power`) and the
    logit adjustment that undoes them (`training.calibrate_unet`)."""
    counts = np.bincount(np.asarray(labels).reshape(-1), minlength=num_classes)[:num_classes]
    return class_weights_from_counts(torch.from_numpy(counts), power=power)


def part_colour_loss(features: torch.Tensor, sdf: torch.Tensor, labels: torch.Tensor, part_ids: torch.Tensor,
                     colours: torch.Tensor, band: float) -> torch.Tensor:
    """What the palette code (training.appearance.PaletteCode) asks for, without the texture noise:
    for each sample b and part p, the mean predicted albedo (first 3 features, (B, K)) over its
    points of that part within `band` of the surface, against the part's base colour
    colours (B, P, 3). L1, averaged over the (b, p) that have points; 0 if none has.

        mean_bp = sum_k m_bpk a_bk / sum_k m_bpk,  m_bpk = [labels_bk == part_p] [|sdf_bk| < band]"""
    near = sdf.float().abs() < band
    m = ((labels[..., None] == part_ids.to(labels.device)) & near[..., None]).to(features.dtype)  # (B, K, P)
    counts = m.sum(1)  # (B, P)
    means = torch.einsum("bkp,bkc->bpc", m, features[..., :3]) / counts.clamp_min(1.0)[..., None]
    valid = counts > 0
    if not bool(valid.any()):
        return features.sum() * 0.0
    return (means - colours.to(features.dtype)).abs()[valid].mean()
