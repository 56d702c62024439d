"""Figures for the README and docs/TRAINING.md, made by the real pipeline on shipped weights.

* `sketch_sheet`: one row per sketch: the sketch, the U-Net mask, the super-resolved front
  render, and the mesh's own part labels z-buffered from the front and from a three-quarter view
  (`training.data.gt_mesh.rasterize_mesh`: the triangles the user gets, not a volume render).
* `seed_sheet`: one mask, several seeds: the seed picks the appearance (the palette code's
  prior, see `training.appearance`), the mask the shape.

    python -m training.figures --weights face --sketches examples/face_sketch.png other.png \
        --out docs/img/sketch_to_mesh_face.png --seeds-out docs/img/seeds_face.png
"""
from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from s3d_engine.cameras import domain_camera
from s3d_engine.pipeline import S3DPipeline

TILE = 128


def _tile(img: np.ndarray) -> np.ndarray:
    im = Image.fromarray(np.asarray(img, np.uint8))
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im.resize((TILE, TILE), Image.Resampling.NEAREST))


def mesh_label_view(result, domain: str, yaw: float) -> np.ndarray:
    """The mesh's vertex labels, z-buffered at the domain camera turned by `yaw` radians."""
    from training.data.gt_mesh import LabelledMesh, rasterize_mesh

    m = result.mesh
    labels, _ = rasterize_mesh(LabelledMesh(m.vertices, m.faces, m.labels), domain_camera(domain, yaw_offset=yaw), TILE)
    rgb = result.labels.colorize(labels)
    rgb[labels == 0] = 255
    return rgb


def sketch_sheet(pipe: S3DPipeline, sketches, seed: int = 0) -> np.ndarray:
    domain = pipe.config.domain
    rows = []
    for sketch in sketches:
        r = pipe(sketch, seed=seed, mesh_resolution=128)
        rows.append(np.concatenate([_tile((r.sketch * 255).astype(np.uint8)), _tile(r.mask_rgb), _tile(r.front),
                                    _tile(mesh_label_view(r, domain, 0.0)), _tile(mesh_label_view(r, domain, 0.7))], 1))
    return np.concatenate(rows, 0)


def seed_sheet(pipe: S3DPipeline, sketch, seeds) -> np.ndarray:
    r0 = pipe(sketch, seed=0, mesh=False)
    tiles = [_tile(r0.mask_rgb)] + [_tile(pipe(mask=r0.mask, seed=int(s), mesh=False).front) for s in seeds]
    return np.concatenate(tiles, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.figures", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="shipped name or .safetensors path")
    ap.add_argument("--sketches", nargs="+", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds-out", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6, 7])
    args = ap.parse_args(argv)
    pipe = S3DPipeline.from_pretrained(args.weights, device="cpu")
    Image.fromarray(sketch_sheet(pipe, args.sketches)).save(args.out, optimize=True)
    print(args.out)
    if args.seeds_out:
        Image.fromarray(seed_sheet(pipe, args.sketches[0], args.seeds)).save(args.seeds_out, optimize=True)
        print(args.seeds_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
