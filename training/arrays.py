"""In-memory training arrays: a dataset folder written by `training.make_dataset` (or samples
rendered on the fly, for tests) as numpy arrays, grouped by identity.

`load_folder(root, split)` reads `s3d/{split}/{image,mask,sketch}`, `meta/{split}` (camera,
identity, view) and `extra/{split}` (depth, alpha) once and caches them as one .npz beside the
folder (`cache_{split}.npz`), so later runs start in a second."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Arrays:
    rgb: np.ndarray  # (N, H, W, 3) uint8 (with the background)
    labels: np.ndarray  # (N, H, W) uint8
    sketch: np.ndarray  # (N, H, W) uint8, black strokes on white
    alpha: np.ndarray  # (N, H, W) uint8 {0, 1}
    depth: np.ndarray  # (N, H, W) float32 camera-space z, 0 on background
    camera: np.ndarray  # (N, 25) float32
    identity: np.ndarray  # (N,) int64
    view: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.identity)

    @property
    def resolution(self) -> int:
        return int(self.labels.shape[-1])

    def groups(self) -> list[np.ndarray]:
        """Sample indices of each identity (identities in first-seen order)."""
        order: dict[int, list[int]] = {}
        for i, ident in enumerate(self.identity.tolist()):
            order.setdefault(ident, []).append(i)
        return [np.asarray(v) for v in order.values()]

    def subset(self, idx: np.ndarray) -> "Arrays":
        return Arrays(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


def _png(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert(mode))


def load_folder(root: str | Path, split: str = "train", limit: int | None = None, cache: bool = True) -> Arrays:
    root = Path(root)
    cache_file = root / f"cache_{split}.npz"
    metas = sorted((root / "meta" / split).glob("*.json"))
    if cache and cache_file.exists() and limit is None:
        with np.load(cache_file) as z:
            if len(z["identity"]) == len(metas):  # a cache of a half-written dataset is stale
                return Arrays(**{k: z[k] for k in Arrays.__dataclass_fields__})
    if limit is not None:
        metas = metas[:limit]
    if not metas:
        raise FileNotFoundError(f"no samples in {root / 'meta' / split}")
    cols: dict[str, list] = {k: [] for k in Arrays.__dataclass_fields__}
    for m in metas:
        meta = json.loads(m.read_text())
        name = m.stem + ".png"
        cols["rgb"].append(_png(root / "s3d" / split / "image" / name, "RGB"))
        cols["labels"].append(_png(root / "s3d" / split / "mask" / name, "L"))
        cols["sketch"].append(_png(root / "s3d" / split / "sketch" / name, "L"))
        with np.load(root / "extra" / split / (m.stem + ".npz")) as z:
            cols["depth"].append(z["depth"].astype(np.float32))
            cols["alpha"].append(z["alpha"].astype(np.uint8))
        cols["camera"].append(np.asarray(meta["camera"], np.float32))
        cols["identity"].append(int(meta["identity"]))
        cols["view"].append(int(meta["view"]))
    arrays = Arrays(**{k: np.stack(v) if k not in ("identity", "view") else np.asarray(v, np.int64)
                       for k, v in cols.items()})
    if cache and limit is None:
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, **{k: getattr(arrays, k) for k in Arrays.__dataclass_fields__})
        tmp.replace(cache_file)
    return arrays


def render_arrays(kind: str, split: str, identities: int, views: int, res: int, seed: int = 0,
                  first_index: int = 0) -> Arrays:
    """Render samples on the fly (tests, validation identities never used for training)."""
    from training.data.sample import identity_seed, make_head, render_sample

    cols: dict[str, list] = {k: [] for k in Arrays.__dataclass_fields__}
    for i in range(identities):
        ident = identity_seed(split, first_index + i, seed)
        head = make_head(kind, ident)
        for v in range(views):
            s = render_sample(kind, ident, v, res, head=head)
            cols["rgb"].append(s.rgb)
            cols["labels"].append(s.labels)
            cols["sketch"].append(np.clip(s.sketch * 255 + 0.5, 0, 255).astype(np.uint8))
            cols["alpha"].append(s.alpha.astype(np.uint8))
            cols["depth"].append(s.depth.astype(np.float32))
            cols["camera"].append(s.camera.astype(np.float32))
            cols["identity"].append(ident)
            cols["view"].append(v)
    return Arrays(**{k: np.stack(v) if k not in ("identity", "view") else np.asarray(v, np.int64)
                     for k, v in cols.items()})
