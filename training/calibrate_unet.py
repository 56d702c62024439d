"""Logit adjustment of a U-Net trained with class-weighted cross-entropy, chosen on validation
identities and folded into the U-Net's output bias.

Why. With CE weights w_c (`train_unet --class-power`), the loss's minimiser is not the class
posterior p(c | x) but one proportional to w_c p(c | x): every rare class is over-predicted.
On held-out face sketches the shipped U-Net paints glasses over 1.9x their true pixels (the whole
lens instead of the frame), ears 2x, earrings 5x. Menon et al., "Long-tail learning via logit
adjustment" (ICLR 2021), undo it post hoc:

    logit'_c = logit_c - tau * log w_c

tau = 1 recovers the posterior exactly for a pure weighted CE; S3D's Dice term also shapes the
logits, so tau is chosen from a grid by mask mIoU on validation identities (training-split
indices >= 500,000: never rendered for training, and not the test split that
`training.evaluate` scores). The U-Net's head is a 1x1 convolution, so the offset is added to
its bias: the weights file keeps its layout and the engine needs no change.

    python -m training.calibrate_unet --unet weights/face.safetensors --data out/face_data \\
        --class-power 0.5 --out out/unet_face_calibrated.safetensors
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_into, load_weights, save_weights

from .arrays import load_folder, render_arrays
from .evaluate import predict_logits
from .losses import mask_class_weights
from .metrics import mask_iou

DEFAULT_TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)
VALIDATION_FIRST_INDEX = 500_000


def logit_offsets(class_weights: torch.Tensor, tau: float) -> torch.Tensor:
    """-tau * log w_c per class; 0 for classes the training never weighted (w_c = 0: absent)."""
    w = class_weights.double()
    safe = torch.where(w > 0, w, torch.ones_like(w))
    return (-tau * torch.log(safe)).float()


def fold_offsets(U: UNetStyleDistil, offsets: torch.Tensor) -> None:
    """Add per-class offsets (C,) to the logits, in place, through the head's bias."""
    with torch.no_grad():
        U.head.bias += offsets.to(U.head.bias)


def choose_tau(logits: torch.Tensor, labels: np.ndarray, class_weights: torch.Tensor,
               taus=DEFAULT_TAUS) -> tuple[float, list[dict]]:
    """The tau of `taus` with the highest mIoU of argmax(logits + offsets) against labels (N, R, R);
    ties go to the smaller tau. Returns (tau, one row per tau: tau, mIoU, per-class IoU)."""
    rows, best = [], None
    for tau in taus:
        offsets = logit_offsets(class_weights, tau)[None, :, None, None]
        pred = (logits + offsets).argmax(1).to(torch.uint8).numpy()
        scores = mask_iou(pred, labels, logits.shape[1])
        rows.append({"tau": float(tau), "miou": scores["miou"], "iou": scores["iou"]})
        if best is None or scores["miou"] > best[1]:
            best = (float(tau), scores["miou"])
    return best[0], rows


def training_class_weights(data: str, num_classes: int, power: float) -> torch.Tensor:
    """The CE weights `train_unet --class-power power` used: from the training masks' pixel counts."""
    return mask_class_weights(load_folder(data, "train").labels, num_classes, power)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m training.calibrate_unet", description=__doc__.split("\n\n")[0])
    ap.add_argument("--unet", required=True, help=".safetensors holding the U-Net (a packaged file will do)")
    ap.add_argument("--data", required=True, help="the training folder whose masks gave the CE weights")
    ap.add_argument("--class-power", type=float, required=True, help="the --class-power the U-Net was trained with")
    ap.add_argument("--out", required=True, help="calibrated U-Net .safetensors")
    ap.add_argument("--val-identities", type=int, default=50)
    ap.add_argument("--views", type=int, default=2, help="views per validation identity")
    ap.add_argument("--taus", type=float, nargs="+", default=list(DEFAULT_TAUS))
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not Path(args.unet).is_file():
        raise SystemExit(f"error: weights file {args.unet} does not exist")
    if args.class_power <= 0:
        raise SystemExit("error: --class-power must be > 0: a U-Net trained with plain CE needs no adjustment")
    if not (Path(args.data) / "meta" / "train").is_dir():
        raise SystemExit(f"error: {args.data} has no training split (meta/train); it must be the U-Net's training data")
    torch.set_num_threads(args.threads)
    w = load_weights(args.unet)
    if "unet" not in w.components:
        raise SystemExit(f"error: {args.unet} holds no U-Net")
    config = w.config
    U = UNetStyleDistil(config.unet, config.num_classes)
    load_into(U, w.state_dict("unet"), args.unet)
    U.eval()
    weights = training_class_weights(args.data, config.num_classes, args.class_power)
    val = render_arrays(config.domain, "train", args.val_identities, args.views, config.unet.resolution,
                        first_index=VALIDATION_FIRST_INDEX)
    tau, rows = choose_tau(predict_logits(U, val.sketch), val.labels, weights, args.taus)
    for r in rows:
        print(f"tau {r['tau']:.2f}: validation mIoU {r['miou']:.4f}", flush=True)
    print(f"-> tau {tau}", flush=True)
    fold_offsets(U, logit_offsets(weights, tau))
    previous = w.metadata.get("unet_training") or w.metadata.get("training_command", "")
    command = " ".join(["python", "-m", "training.calibrate_unet"] + (sys.argv[1:] if argv is None else list(argv)))
    save_weights(args.out, {"unet": U}, config, training_command=f"{previous}\n{command}".strip(),
                 logit_adjustment={"tau": tau, "class_power": args.class_power,
                                   "class_weights": [round(float(x), 6) for x in weights],
                                   "validation": [{"tau": r["tau"], "miou": r["miou"]} for r in rows],
                                   "validation_views": int(len(val.labels))})
    print(json.dumps({"out": args.out, "tau": tau}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
