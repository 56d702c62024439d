"""Train pix2pix3D's generator (mapping + tri-plane synthesis + decoder + renderer + SR) on the
CPU with direct multi-view supervision from the procedural ground truth (docs/TRAINING.md).

Each step, for B identities: the label map of an input view A and its camera c_A condition the
mapping (as in pix2pix3D); a target view B of the same identity (any of its views, A included:
pix2pix3D's reconstruction case) is rendered on a random subset of its pixel rays and supervised
with RGB, semantics, opacity and depth (`training.losses.render_loss`). With `--field` the field
is also supervised directly in 3D at `--points` points per identity (`training.field_samples`:
density from the signed distance, part labels and albedo; `training.losses.field_loss`). So that
at inference the seed picks an appearance, z carries the identity's whitened base colours with
`--palette-z` (`training.appearance.PaletteCode`, plus the per-part colour loss `--w-palette`),
or comes from a cVAE posterior of the input view's RGB with `--kl-weight` > 0. Every `--sr-every`
steps the super-resolution blocks are trained on a full neural rendering of one sample, with the
raw branch detached (L1 RGB + CE at the output resolution). `--lr-final` < 1 anneals both
learning rates along a cosine over the budget (the spent fraction of `--steps` or `--minutes`).

    python -m training.train_generator --data out/face_data --out out/gen_face --minutes 40
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from s3d_engine.config import get_config
from s3d_engine.labels import label_set
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.rendering.ray_sampler import sample_rays
from s3d_engine.rendering.renderer import render_rays
from s3d_engine.rendering.triplane import sample_from_planes
from s3d_engine.weights import load_into, load_weights, save_weights

from .appearance import PALETTE_PARTS, AppearanceEncoder, PaletteCode, kl_to_standard_normal, reparameterise
from .arrays import Arrays, load_folder
from .field_samples import FieldSamples, load_field_samples
from .losses import class_weights_from_counts, field_loss, mask_class_weights, part_colour_loss, ray_targets, render_loss, sr_loss
from .render_train import render_stratified


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m training.train_generator", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder written by training.make_dataset")
    ap.add_argument("--out", required=True, help="output folder for checkpoints and the log")
    ap.add_argument("--config", default="small")
    ap.add_argument("--domain", default="face")
    ap.add_argument("--steps", type=int, default=10 ** 9)
    ap.add_argument("--minutes", type=float, default=40.0, help="wall-clock budget")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--rays", type=int, default=1024, help="rays per sample per step")
    ap.add_argument("--depth-samples", type=int, default=40, help="stratified samples per ray (no importance pass)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--sr-lr", type=float, default=1e-3)
    ap.add_argument("--lr-final", type=float, default=1.0,
                    help="cosine-anneal both learning rates to this fraction of their start over the budget (1 = constant)")
    ap.add_argument("--sr-clip", type=float, default=1.0, help="gradient-norm clip of the SR update")
    ap.add_argument("--sr-every", type=int, default=4)
    ap.add_argument("--sr-class-power", type=float, default=0.0,
                    help="SR semantic CE weights ~ pixel frequency^-power over the training masks (0 = plain CE)")
    ap.add_argument("--w-sr-dice", type=float, default=0.0, help="weight of the SR semantic head's Dice term")
    ap.add_argument("--clip", type=float, default=50.0, help="gradient-norm clip (spikes only)")
    ap.add_argument("--ema-halflife", type=float, default=100.0, help="EMA half-life in steps (0 = off)")
    ap.add_argument("--w-rgb", type=float, default=1.0)
    ap.add_argument("--w-sem", type=float, default=1.0)
    ap.add_argument("--w-alpha", type=float, default=1.0)
    ap.add_argument("--w-depth", type=float, default=2.0)
    ap.add_argument("--ckpt-minutes", type=float, default=4.0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", default=None, help="generator .safetensors to start from")
    ap.add_argument("--sr-only", action="store_true", help="train only the super-resolution networks")
    ap.add_argument("--init-from", default=None,
                    help="generator .safetensors of another domain: copy the tensors whose names and shapes match")
    ap.add_argument("--resume-encoder", default=None, help="appearance encoder .safetensors (cVAE) to start from")
    ap.add_argument("--field", action="store_true", help="3D supervision from {data}/field (training.field_samples)")
    ap.add_argument("--points", type=int, default=32768, help="3D points per identity per step")
    ap.add_argument("--w-density", type=float, default=1.0)
    ap.add_argument("--w-label3d", type=float, default=1.0)
    ap.add_argument("--w-albedo", type=float, default=1.0)
    ap.add_argument("--density-slope", type=float, default=600.0, help="raw sigma per world unit of signed distance")
    ap.add_argument("--label-class-power", type=float, default=0.5,
                    help="3D label CE weights ~ frequency^-power of the near-surface field labels")
    ap.add_argument("--ray-class-power", type=float, default=0.0,
                    help="ray semantic CE weights ~ pixel frequency^-power over the training masks (0 = plain CE)")
    ap.add_argument("--label-band", type=float, default=0.02, help="labels/albedo supervised where |sdf| < band")
    ap.add_argument("--mapping-lr-scale", type=float, default=1.0,
                    help="learning-rate factor for the z + c mapping's layers (their lr multiplier is 0.01)")
    ap.add_argument("--kl-weight", type=float, default=0.0, help="cVAE appearance encoder's KL weight (0 = z ~ N(0, I))")
    ap.add_argument("--palette-z", action="store_true",
                    help="z's first dims = the identity's whitened base colours (training.appearance.PaletteCode; needs --field)")
    ap.add_argument("--w-palette", type=float, default=5.0,
                    help="with --palette-z: weight of the per-part mean-colour loss (training.losses.part_colour_loss)")
    ap.add_argument("--appearance-only", action="store_true",
                    help="train only the z + c mapping (seed -> appearance ws): the label-map encoder, synthesis, "
                         "decoder and SR stay frozen, so every loss still holds the geometry while the seed learns colour")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N samples")
    args = ap.parse_args(argv)
    if args.appearance_only and args.sr_only:
        ap.error("--appearance-only and --sr-only train disjoint parts: choose one")
    return args


def cosine_factor(progress: float, final: float) -> float:
    """Learning-rate factor of a cosine anneal: 1 at progress 0, `final` at progress 1,
    final + (1 - final) * (1 + cos(pi * progress)) / 2 in between (progress clipped to [0, 1])."""
    p = min(max(progress, 0.0), 1.0)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * p))


def transfer_matching(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> int:
    """Copy the tensors whose name and shape match (a face generator into a cat one: synthesis,
    mapping and most of the decoder carry over; the class-dependent layers stay fresh)."""
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    own.update(matched)
    model.load_state_dict(own)
    print(f"initialised {len(matched)} of {len(own)} tensors from the other generator", flush=True)
    return len(matched)


class Trainer:
    module = "training.train_generator"  # recorded as the training command in saved weights

    def __init__(self, arrays: Arrays, config, args: argparse.Namespace, field: FieldSamples | None = None) -> None:
        self.a, self.config, self.args, self.field = arrays, config, args, field
        torch.manual_seed(args.seed)
        self.rng = np.random.default_rng(args.seed)
        self.G = self.build_generator(config, args).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        sr_params = list(self.G.superresolution.parameters()) + list(self.G.superresolution_semantic.parameters())
        sr_ids = {id(p) for p in sr_params}
        main = [p for p in self.G.parameters() if id(p) not in sr_ids]
        if args.appearance_only:
            main = self.freeze_all_but_appearance(self.G)
        self.encoder = None
        if args.kl_weight > 0:
            self.encoder = AppearanceEncoder(config.generator.z_dim).train()
            if args.resume_encoder:
                from safetensors.torch import load_file

                self.encoder.load_state_dict(load_file(args.resume_encoder))
            main = main + list(self.encoder.parameters())
        # The z + c mapping stores its weights x 100 (StyleGAN's lr multiplier 0.01), so Adam moves
        # it 100x slower than everything else: right for a GAN's 25M images, too slow for the
        # appearance to become z-dependent in a few thousand CPU steps. --mapping-lr-scale
        # rescales its step (100 = the same effective rate as the rest of the network).
        mapping = self.G.backbone.mapping
        slow = [p for n, p in mapping.named_parameters() if n.startswith("fc")]
        slow_ids = {id(p) for p in slow}
        groups = [{"params": [p for p in main if id(p) not in slow_ids], "lr": args.lr},
                  {"params": slow, "lr": args.lr * args.mapping_lr_scale}]
        self.opt = torch.optim.Adam(groups, lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
        self.opt_sr = torch.optim.Adam(sr_params, lr=args.sr_lr, betas=(0.9, 0.99), eps=1e-8)
        for group in self.opt.param_groups + self.opt_sr.param_groups:
            group["initial_lr"] = group["lr"]
        self.train_options = dataclasses.replace(self.G.render_options, depth_resolution=args.depth_samples,
                                                 depth_resolution_importance=0)
        self.groups = arrays.groups()
        self.res = arrays.resolution
        self.k = self.G.decoder.output_dim
        self.C = config.num_classes
        self.weights = {"rgb": args.w_rgb, "sem": args.w_sem, "alpha": args.w_alpha, "depth": args.w_depth,
                        "density": args.w_density, "label3d": args.w_label3d, "albedo": args.w_albedo,
                        "palette": args.w_palette}
        self.sr_params, self.main_params = sr_params, main
        self.field_row = field.row_of() if field is not None else None
        self.class_weights = None
        if field is not None:
            near = np.abs(field.sdf.astype(np.float32)) < args.label_band
            counts = np.bincount(field.labels[near], minlength=self.C)[:self.C]
            self.class_weights = class_weights_from_counts(torch.from_numpy(counts), power=args.label_class_power)
        self.sr_class_weights = None
        if args.sr_class_power > 0:
            self.sr_class_weights = mask_class_weights(arrays.labels, self.C, args.sr_class_power)
        self.ray_class_weights = None
        if args.ray_class_power > 0:
            self.ray_class_weights = mask_class_weights(arrays.labels, self.C, args.ray_class_power)
        self.palette = None
        if args.palette_z:
            if field is None:
                raise SystemExit("error: --palette-z reads the base colours from the 3D samples: add --field")
            if self.encoder is not None:
                raise SystemExit("error: --palette-z and --kl-weight are two ways to set z: choose one")
            names = label_set(config.domain).names
            self.palette = PaletteCode.fit(field.sdf, field.labels, field.albedo,
                                           {n: names.index(n) for n in PALETTE_PARTS[config.domain]}, args.label_band)
            self.palette_parts = torch.tensor([names.index(n) for n in self.palette.parts])
            self.palette_colours = torch.from_numpy(self.palette.colours)
        self.skipped = 0
        self.sr_skipped = 0
        self.step = 0

    def build_generator(self, config, args: argparse.Namespace) -> TriPlaneGenerator:
        """The generator to train: fresh, `--resume`d, or `--init-from` another domain."""
        G = TriPlaneGenerator(config)
        if args.resume:
            load_into(G, load_weights(args.resume).state_dict("generator"), args.resume)
        elif args.init_from:
            self.transferred = transfer_matching(G, load_weights(args.init_from).state_dict("generator"))
        return G

    # ------------------------------------------------------------------ data
    def batch(self) -> dict[str, torch.Tensor]:
        a, B = self.a, self.args.batch
        ids = self.rng.choice(len(self.groups), size=B, replace=len(self.groups) < B)
        src, dst = [], []
        for g in ids:
            views = self.groups[g]
            src.append(int(self.rng.choice(views)))
            dst.append(int(self.rng.choice(views)))
        src_i, dst_i = np.asarray(src), np.asarray(dst)
        t = torch.from_numpy
        out = {
            "mask": t(a.labels[src_i].astype(np.int64)), "c_in": t(a.camera[src_i]),
            "c_out": t(a.camera[dst_i]), "rgb": t(a.rgb[dst_i]), "labels": t(a.labels[dst_i].astype(np.int64)),
            "alpha": t(a.alpha[dst_i]), "depth": t(a.depth[dst_i]),
            "rgb_in": t(a.rgb[src_i]), "alpha_in": t(a.alpha[src_i]), "src": t(src_i),
        }
        if self.field is not None:
            f = self.field
            rows = np.asarray([self.field_row[int(a.identity[i])] for i in src_i])
            n = f.points.shape[1]
            pick = np.stack([self.rng.choice(n, size=min(self.args.points, n), replace=False) for _ in rows])
            r = rows[:, None]
            out["field_row"] = t(rows.astype(np.int64))
            out.update({"f_points": t(f.points[r, pick]), "f_sdf": t(f.sdf[r, pick].astype(np.float32)),
                        "f_labels": t(f.labels[r, pick].astype(np.int64)),
                        "f_albedo": t(f.albedo[r, pick].astype(np.float32) / 255.0)})
        return out

    def sample_z(self, b: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """z ~ N(0, I), the identity's palette code (`--palette-z`), or the cVAE posterior of the
        input view's RGB (composited on black)."""
        B = b["mask"].shape[0]
        if self.palette is not None:
            return self.palette.z(b["field_row"].numpy(), self.config.generator.z_dim), {}
        if self.encoder is None:
            return torch.randn(B, self.config.generator.z_dim), {}
        rgb = b["rgb_in"].permute(0, 3, 1, 2).float() / 255.0 * b["alpha_in"][:, None].float() * 2 - 1
        mu, logvar = self.encoder(rgb)
        return reparameterise(mu, logvar), {"kl": kl_to_standard_normal(mu, logvar)}

    # ------------------------------------------------------------------ steps
    @staticmethod
    def freeze_all_but_appearance(G: torch.nn.Module) -> list[torch.nn.Parameter]:
        """Freeze every tensor except the z + c mapping's (`embed`, `fc*`); returns those.

        The 7 appearance ws are this mapping's output alone, so a seed's colours can be retrained
        while the mask -> geometry path (label-map encoder, synthesis, decoder) keeps its weights;
        the geometry losses still act, through the appearance ws' share of the tri-plane."""
        G.requires_grad_(False)
        mapping = G.backbone.mapping
        kept = [p for n, p in mapping.named_parameters() if n.startswith(("embed.", "fc"))]
        for p in kept:
            p.requires_grad_(True)
        return kept

    def train_step(self) -> dict[str, float]:
        G, args = self.G, self.args
        b = self.batch()
        B = b["mask"].shape[0]
        z, extra = self.sample_z(b)
        ws = G.mapping(z, b["c_in"], mask=b["mask"], update_emas=True)
        planes = G.planes(ws)
        c = b["c_out"]
        cam2world, intr = c[:, :16].reshape(-1, 4, 4), c[:, 16:25].reshape(-1, 3, 3)
        origins, dirs = sample_rays(cam2world, intr, self.res)
        n_pix = self.res * self.res
        m = min(args.rays, n_pix)
        sel = torch.stack([torch.randperm(n_pix)[:m] for _ in range(B)])  # (B, m)
        g3 = sel[..., None].expand(-1, -1, 3)
        o, d = torch.gather(origins, 1, g3), torch.gather(dirs, 1, g3)
        flat = lambda x: x.reshape(B, n_pix, *x.shape[3:])  # noqa: E731
        rgb = torch.gather(flat(b["rgb"]), 1, g3)
        labels = torch.gather(flat(b["labels"]), 1, sel)
        alpha = torch.gather(flat(b["alpha"]), 1, sel)
        depth = torch.gather(flat(b["depth"]), 1, sel)
        target = ray_targets(rgb, labels, alpha, depth, d, cam2world)
        features, dep, opacity = render_stratified(planes, G.decoder, o, d, self.train_options)
        losses = render_loss(features, dep, opacity, target, self.k, self.C, self.weights, self.ray_class_weights)
        if self.field is not None:
            out3d = G.decoder(sample_from_planes(planes, b["f_points"], G.render_options.box_warp))
            f3 = field_loss(out3d["sigma"], out3d["rgb"], {"sdf": b["f_sdf"], "labels": b["f_labels"], "albedo": b["f_albedo"]},
                            self.k, self.C, self.config.mesh_level, args.density_slope, args.label_band, self.class_weights)
            if self.palette is not None:
                f3["palette"] = part_colour_loss(out3d["rgb"], b["f_sdf"], b["f_labels"], self.palette_parts,
                                                 self.palette_colours[b["field_row"]], args.label_band)
            for name, value in f3.items():
                losses[name] = value
                losses["total"] = losses["total"] + self.weights[name] * value
        if "kl" in extra:
            losses["kl"] = extra["kl"]
            losses["total"] = losses["total"] + args.kl_weight * extra["kl"]
        self.opt.zero_grad(set_to_none=True)
        out = {k: float(v.detach()) for k, v in losses.items()}
        if math.isfinite(out["total"]):
            losses["total"].backward()
            grads = [p.grad for p in G.backbone.mapping.embed_mask.parameters() if p.grad is not None]
            out["grad_encoder"] = float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0
            norm = torch.nn.utils.clip_grad_norm_(self.main_params, self.args.clip)
            if torch.isfinite(norm):
                self.opt.step()
            else:
                self.skipped += 1
        else:
            self.skipped += 1
        out["skipped"] = float(self.skipped)
        if args.sr_every > 0 and not args.appearance_only and self.step % args.sr_every == 0:
            out.update(self.sr_step(planes.detach()[:1], ws.detach()[:1], c[:1], b))
        self.update_ema()
        self.step += 1
        return out

    def sr_only_step(self) -> dict[str, float]:
        """`--sr-only`: the rest of the generator frozen, one SR update per sample on its full
        neural rendering (a cheap final phase: no backward through the synthesis)."""
        G = self.G
        b = self.batch()
        with torch.no_grad():
            z, _ = self.sample_z(b)
            ws = G.mapping(z, b["c_in"], mask=b["mask"])
            planes = G.planes(ws)
        out: dict[str, float] = {}
        for i in range(planes.shape[0]):
            out = self.sr_step(planes[i:i + 1], ws[i:i + 1], b["c_out"][i:i + 1], {k: v[i:i + 1] for k, v in b.items()})
        self.update_ema()
        self.step += 1
        return out

    def sr_step(self, planes: torch.Tensor, ws: torch.Tensor, c: torch.Tensor, b: dict) -> dict[str, float]:
        """Full neural rendering (inference options, no grad), then the two SR networks."""
        G = self.G
        r = G.neural_rendering_resolution
        with torch.no_grad():
            o, d = sample_rays(c[:, :16].reshape(-1, 4, 4), c[:, 16:25].reshape(-1, 3, 3), r)
            feats, _, _ = render_rays(planes, G.decoder, o, d, G.render_options)
            fimg = feats.permute(0, 2, 1).reshape(1, feats.shape[-1], r, r)
        colour, semantic = fimg[:, :self.k], fimg[:, self.k:]
        image = G.superresolution(colour[:, :3], colour, ws)
        sem = G.superresolution_semantic(semantic[:, :self.C], semantic, ws)
        R = image.shape[-1]
        rgb = b["rgb"][:1].permute(0, 3, 1, 2).float() / 255.0 * b["alpha"][:1, None].float() * 2 - 1
        labels = b["labels"][:1]
        if rgb.shape[-1] != R:
            rgb = F.interpolate(rgb, size=(R, R), mode="area" if rgb.shape[-1] > R else "bilinear")
            labels = F.interpolate(labels[:, None].float(), size=(R, R), mode="nearest")[:, 0].long()
        losses = sr_loss(image, sem, rgb, labels, self.sr_class_weights, self.args.w_sr_dice)
        if not torch.isfinite(losses["total"]):  # skip a bad batch rather than poison the SR weights
            self.sr_skipped += 1
            return {"sr_skipped": float(self.sr_skipped)}
        self.opt_sr.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(self.sr_params, self.args.sr_clip)
        self.opt_sr.step()
        return {k: float(v.detach()) for k, v in losses.items() if k != "total"}

    def anneal(self, progress: float) -> float:
        """Set both optimisers' rates to their start x `cosine_factor(progress, --lr-final)`."""
        factor = cosine_factor(progress, self.args.lr_final)
        for group in self.opt.param_groups + self.opt_sr.param_groups:
            group["lr"] = group["initial_lr"] * factor
        return factor

    @torch.no_grad()
    def update_ema(self) -> None:
        hl = self.args.ema_halflife
        beta = 0.0 if hl <= 0 else 0.5 ** (1.0 / hl)
        beta = min(beta, (1 + self.step) / (10 + self.step))  # warm-up
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p.detach(), 1 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    def save(self, out: Path, name: str, **meta) -> Path:
        path = save_weights(out / f"{name}.safetensors", {"generator": self.G_ema}, self.config,
                            training_command=" ".join(["python", "-m", self.module] + sys.argv[1:]),
                            step=self.step, **meta)
        save_weights(out / f"{name}_raw.safetensors", {"generator": self.G}, self.config, step=self.step)
        if self.encoder is not None:
            from safetensors.torch import save_file

            from s3d_engine.weights import atomic_path

            with atomic_path(out / f"{name}_encoder.safetensors") as tmp:
                save_file({k: v.detach().contiguous() for k, v in self.encoder.state_dict().items()}, str(tmp))
        return path


