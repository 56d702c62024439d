"""Combine a trained generator and U-Net into one shipped weights file, with the chosen mesh
level stored in the configuration and the provenance in the sidecar.

    python -m training.package --generator out/gen_face/final.safetensors \
        --unet out/unet_face/unet.safetensors --mesh-level 10 --metrics out/eval_face.json \
        --out weights/face.safetensors
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_into, load_weights, save_weights


def package(generator: str, unet: str, out: str, mesh_level: float | None = None, **metadata) -> Path:
    gw, uw = load_weights(generator), load_weights(unet)
    config = gw.config
    if mesh_level is not None:
        config = dataclasses.replace(config, mesh_level=float(mesh_level))
    G = TriPlaneGenerator(config)
    load_into(G, gw.state_dict("generator"), generator)
    U = UNetStyleDistil(config.unet, config.num_classes)
    load_into(U, uw.state_dict("unet"), unet)
    return save_weights(out, {"generator": G, "unet": U}, config, **metadata)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.package", description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", required=True)
    ap.add_argument("--unet", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mesh-level", type=float, default=None)
    ap.add_argument("--metrics", default=None, help="JSON file of metrics to embed in the sidecar")
    ap.add_argument("--training-command", default="", help="the exact commands that produced the weights")
    ap.add_argument("--data", default="", help="description of the training data")
    args = ap.parse_args(argv)
    meta = {"training_command": args.training_command, "data": args.data,
            "generator_training": load_weights(args.generator).metadata.get("training_command", ""),
            "unet_training": load_weights(args.unet).metadata.get("training_command", "")}
    if args.metrics:
        meta["metrics"] = json.loads(Path(args.metrics).read_text())
    print(package(args.generator, args.unet, args.out, args.mesh_level, **meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
