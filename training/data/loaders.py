"""Readers for the real datasets' on-disk formats (no torch; see datasets.py for Datasets).

* CelebAMask-HQ: `CelebA-HQ-img/{idx}.jpg` and per-part binary masks
  `CelebAMask-HQ-mask-anno/{idx // 2000}/{idx:05d}_{part}.png`, merged in the order of the
  official `g_mask.py` (later parts overwrite earlier ones; label = position + 1). Part PNGs may
  be 1- or 3-channel; a pixel belongs to the part when any channel is non-zero.
* MM-CelebA-HQ sketches: `{sketch_root}/{idx}.jpg` (or .png), idx without zero padding as in
  S3D's `substract_background_from_sketch.py`, whitened outside the dilated union of the
  CelebAMask-HQ parts (5x5 kernel, 3 iterations at 512^2), as S3D did.
* AFHQ: v1 `afhq/{train,val}/{cat,dog,wild}/*.jpg`, v2 `{train,test}/{cat,dog,wild}/*.png`.
* pix2pix3D / EG3D: a zip or folder of images with `dataset.json`
  (`{"labels": [[name, [25 floats]], ...]}`, looked up by name with `\\` normalised to `/`),
  plus a zip or folder of masks paired with the images by *independently sorted order*, as
  pix2pix3D does; a warning names the first pair whose file stems disagree.
* S3D: `{root}/{train,test}/{sketch,mask,image}/` (faces) or the cat folders
  `afhqcat_edge_pidinet`, `afhqcat_seg_6c_no_nose`, paired by sorted order.

Bad folders raise `DatasetError` with a message that says what is wrong and what was expected.
"""
from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from s3d_engine.errors import S3DError
from s3d_engine.labels import FACE_LABELS

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CELEBAMASK_PARTS = FACE_LABELS.names[1:]  # skin, nose, eye_g, ..., neck, cloth: g_mask.py's order
CELEBA_SPLIT = (162771, 182638)  # original CelebA index: train < 162771 <= val < 182638 <= test


class DatasetError(S3DError):
    """A dataset folder or archive is missing files, inconsistent, or holds invalid values."""


# ----------------------------------------------------------------------------- helpers
def _read_image(source, mode: str | None = None) -> np.ndarray:
    try:
        with Image.open(source) as img:
            img.load()
            return np.asarray(img.convert(mode) if mode else img)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {source}: {exc}") from None


def _resize(arr: np.ndarray, size: int | None, nearest: bool) -> np.ndarray:
    if size is None or arr.shape[:2] == (size, size):
        return arr
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.LANCZOS
    return np.asarray(Image.fromarray(arr).resize((size, size), method))


def check_mask_values(mask: np.ndarray, num_classes: int, where: str) -> np.ndarray:
    if mask.size and int(mask.max()) >= num_classes:
        bad = sorted(int(v) for v in np.unique(mask) if v >= num_classes)[:8]
        raise DatasetError(f"{where}: mask values {bad} out of range for {num_classes} classes (0..{num_classes - 1}); "
                           "is it a colour mask or the wrong label set?")
    return mask


