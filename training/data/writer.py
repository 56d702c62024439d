"""On-disk layouts of generated datasets, atomic writes, class statistics and contact sheets.

Layout of a dataset folder OUT (one sample = one view; `k` = sample number within its split):

    OUT/dataset_info.json                      settings; a resume must use the same ones
    OUT/pix2pix3d/{split}/images/{k//1000:05d}/img{k:08d}.png   RGB
    OUT/pix2pix3d/{split}/images/dataset.json  {"labels": [[relative name, [25 floats]], ...]}
    OUT/pix2pix3d/{split}/masks/...same names  class ids, 8-bit grayscale
    OUT/pix2pix3d/{split}/edges/...same names  sketches (pix2pix3D --data_type edge)
    OUT/s3d/{split}/{sketch,mask,image}/{k:08d}.png             S3D's sketch2mask layout
    OUT/meta/{split}/{k:08d}.json              identity, view, camera, sketch style, class pixel
                                               counts; written last = the sample is complete
    OUT/extra/{split}/{k:08d}.npz              depth (float32, camera z) and alpha (optional)
    OUT/meshes/{split}/{identity:010d}.npz     GT mesh + per-vertex labels (optional)
    OUT/class_frequency.{json,md}, OUT/contact_sheet.png

pix2pix3D pairs images and masks by independently sorted file names; ours are identical, so
the pairing is exact. Every file is written to a temporary name and moved into place with
`os.replace`, so an interrupted run never leaves a truncated file under a final name.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from s3d_engine.labels import label_set


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1).encode())


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def sketch_to_uint8(sketch: np.ndarray) -> np.ndarray:
    return (np.clip(sketch, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class DatasetLayout:
    """Paths of one dataset folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def p2p_name(self, k: int) -> str:
        return f"{k // 1000:05d}/img{k:08d}.png"

    def p2p(self, split: str, kind: str, k: int) -> Path:
        return self.root / "pix2pix3d" / split / kind / self.p2p_name(k)

    def s3d(self, split: str, kind: str, k: int) -> Path:
        return self.root / "s3d" / split / kind / f"{k:08d}.png"

    def meta(self, split: str, k: int) -> Path:
        return self.root / "meta" / split / f"{k:08d}.json"

    def extra(self, split: str, k: int) -> Path:
        return self.root / "extra" / split / f"{k:08d}.npz"

    def mesh(self, split: str, identity: int) -> Path:
        return self.root / "meshes" / split / f"{identity:010d}.npz"

    def dataset_json(self, split: str) -> Path:
        return self.root / "pix2pix3d" / split / "images" / "dataset.json"

    def done(self, split: str, k: int) -> bool:
        return self.meta(split, k).is_file()


def write_sample(layout: DatasetLayout, split: str, k: int, sample, extras: bool = True) -> dict:
    """Write one sample in both layouts; the meta file goes last and marks completion."""
    rgb, mask, sketch = png_bytes(sample.rgb), png_bytes(sample.labels), png_bytes(sketch_to_uint8(sample.sketch))
    atomic_write_bytes(layout.p2p(split, "images", k), rgb)
    atomic_write_bytes(layout.p2p(split, "masks", k), mask)
    atomic_write_bytes(layout.p2p(split, "edges", k), sketch)
    atomic_write_bytes(layout.s3d(split, "image", k), rgb)
    atomic_write_bytes(layout.s3d(split, "mask", k), mask)
    atomic_write_bytes(layout.s3d(split, "sketch", k), sketch)
    if extras:
        buf = io.BytesIO()
        np.savez_compressed(buf, depth=sample.depth.astype(np.float32), alpha=sample.alpha.astype(np.uint8))
        atomic_write_bytes(layout.extra(split, k), buf.getvalue())
    n_classes = label_set(sample.kind).num_classes
    meta = {
        "k": k, "split": split, "kind": sample.kind, "identity": int(sample.identity), "view": int(sample.view_index),
        "camera": [float(x) for x in sample.camera], "sketch_style": sample.sketch_style,
        "class_pixels": np.bincount(sample.labels.ravel(), minlength=n_classes).tolist(),
        "file": layout.p2p_name(k),
    }
    atomic_write_json(layout.meta(split, k), meta)
    return meta


def read_metas(layout: DatasetLayout, split: str, count: int) -> list[dict]:
    return [json.loads(layout.meta(split, k).read_text()) for k in range(count)]


def write_dataset_json(layout: DatasetLayout, split: str, metas: list[dict]) -> None:
    """pix2pix3D/EG3D labels: {"labels": [[name relative to the images root, [25 floats]], ...]}."""
    labels = [[m["file"], m["camera"]] for m in sorted(metas, key=lambda m: m["k"])]
    atomic_write_json(layout.dataset_json(split), {"labels": labels})


def class_frequency(metas: list[dict], kind: str) -> list[dict]:
    """Per class: share of all pixels, share of foreground pixels, share of images showing it."""
    names = label_set(kind).names
    counts = np.array([m["class_pixels"] for m in metas], dtype=np.int64)
    total = counts.sum()
    fg = counts[:, 1:].sum()
    rows = []
    for c, name in enumerate(names):
        rows.append({
            "id": c, "name": name, "pixel_pct": 100.0 * counts[:, c].sum() / max(total, 1),
            "fg_pct": 100.0 * counts[:, c].sum() / max(fg, 1) if c else float("nan"),
            "image_pct": 100.0 * float((counts[:, c] > 0).mean()) if len(counts) else 0.0,
        })
    return rows


def frequency_table(rows: list[dict], count: int) -> str:
    lines = [f"| id | class | % pixels | % of head pixels | % of images (n={count}) |", "|---:|---|---:|---:|---:|"]
    for r in rows:
        fg = "-" if r["id"] == 0 else f"{r['fg_pct']:.2f}"
        lines.append(f"| {r['id']} | {r['name']} | {r['pixel_pct']:.2f} | {fg} | {r['image_pct']:.1f} |")
    return "\n".join(lines)


def contact_sheet(layout: DatasetLayout, split: str, kind: str, count: int, n: int = 16, tile: int = 96,
                  per_row: int = 4, stride: int = 1) -> Image.Image:
    """A grid of n samples (every `stride`-th), each as RGB | label colours | sketch tiles."""
    ls = label_set(kind)
    ks = list(range(0, count, max(stride, 1)))[:n]
    n = len(ks)
    cells = []
    for k in ks:
        rgb = Image.open(layout.s3d(split, "image", k)).convert("RGB")
        mask = np.asarray(Image.open(layout.s3d(split, "mask", k)))
        sk = Image.open(layout.s3d(split, "sketch", k)).convert("RGB")
        parts = [rgb, Image.fromarray(ls.colorize(mask)), sk]
        cells.append(np.concatenate([np.asarray(im.resize((tile, tile), Image.Resampling.BILINEAR)) for im in parts], 1))
    rows = []
    for r in range(0, n, per_row):
        row = cells[r:r + per_row]
        row += [np.full_like(cells[0], 255)] * (per_row - len(row))
        rows.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in row], 1))
    return Image.fromarray(np.concatenate(rows, 0))


def zip_folder(folder: Path, zip_path: Path) -> None:
    """Pack a folder (pix2pix3D reads zips or folders alike); atomic like everything else."""
    import zipfile

    tmp = zip_path.with_name(f".{zip_path.name}.tmp{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                zf.write(path, path.relative_to(folder).as_posix())
    os.replace(tmp, zip_path)
