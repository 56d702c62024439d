"""torch Datasets for training code: S3D's sketch/mask folders, pix2pix3D's image/mask
archives, and procedural samples rendered on the fly.

Item conventions (what later training code can rely on):
* `sketch`: float32 (1, H, W) in [0, 1], black strokes (0) on white (1), as S3D's `ToTensor`;
* `mask`: int64 (H, W) class ids;
* `image`: uint8 (3, H, W) RGB (pix2pix3D normalises with x / 127.5 - 1 in the training loop);
* `pose`: float32 (25,) EG3D camera label.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset

from s3d_engine.labels import label_set

from .augment import augment_sketch
from .loaders import Pix2Pix3DData, _read_image, _resize, check_mask_values, s3d_triplets


class S3DFolderDataset(Dataset):
    """S3D's `{root}/{split}/{sketch,mask,image}` layout (ours and the original). `augment`:
    "none", "s3d" (3x3 erode/dilate, p = 0.5) or "strong" (plus warps, dropout, thickness).
    Sketches are resized to `resolution` (bilinear) and masks with nearest neighbour."""

    def __init__(self, root: str | os.PathLike, split: str = "train", kind: str = "face", resolution: int | None = None,
                 augment: str = "none", seed: int | None = None):
        if augment not in ("none", "s3d", "strong"):
            raise ValueError(f"augment must be 'none', 's3d' or 'strong', got {augment!r}")
        self.items = s3d_triplets(root, split, kind)
        self.num_classes = label_set(kind).num_classes
        self.resolution = resolution
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Seeded augmentation differs per epoch but is reproducible."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def _rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng(None if self.seed is None else [self.seed, self.epoch, i])

    def __getitem__(self, i: int) -> dict:
        sketch_path, mask_path, image_path = self.items[i]
        sketch = _resize(_read_image(sketch_path, "L"), self.resolution, nearest=False).astype(np.float32) / 255.0
        mask = check_mask_values(_resize(_read_image(mask_path, "L"), self.resolution, nearest=True),
                                 self.num_classes, str(mask_path))
        if self.augment != "none":
            sketch = augment_sketch(sketch, self._rng(i), strong=self.augment == "strong", labels=mask)
        item = {"sketch": torch.from_numpy(np.ascontiguousarray(sketch))[None],
                "mask": torch.from_numpy(mask.astype(np.int64)), "name": sketch_path.name}
        if image_path is not None:
            image = _resize(_read_image(image_path, "RGB"), self.resolution, nearest=False)
            item["image"] = torch.from_numpy(image.transpose(2, 0, 1).copy())
        return item


class Pix2Pix3DDataset(Dataset):
    """pix2pix3D's training data: images (+ dataset.json) and masks (seg ids or edge sketches),
    zips or folders, paired by sorted order. Items: image, pose, mask (1, H, W), idx."""

    def __init__(self, images: str | os.PathLike, masks: str | os.PathLike | None = None, num_classes: int = 19,
                 data_type: str = "seg"):
        self.data = Pix2Pix3DData(images, masks, num_classes, data_type)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        raw = self.data[i]
        item = {"idx": raw["idx"], "image": torch.from_numpy(raw["image"]), "pose": torch.from_numpy(raw["pose"])}
        if "mask" in raw:
            item["mask"] = torch.from_numpy(raw["mask"])
        return item


class ProceduralDataset(Dataset):
    """Procedural samples rendered on demand (deterministic): item i is view i % V of the
    (i // V)-th identity of `split`. Handy for tests and small experiments without a cache."""

    def __init__(self, kind: str, count: int, res: int = 64, split: str = "train", seed: int = 0,
                 views_per_identity: int = 4, sketch_style: str | None = None):
        self.kind, self.count, self.res, self.split, self.seed = kind, count, res, split, seed
        self.views = views_per_identity
        self.sketch_style = sketch_style

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict:
        from .sample import identity_seed, render_sample

        s = render_sample(self.kind, identity_seed(self.split, i // self.views, self.seed), i % self.views, self.res,
                          sketch_style=self.sketch_style)
        return {"sketch": torch.from_numpy(s.sketch)[None], "mask": torch.from_numpy(s.labels.astype(np.int64)),
                "image": torch.from_numpy(s.rgb.transpose(2, 0, 1).copy()), "pose": torch.from_numpy(s.camera),
                "depth": torch.from_numpy(s.depth), "alpha": torch.from_numpy(s.alpha)}