# ----------------------------------------------------------------------------- CelebAMask-HQ
def celebamask_part_path(anno_root: str | os.PathLike, idx: int, part: str) -> Path:
    return Path(anno_root) / str(idx // 2000) / f"{idx:05d}_{part}.png"


def read_part_mask(path: str | os.PathLike) -> np.ndarray:
    """A part PNG as a boolean mask (1- or 3-channel; any non-zero channel counts)."""
    arr = _read_image(path)
    if arr.ndim == 3:
        arr = arr[..., :3].max(-1)
    return arr != 0


def merge_celebamask_parts(anno_root: str | os.PathLike, idx: int, size: int | None = 512) -> np.ndarray:
    """The 19-class label map of CelebAMask-HQ image `idx` (uint8, 0 = background)."""
    merged = None
    found = 0
    for label, part in enumerate(CELEBAMASK_PARTS, start=1):
        path = celebamask_part_path(anno_root, idx, part)
        if not path.is_file():
            continue
        found += 1
        m = read_part_mask(path)
        if merged is None:
            merged = np.zeros(m.shape, np.uint8)
        if m.shape != merged.shape:
            raise DatasetError(f"{path}: size {m.shape} differs from the other parts of {idx} ({merged.shape})")
        merged[m] = label
    if not found:
        raise DatasetError(f"no part masks for CelebAMask-HQ index {idx} under {anno_root} "
                           f"(expected e.g. {celebamask_part_path(anno_root, idx, 'skin')})")
    return _resize(merged, size, nearest=True)


def part_union(anno_root: str | os.PathLike, idx: int) -> np.ndarray:
    """OR of all part masks of an index (the region S3D keeps in the sketches)."""
    return merge_celebamask_parts(anno_root, idx, size=None) > 0


def celebamask_split(mapping_file: str | os.PathLike) -> dict[int, str]:
    """CelebA-HQ index -> 'train' / 'val' / 'test' from `CelebA-HQ-to-CelebA-mapping.txt`,
    by the original CelebA index (the official g_partition.py rule)."""
    out = {}
    lines = Path(mapping_file).read_text().splitlines()
    for line in lines[1:]:
        cols = line.split()
        if len(cols) < 2:
            continue
        idx, orig = int(cols[0]), int(cols[1])
        out[idx] = "train" if orig < CELEBA_SPLIT[0] else ("val" if orig < CELEBA_SPLIT[1] else "test")
    if not out:
        raise DatasetError(f"{mapping_file}: no 'idx orig_idx orig_file' rows found")
    return out


class CelebAMaskHQ:
    """CelebAMask-HQ images with merged 19-class masks. `split` uses the mapping file."""

    def __init__(self, root: str | os.PathLike, size: int = 512, split: str | None = None):
        self.root = Path(root)
        self.img_dir = self.root / "CelebA-HQ-img"
        self.anno_dir = self.root / "CelebAMask-HQ-mask-anno"
        for d in (self.img_dir, self.anno_dir):
            if not d.is_dir():
                raise DatasetError(f"CelebAMask-HQ folder {self.root} has no {d.name}/ (expected CelebA-HQ-img/ "
                                   "and CelebAMask-HQ-mask-anno/)")
        self.size = size
        ids = sorted(int(p.stem) for p in self.img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.stem.isdigit())
        if split is not None:
            mapping = self.root / "CelebA-HQ-to-CelebA-mapping.txt"
            if not mapping.is_file():
                raise DatasetError(f"split {split!r} needs {mapping}")
            splits = celebamask_split(mapping)
            ids = [i for i in ids if splits.get(i) == split]
        if not ids:
            raise DatasetError(f"no images named {{idx}}.jpg in {self.img_dir}")
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        idx = self.ids[i]
        path = next((self.img_dir / f"{idx}{ext}" for ext in IMAGE_EXTS if (self.img_dir / f"{idx}{ext}").is_file()))
        image = _resize(_read_image(path, "RGB"), self.size, nearest=False)
        return {"index": idx, "image": image, "mask": merge_celebamask_parts(self.anno_dir, idx, self.size)}


# ----------------------------------------------------------------------------- MM-CelebA-HQ sketches
def whiten_background(sketch: np.ndarray, keep: np.ndarray, kernel: int = 5, iterations: int = 3) -> np.ndarray:
    """S3D's background subtraction: white outside `keep` dilated by a kernel x kernel square
    `iterations` times (at the mask's resolution), the sketch unchanged inside."""
    region = ndimage.binary_dilation(keep, structure=np.ones((kernel, kernel), bool), iterations=iterations)
    if region.shape != sketch.shape:
        region = np.asarray(Image.fromarray(region.astype(np.uint8) * 255).resize(sketch.shape[::-1], Image.Resampling.NEAREST)) > 0
    white = 255 if sketch.dtype == np.uint8 else 1.0
    return np.where(region, sketch, white).astype(sketch.dtype)


class MMCelebAHQSketches:
    """MM-CelebA-HQ sketches paired with CelebAMask-HQ masks by index, background whitened."""

    def __init__(self, sketch_root: str | os.PathLike, celebamask_root: str | os.PathLike, size: int = 512):
        self.sketch_root = Path(sketch_root)
        self.anno = Path(celebamask_root) / "CelebAMask-HQ-mask-anno"
        if not self.sketch_root.is_dir():
            raise DatasetError(f"sketch folder {self.sketch_root} does not exist")
        if not self.anno.is_dir():
            raise DatasetError(f"{celebamask_root} has no CelebAMask-HQ-mask-anno/ folder")
        self.files = {int(p.stem): p for p in self.sketch_root.iterdir()
                      if p.suffix.lower() in IMAGE_EXTS and p.stem.isdigit()}
        if not self.files:
            raise DatasetError(f"no sketches named {{idx}}.jpg in {self.sketch_root}")
        self.ids = sorted(self.files)
        self.size = size

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        idx = self.ids[i]
        mask = merge_celebamask_parts(self.anno, idx, size=None)
        sketch = whiten_background(_read_image(self.files[idx], "L"), mask > 0)
        sketch = _resize(sketch, self.size, nearest=False).astype(np.float32) / 255.0
        return {"index": idx, "sketch": sketch, "mask": _resize(mask, self.size, nearest=True)}


# ----------------------------------------------------------------------------- AFHQ
def list_afhq(root: str | os.PathLike, split: str = "train", domain: str = "cat") -> list[Path]:
    """Sorted image paths of AFHQ v1 (`afhq/{train,val}/cat/*.jpg`) or v2 (`{train,test}/cat/*.png`)."""
    root = Path(root)
    aliases = {"val": ("val", "test"), "test": ("test", "val"), "train": ("train",)}.get(split, (split,))
    bases = [root, root / "afhq", root / "afhq_v2", root / "afhqv2"]
    for base in bases:
        for name in aliases:
            folder = base / name / domain
            if folder.is_dir():
                files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
                if not files:
                    raise DatasetError(f"AFHQ folder {folder} holds no images")
                return files
    raise DatasetError(f"no AFHQ {split}/{domain} folder under {root} (expected afhq/{{train,val}}/{domain}/*.jpg "
                       f"or {{train,test}}/{domain}/*.png)")


class AFHQ:
    def __init__(self, root: str | os.PathLike, split: str = "train", domain: str = "cat", size: int | None = 512):
        self.files = list_afhq(root, split, domain)
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        return {"path": str(self.files[i]), "image": _resize(_read_image(self.files[i], "RGB"), self.size, nearest=False)}


# ----------------------------------------------------------------------------- pix2pix3D archives
class Archive:
    """A zip file or a folder, listed as sorted relative posix names of image files."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.is_dir():
            self._zip = None
            names = [p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()]
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
        else:
            raise DatasetError(f"{self.path} is neither a folder nor a zip file")
        self.all_names = set(names)
        self.images = sorted(n for n in names if Path(n).suffix.lower() in IMAGE_EXTS)

    def open(self, name: str):
        return io.BytesIO(self._zip.read(name)) if self._zip else open(self.path / name, "rb")

    def has(self, name: str) -> bool:
        return name in self.all_names


def read_dataset_json(archive: Archive) -> dict[str, np.ndarray]:
    """Camera labels by normalised name. A missing file is the usual cause of pix2pix3D's bare
    'got 0, expected 25' error, so it is reported as such."""
    if not archive.has("dataset.json"):
        raise DatasetError(f"{archive.path} has no dataset.json at its root: pix2pix3D needs camera labels "
                           '{"labels": [[file name, [25 floats]], ...]}; without it training stops with '
                           "'got 0, expected 25'")
    with archive.open("dataset.json") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{archive.path}/dataset.json is not valid JSON: {exc}") from None
    labels = data.get("labels") if isinstance(data, dict) else None
    if not labels:
        raise DatasetError(f"{archive.path}/dataset.json has no 'labels' list")
    out = {}
    for entry in labels:
        name, values = entry[0].replace("\\", "/"), np.asarray(entry[1], dtype=np.float32).reshape(-1)
        if values.shape[0] != 25:
            raise DatasetError(f"{archive.path}/dataset.json: label of {name} has {values.shape[0]} values, expected 25 "
                               "(cam2world 4x4 + intrinsics 3x3)")
        out[name] = values
    return out


def pair_sorted(first: list[str], second: list[str], what: str) -> list[tuple[str, str]]:
    """Pair two file lists by sorted position (pix2pix3D's and S3D's rule); counts must match
    and a warning names the first pair whose stems differ."""
    if len(first) != len(second):
        raise DatasetError(f"{what}: {len(first)} vs {len(second)} files; pairing is by sorted order, so the "
                           "counts must match")
    for a, b in zip(first, second):
        if Path(a).stem != Path(b).stem:
            warnings.warn(f"{what}: files are paired by sorted order but names disagree, e.g. {a!r} with {b!r}",
                          stacklevel=2)
            break
    return list(zip(first, second))


class Pix2Pix3DData:
    """pix2pix3D's (image archive + dataset.json, mask archive) pair, read like its
    `ImageFolderDataset`: images and masks by independently sorted order."""

    def __init__(self, images: str | os.PathLike, masks: str | os.PathLike | None = None, num_classes: int = 19,
                 data_type: str = "seg"):
        if data_type not in ("seg", "edge"):
            raise DatasetError(f"data_type must be 'seg' or 'edge', got {data_type!r}")
        self.images = Archive(images)
        if not self.images.images:
            raise DatasetError(f"{images} holds no images")
        self.labels = read_dataset_json(self.images)
        missing = [n for n in self.images.images if n not in self.labels]
        if missing:
            raise DatasetError(f"{images}/dataset.json has no label for {len(missing)} image(s), e.g. {missing[0]!r}")
        self.masks = Archive(masks) if masks is not None else None
        self.pairs = pair_sorted(self.images.images, self.masks.images, f"{images} / {masks}") if self.masks else None
        self.num_classes = num_classes
        self.data_type = data_type

    def __len__(self) -> int:
        return len(self.images.images)

    def __getitem__(self, i: int) -> dict:
        name = self.images.images[i]
        with self.images.open(name) as fh:
            image = _read_image(fh, "RGB")
        item = {"idx": i, "name": name, "image": image.transpose(2, 0, 1).copy(), "pose": self.labels[name]}
        if self.pairs:
            mname = self.pairs[i][1]
            with self.masks.open(mname) as fh:
                mask = _read_image(fh, "L")
            if self.data_type == "seg":
                check_mask_values(mask, self.num_classes, f"{self.masks.path}/{mname}")
            item["mask"] = mask[None].copy()
        return item


# ----------------------------------------------------------------------------- S3D folders
S3D_FOLDERS = {
    "face": ("sketch", "mask", "image"),
    "cat": ("afhqcat_edge_pidinet", "afhqcat_seg_6c_no_nose", None),
}


def s3d_triplets(root: str | os.PathLike, split: str = "train", kind: str = "face") -> list[tuple[Path, Path, Path | None]]:
    """(sketch, mask, image or None) paths of an S3D split, paired by sorted order. Our own
    generated datasets use the face folder names for both kinds."""
    base = Path(root) / split
    if not base.is_dir():
        raise DatasetError(f"S3D folder {base} does not exist (expected {{root}}/{{train,test}}/{{sketch,mask,image}})")
    names = S3D_FOLDERS["face"] if (base / "sketch").is_dir() else S3D_FOLDERS.get(kind, S3D_FOLDERS["face"])
    lists = []
    for sub in names:
        if sub is None:
            lists.append(None)
            continue
        folder = base / sub
        if not folder.is_dir():
            if sub == "image":
                lists.append(None)
                continue
            raise DatasetError(f"S3D split {base} has no {sub}/ folder (found: {sorted(p.name for p in base.iterdir())})")
        lists.append(sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS))
    sketches, masks, images = lists
    if not sketches:
        raise DatasetError(f"{base / names[0]} holds no images")
    pairs = pair_sorted([str(p) for p in sketches], [str(p) for p in masks], f"{base} sketch/mask")
    if images is not None:
        pair_sorted([str(p) for p in sketches], [str(p) for p in images], f"{base} sketch/image")
    return [(Path(s), Path(m), images[i] if images is not None else None) for i, (s, m) in enumerate(pairs)]
