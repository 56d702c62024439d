"""pix2pix3D's sketch baseline for S3D's ablation (docs/TRAINING.md): the generator conditioned on
the sketch directly, with no mask in between.

pix2pix3D's edge-conditioned models (edge2face, edge2cat) keep the whole generator and swap only
the input of the label-map encoder: a 1-channel edge map instead of the C-channel one-hot mask.
`SketchMapping` does the same here: the first encoder block's `fromrgb` takes one channel (the
sketch in [0, 1], resized to the mask resolution); every other tensor has the mask model's shape,
so a trained mask generator initialises all of it but that one layer. Training is
`training.train_generator`'s recipe unchanged except for the condition (`SketchTrainer`): the
input view's sketch, with the sketch-only augmentations the U-Net gets (S3D's erode/dilate,
stroke and part dropout, thickness; no warp, which would break the sketch's alignment with the
3D targets). The 3D and render targets are the same as the mask model's, labels included, so the
baseline's meshes are scored by the same `training.evaluate` figures, end to end from the sketch.

    python -m training.sketch_baseline train --data out/face_data --out out/gen_face_sketch \\
        --resume weights/face.safetensors --field --minutes 60 ...   # train_generator's options
    python -m training.sketch_baseline evaluate --weights out/gen_face_sketch/final.safetensors \\
        --data out/face_data --test-identities 12 --out out/eval_sketch_baseline.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from s3d_engine.config import GEOMETRY_WS
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.mapping import LabelMapEncoder, MaskMappingNetwork
from s3d_engine.weights import load_into, load_weights

from . import evaluate, train_generator
from .arrays import load_folder
from .data.augment import augment_sketch


class SketchMapping(MaskMappingNetwork):
    """`MaskMappingNetwork` whose encoder reads a sketch (B, H, W) or (B, 1, H, W): floats in
    [0, 1], or integers in 0..255 (uint8 pixels), black strokes on white."""

    def __init__(self, *args, encoder_channel_base: int = 32768, encoder_channel_max: int = 512, **kwargs) -> None:
        super().__init__(*args, encoder_channel_base=encoder_channel_base,
                         encoder_channel_max=encoder_channel_max, **kwargs)
        self.embed_mask = LabelMapEncoder(self.mask_resolution, 1, self.w_dim, self.geometry_ws,
                                          encoder_channel_base, encoder_channel_max)

    def sketch_input(self, sketch: torch.Tensor) -> torch.Tensor:
        x = sketch.float() / 255.0 if not sketch.is_floating_point() else sketch.float()
        if x.ndim == 3:
            x = x[:, None]
        if x.shape[-1] != self.mask_resolution:
            x = F.interpolate(x, size=(self.mask_resolution, self.mask_resolution), mode="bilinear",
                              align_corners=False, antialias=True)
        return x

    def geometry(self, mask: torch.Tensor) -> torch.Tensor:  # `mask` is the sketch here
        return self.embed_mask(self.sketch_input(mask))


def sketch_generator(config) -> TriPlaneGenerator:
    """A `TriPlaneGenerator` whose mapping is `SketchMapping` (same sizes as the mask model's)."""
    G = TriPlaneGenerator(config)
    g, old = config.generator, G.backbone.mapping
    G.backbone.mapping = SketchMapping(
        g.z_dim, g.c_dim, g.w_dim, old.num_ws, config.num_classes, g.mask_resolution, geometry_ws=GEOMETRY_WS,
        num_layers=g.mapping_layers, encoder_channel_base=g.encoder_channel_base,
        encoder_channel_max=g.encoder_channel_max)
    return G


def load_sketch_generator(path: str) -> TriPlaneGenerator:
    """A sketch generator saved by `SketchTrainer` (its sidecar says `condition: sketch`)."""
    w = load_weights(path)
    if w.metadata.get("condition") != "sketch":
        raise SystemExit(f"error: {path} is not a sketch-conditioned generator (train it with "
                         "python -m training.sketch_baseline train)")
    G = sketch_generator(w.config)
    load_into(G, w.state_dict("generator"), path)
    return G.eval()


class SketchTrainer(train_generator.Trainer):
    """`train_generator.Trainer` with the input view's (augmented) sketch as the condition."""

    module = "training.sketch_baseline train"

    def build_generator(self, config, args: argparse.Namespace) -> TriPlaneGenerator:
        G = sketch_generator(config)
        if args.resume:  # a mask generator: all but the encoder's input layer; a sketch one: all
            n = train_generator.transfer_matching(G, load_weights(args.resume).state_dict("generator"))
            self.transferred = n
        return G

    def batch(self) -> dict[str, torch.Tensor]:
        b = super().batch()
        sketches = []
        for i in b["src"].numpy():
            s = self.a.sketch[i].astype(np.float32) / 255.0
            sketches.append(augment_sketch(s, self.rng, strong=True, labels=self.a.labels[i], warp=False))
        b["mask"] = torch.from_numpy(np.stack(sketches).astype(np.float32))
        return b

    def save(self, out: Path, name: str, **meta) -> Path:
        return super().save(out, name, condition="sketch", **meta)


def evaluate_baseline(path: str, data: str, identities: int, level: float | None = None) -> dict:
    """The end-to-end mesh, SG and PSNR figures of a sketch generator on the held-out sketches,
    scored exactly as `training.evaluate` scores the S3D pipeline's `sketch` block."""
    G = load_sketch_generator(path)
    test = load_folder(data, "test")
    level = G.config.mesh_level if level is None else level
    gt_cache: dict = {}
    return {"weights": str(path), "mesh_level": level,
            "sketch": evaluate.evaluate_identities(G, test, level, identities, masks=test.sketch, gt_cache=gt_cache),
            "other_identity": evaluate.other_identity_baseline(gt_cache)}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "evaluate"):
        raise SystemExit("usage: python -m training.sketch_baseline {train,evaluate} ...")
    if argv[0] == "train":
        args = train_generator.parse_args(argv[1:])
        if args.init_from:
            raise SystemExit("error: the sketch baseline starts from a generator of its own domain: use --resume")
        train_generator.run(args, trainer_class=SketchTrainer)
        return 0
    ap = argparse.ArgumentParser(prog="python -m training.sketch_baseline evaluate")
    ap.add_argument("--weights", required=True, help="sketch generator .safetensors (from `train`)")
    ap.add_argument("--data", required=True, help="dataset folder (its test split is held out)")
    ap.add_argument("--test-identities", type=int, default=12)
    ap.add_argument("--level", type=float, default=None, help="iso-level (default: the weights' own)")
    ap.add_argument("--out", default=None, help="write the JSON here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv[1:])
    torch.set_num_threads(args.threads)
    if not (Path(args.data) / "meta" / "test").is_dir():
        raise SystemExit(f"error: {args.data} has no test split (meta/test); make it with training.make_dataset")
    t0 = time.time()
    results = evaluate_baseline(args.weights, args.data, args.test_identities, args.level)
    results["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(results, indent=2) + "\n"
    print(text, flush=True)
    if args.out:
        from s3d_engine.io_utils import write_text_atomic

        write_text_atomic(Path(args.out), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
