"""Train S3D's sketch-to-mask U-Net (`UNetStyleDistil`) with S3D's loss
L = CE + Dice + MSE(style code, frozen generator encoder's geometry ws of the GT mask) and S3D's
erode/dilate augmentation (`--augment s3d`, or `strong` for the extra warps and dropouts).

    python -m training.train_unet --data out/face_data --generator out/gen_face/final.safetensors \
        --out out/unet_face --minutes 12
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_into, load_weights, save_weights
from training.data.augment import augment_pair, augment_sketch

from .arrays import Arrays, load_folder
from .losses import mask_class_weights, unet_loss


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m training.train_unet", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--generator", required=True, help="trained generator .safetensors (frozen; style targets)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=10 ** 9)
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--mse-weight", type=float, default=1.0)
    ap.add_argument("--augment", choices=("none", "s3d", "strong"), default="s3d",
                    help="s3d: S3D's erode/dilate; strong: also aligned warps of sketch and mask, stroke and part dropout")
    ap.add_argument("--class-power", type=float, default=0.0,
                    help="CE class weights ~ pixel frequency^-power (0 = S3D's unweighted CE; 0.5 = square-root balance)")
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--resume", default=None, help="U-Net .safetensors to continue from")
    ap.add_argument("--targets-cache", default=None, help=".pt file to save / reuse the style targets")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0, help="write checkpoint.safetensors this often")
    return ap.parse_args(argv)


@torch.no_grad()
def style_targets(G: TriPlaneGenerator, labels: np.ndarray, chunk: int = 32) -> torch.Tensor:
    """S3D's w+ targets: the encoder's 7 geometry ws of each GT mask, as (N, w_dim, 7)."""
    out = []
    for i in range(0, len(labels), chunk):
        m = torch.from_numpy(labels[i:i + chunk].astype(np.int64))
        out.append(G.backbone.mapping.geometry(m).permute(0, 2, 1).contiguous())
    return torch.cat(out)


def sketch_batch(arrays: Arrays, idx: np.ndarray, rng: np.random.Generator, augment: str, res: int
                 ) -> tuple[torch.Tensor, np.ndarray]:
    """Sketches (B, 1, res, res) in [0, 1] and their label maps (B, H, W). With `strong`, half of
    the pairs get the same random warp (the mask stays aligned with the sketch) and the
    sketch-only augmentations (stroke and part dropout, thickness) run without warping."""
    xs, ms = [], []
    for i in idx:
        s = arrays.sketch[i].astype(np.float32) / 255.0
        m = arrays.labels[i]
        if augment == "strong" and rng.random() < 0.5:
            s, m = augment_pair(s, m, rng)
            s = augment_sketch(s, rng, strong=True, labels=m, warp=False)
        elif augment != "none":
            s = augment_sketch(s, rng, strong=augment == "strong", labels=m, warp=False)
        xs.append(s)
        ms.append(m)
    x = torch.from_numpy(np.stack(xs))[:, None]
    if x.shape[-1] != res:
        x = torch.nn.functional.interpolate(x, size=(res, res), mode="bilinear", align_corners=False, antialias=True)
    return x, np.stack(ms)


def resize_masks(labels: np.ndarray, res: int) -> torch.Tensor:
    m = torch.from_numpy(labels.astype(np.int64))
    if m.shape[-1] != res:
        m = torch.nn.functional.interpolate(m[:, None].float(), size=(res, res), mode="nearest")[:, 0].long()
    return m


def run(args: argparse.Namespace, arrays: Arrays | None = None) -> UNetStyleDistil:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = load_weights(args.generator)
    config = weights.config
    G = TriPlaneGenerator(config)
    load_into(G, weights.state_dict("generator"), args.generator)
    G.eval().requires_grad_(False)
    if arrays is None:
        arrays = load_folder(args.data, "train")
        if args.limit:
            arrays = arrays.subset(np.arange(min(args.limit, len(arrays))))
    res = config.unet.resolution
    t0 = time.time()
    targets = None
    if args.mse_weight > 0:
        cache = Path(args.targets_cache) if args.targets_cache else None
        if cache is not None and cache.exists():
            targets = torch.load(cache, weights_only=True)
        else:
            targets = style_targets(G, arrays.labels)
            if cache is not None:
                torch.save(targets, cache)
    print(f"style targets for {len(arrays)} masks in {time.time() - t0:.1f} s", flush=True)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    U = UNetStyleDistil(config.unet, config.num_classes)
    if args.resume:
        load_into(U, load_weights(args.resume).state_dict("unet"), args.resume)
    U.train()
    class_weights = None
    if args.class_power > 0:
        class_weights = mask_class_weights(arrays.labels, config.num_classes, args.class_power)
        print("CE class weights:", [round(float(w), 2) for w in class_weights], flush=True)
    opt = torch.optim.Adam(U.parameters(), lr=args.lr)
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    t0 = time.time()
    step, acc = 0, {}
    order = rng.permutation(len(arrays))
    pos = 0
    budget = args.minutes * 60
    last_ckpt = time.time()
    while step < args.steps and time.time() - t0 < budget:
        if time.time() - last_ckpt > args.ckpt_minutes * 60:  # resumable: --resume out/.../checkpoint.safetensors
            save_weights(out / "checkpoint.safetensors", {"unet": U}, config, step=step)
            last_ckpt = time.time()
        if pos + args.batch > len(order):
            order, pos = rng.permutation(len(arrays)), 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        # cosine decay of the learning rate over the time budget
        frac = min(1.0, (time.time() - t0) / budget) if args.steps >= 10 ** 9 else step / max(1, args.steps)
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        x, labels = sketch_batch(arrays, idx, rng, args.augment, res)
        logits, style = U(x)
        losses = unet_loss(logits, style, resize_masks(labels, res), None if targets is None else targets[idx],
                           args.mse_weight, class_weights)
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        opt.step()
        for k, v in losses.items():
            acc.setdefault(k, []).append(float(v.detach()))
        step += 1
        if step % args.log_every == 0:
            rec = {"step": step, "time": round(time.time() - t0, 1), **{k: round(float(np.mean(v)), 5) for k, v in acc.items()}}
            acc = {}
            if not all(math.isfinite(v) for v in rec.values()):
                raise FloatingPointError(f"non-finite U-Net loss: {rec}")
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(" ".join(f"{k}={v}" for k, v in rec.items()), flush=True)
    U.eval()
    save_weights(out / "unet.safetensors", {"unet": U}, config,
                 training_command=" ".join(["python", "-m", "training.train_unet"] + sys.argv[1:]),
                 step=step, train_seconds=round(time.time() - t0, 1))
    log.close()
    print(f"done: {step} steps in {time.time() - t0:.0f} s", flush=True)
    return U


def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