def run(args: argparse.Namespace, arrays: Arrays | None = None, field: FieldSamples | None = None,
        trainer_class: type[Trainer] = Trainer) -> Trainer:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = get_config(args.config, args.domain)
    if arrays is None:
        arrays = load_folder(args.data, "train")
        if args.limit:
            arrays = arrays.subset(np.arange(min(args.limit, len(arrays))))
    if args.field and field is None:
        field = load_field_samples(args.data, "train", [int(arrays.identity[g[0]]) for g in arrays.groups()])
    trainer = trainer_class(arrays, config, args, field)
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    t0 = last_ckpt = time.time()
    acc: dict[str, list[float]] = {}
    print(f"training {config.name}/{config.domain} on {len(arrays)} views of {len(trainer.groups)} identities, "
          f"{sum(p.numel() for p in trainer.G.parameters()) / 1e6:.2f}M parameters", flush=True)
    while trainer.step < args.steps and time.time() - t0 < args.minutes * 60:
        # progress = the larger spent fraction of the two budgets (steps, wall clock)
        lr_factor = trainer.anneal(max(trainer.step / args.steps, (time.time() - t0) / (args.minutes * 60)))
        losses = trainer.sr_only_step() if args.sr_only else trainer.train_step()
        if trainer.skipped > 50:
            raise FloatingPointError(f"more than 50 non-finite steps by step {trainer.step}: {losses}")
        for k, v in losses.items():
            acc.setdefault(k, []).append(v)
        if trainer.step % args.log_every == 0:
            rec = {"step": trainer.step, "time": round(time.time() - t0, 1), "lr_factor": round(lr_factor, 4),
                   **{k: round(float(np.mean(v)), 5) for k, v in acc.items()}}
            acc = {}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(" ".join(f"{k}={v}" for k, v in rec.items()), flush=True)
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            trainer.save(out, "checkpoint")
            last_ckpt = time.time()
    trainer.save(out, "final", train_seconds=round(time.time() - t0, 1))
    log.close()
    print(f"done: {trainer.step} steps in {time.time() - t0:.0f} s", flush=True)
    return trainer


def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
