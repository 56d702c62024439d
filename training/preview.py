"""Contact sheet of a generator checkpoint on held-out views: for each test view, the GT RGB,
the super-resolved render, the raw render, the GT labels and the SR labels, and a side view
(yaw +0.6 rad) of the same head.

    python -m training.preview --weights out/gen_face/checkpoint.safetensors --data out/face_data --out /tmp/p.png
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from s3d_engine.cameras import domain_camera
from s3d_engine.labels import label_set
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.weights import load_into, load_weights

from .arrays import load_folder


def to_uint8(img: torch.Tensor, size: int) -> np.ndarray:
    img = F.interpolate(img[None], size=(size, size), mode="nearest")[0] if img.shape[-1] != size else img
    return ((img.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()


@torch.no_grad()
def sheet(G: TriPlaneGenerator, arrays, indices, domain: str) -> np.ndarray:
    labels = label_set(domain)
    rows = []
    side = torch.from_numpy(domain_camera(domain, yaw_offset=0.6))[None].float()
    for i in indices:
        c = torch.from_numpy(arrays.camera[i])[None]
        ws = G.mapping(torch.randn(1, G.config.generator.z_dim, generator=torch.Generator().manual_seed(0)), c,
                       mask=torch.from_numpy(arrays.labels[i].astype(np.int64))[None])
        planes = G.planes(ws)
        out = G.render(planes, ws, c)
        out_side = G.render(planes, ws, side)
        size = arrays.resolution
        tiles = [arrays.rgb[i], to_uint8(out["image"][0], size), to_uint8(out["image_raw"][0], size),
                 labels.colorize(arrays.labels[i]), labels.colorize(out["semantic"][0].argmax(0).numpy().astype(np.uint8)),
                 to_uint8(out_side["image"][0], size),
                 labels.colorize(out_side["semantic"][0].argmax(0).numpy().astype(np.uint8))]
        rows.append(np.concatenate([np.asarray(t, np.uint8)[..., :3] for t in tiles], 1))
    return np.concatenate(rows, 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.preview")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    w = load_weights(args.weights)
    G = TriPlaneGenerator(w.config)
    load_into(G, w.state_dict("generator"), args.weights)
    G.eval()
    test = load_folder(args.data, "test")
    idx = [int(g[0]) for g in test.groups()[:args.count]]
    Image.fromarray(sheet(G, test, idx, w.config.domain)).save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
