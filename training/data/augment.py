"""Sketch augmentation: S3D's own, plus stronger optional ones for hand-drawn robustness.

S3D (`sketch2mask/train.py`, `RandomErodeDilateTransform`) applies, with probability 0.5, a 3x3
erode or dilate (chosen at random) to the black-on-white 512^2 sketch: on such images *erode*
(a minimum filter) thickens the strokes and *dilate* thins them. That is `s3d_erode_dilate`
(at smaller sizes it works at 512^2 internally, see there).

The stronger set (`augment_sketch(..., strong=True)`) adds: a random affine (rotation, scale,
shift), a smooth elastic warp, stroke dropout (erase the ink in random small cells),
thickness jitter, and part dropout (erase the strokes over one part, e.g. the hair), which
mimic imprecise or incomplete user drawings. The geometric ones can be applied to the mask
as well (`augment_pair`) when the pair must stay aligned.

All functions take float32 (H, W) sketches in [0, 1] (paper = 1) and a numpy Generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def s3d_erode_dilate(sketch: np.ndarray, rng: np.random.Generator, p: float = 0.5, reference: int = 512) -> np.ndarray:
    """S3D's augmentation: with probability p, a 3x3 grey erosion or dilation (50/50).

    S3D applies it at 512^2, where a 3x3 kernel moves stroke edges by a quarter of a pixel of
    a 128^2 image. Below `reference` the sketch is therefore upsampled to `reference`, filtered,
    and box-filtered back, which keeps the effect's physical size (a plain 3x3 dilation at 128^2
    would erase 1-2 px strokes altogether)."""
    if rng.random() >= p:
        return sketch
    op = ndimage.grey_erosion if rng.random() < 0.5 else ndimage.grey_dilation  # erosion = thicker
    size = sketch.shape[0]
    if size >= reference:
        return op(sketch, size=(3, 3), mode="nearest")
    from PIL import Image

    big = np.asarray(Image.fromarray(sketch.astype(np.float32), mode="F").resize((reference, reference), Image.Resampling.BILINEAR))
    big = op(big, size=(3, 3), mode="nearest")
    small = Image.fromarray(big, mode="F").resize(sketch.shape[::-1], Image.Resampling.BOX)
    return np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)


def thickness(sketch: np.ndarray, pixels: int) -> np.ndarray:
    """Thicken (pixels > 0) or thin (< 0) the strokes by |pixels| steps of a 3x3 filter."""
    out = sketch
    for _ in range(abs(pixels)):
        out = (ndimage.grey_erosion if pixels > 0 else ndimage.grey_dilation)(out, size=(3, 3), mode="nearest")
    return out


@dataclass(frozen=True)
class Warp:
    """A sampling grid (2, H, W) of source (row, col) coordinates; apply it to any image."""

    coords: np.ndarray

    def apply(self, image: np.ndarray, order: int = 1, cval: float = 1.0) -> np.ndarray:
        return ndimage.map_coordinates(image, self.coords, order=order, mode="constant", cval=cval).astype(image.dtype)


def random_warp(rng: np.random.Generator, size: int, rotate_deg: float = 6.0, scale: float = 0.08,
                shift_px: float = 4.0, elastic_px: float = 2.0, elastic_sigma: float = 8.0) -> Warp:
    """Random affine (about the centre) composed with a Gaussian-smoothed displacement field.
    Pixel amounts are given at 128^2 and scale with the image size."""
    k = size / 128.0
    ang = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg))
    sc = 1.0 + rng.uniform(-scale, scale)
    shift = rng.uniform(-shift_px, shift_px, 2) * k
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2.0
    y, x = rows - c - shift[0], cols - c - shift[1]
    cos, sin = np.cos(ang) / sc, np.sin(ang) / sc
    src_r = cos * y - sin * x + c
    src_c = sin * y + cos * x + c
    if elastic_px > 0:
        amp = rng.uniform(0.3, 1.0) * elastic_px * k
        for grid in (src_r, src_c):
            field = ndimage.gaussian_filter(rng.normal(size=(size, size)), elastic_sigma * k)
            field /= max(float(np.abs(field).max()), 1e-9)
            grid += amp * field
    return Warp(np.stack([src_r, src_c]))


def stroke_dropout(sketch: np.ndarray, rng: np.random.Generator, fraction: float = 0.15,
                   piece_px: int = 10) -> np.ndarray:
    """Delete about `fraction` of the ink in random pieces: the page is cut into cells of
    about `piece_px` pixels and the ink of randomly chosen cells is erased (painted white)."""
    ink = sketch < 0.6
    if not ink.any():
        return sketch
    size = sketch.shape[0]
    cells = max(1, size // max(piece_px, 1))
    partition = rng.random((cells, cells)) < fraction
    drop = np.kron(partition, np.ones((int(np.ceil(size / cells)),) * 2, bool))[:size, :size]
    out = sketch.copy()
    out[drop & ink] = 1.0
    return out


def part_dropout(sketch: np.ndarray, labels: np.ndarray, rng: np.random.Generator, part_ids: tuple[int, ...]) -> np.ndarray:
    """Erase the strokes inside one randomly chosen part (dilated a little), e.g. hair or ears."""
    present = [pid for pid in part_ids if (labels == pid).any()]
    if not present:
        return sketch
    region = ndimage.binary_dilation(labels == present[int(rng.integers(len(present)))], iterations=1)
    out = sketch.copy()
    out[region] = 1.0
    return out


def augment_sketch(sketch: np.ndarray, rng: np.random.Generator, strong: bool = False,
                   labels: np.ndarray | None = None, droppable: tuple[int, ...] = (8, 9, 13, 14, 15, 16, 18),
                   warp: bool = True) -> np.ndarray:
    """S3D's erode/dilate always; with `strong`, also (each with its own probability) affine +
    elastic warp (unless `warp` is False: the caller warps sketch and mask together with
    `augment_pair`), stroke dropout, thickness jitter and, given `labels`, part dropout."""
    out = sketch.astype(np.float32)
    if strong:
        if labels is not None and rng.random() < 0.2:
            out = part_dropout(out, labels, rng, droppable)
        if rng.random() < 0.5:
            out = stroke_dropout(out, rng, fraction=rng.uniform(0.05, 0.2))
        if warp and rng.random() < 0.7:
            out = random_warp(rng, out.shape[0]).apply(out)
        if rng.random() < 0.3:  # thinning by whole pixels only where strokes are several pixels wide
            out = thickness(out, int(rng.choice([-1, 1, 2] if out.shape[0] >= 256 else [1, 2])))
    return s3d_erode_dilate(out, rng)


def augment_pair(sketch: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Same random warp on a sketch and its label mask (nearest-neighbour for the mask), then
    S3D's erode/dilate on the sketch: for training where the pair must stay aligned."""
    warp = random_warp(rng, sketch.shape[0])
    return s3d_erode_dilate(warp.apply(sketch.astype(np.float32)), rng), warp.apply(mask, order=0, cval=0)
