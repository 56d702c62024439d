"""Sketch input: one stroke rasteriser shared by Blender, the CLI and training data, plus
normalisation of user images (grayscale, black-on-white, square, model resolution).

Convention: a sketch is a float32 (H, W) array in [0, 1], white paper = 1 and strokes = 0,
as S3D's U-Net expects (`ToTensor` on a black-on-white PNG).
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from .errors import SketchError

# A stroke is an (N, 2) array of points, or (N, 3) with a pressure column in [0, 1].
Stroke = Union[np.ndarray, Sequence[Sequence[float]]]
SketchInput = Union[str, os.PathLike, Image.Image, np.ndarray, Sequence[Stroke]]

DEFAULT_STROKE_WIDTH = 1.5 / 128.0  # stroke width as a fraction of the image side
CONTENT_MARGIN = 0.08  # blank border kept around strokes when fitting to content


def rasterize_strokes(
    strokes: Sequence[Stroke],
    size: int,
    width: float = DEFAULT_STROKE_WIDTH,
    normalized: bool = True,
    supersample: int = 4,
) -> np.ndarray:
    """Draw polylines as black round-capped strokes on white; returns float32 (size, size).

    `width` is a fraction of the image side (or pixels when `normalized=False`); a third
    column scales the width per point (pen pressure). Lines are drawn at `supersample`x
    resolution and box-filtered down, so thin strokes stay anti-aliased and thickness is
    resolution independent."""
    if size <= 0:
        raise SketchError(f"sketch size must be positive, got {size}")
    big = size * supersample
    scale = big if normalized else supersample
    base_px = width * scale
    canvas = Image.new("L", (big, big), 255)
    draw = ImageDraw.Draw(canvas)
    for index, stroke in enumerate(strokes):
        pts = np.asarray(stroke, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] not in (2, 3) or len(pts) == 0:
            raise SketchError(f"stroke {index} must be an (N, 2) or (N, 3) array of points, got shape {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise SketchError(f"stroke {index} has non-finite coordinates")
        xy = pts[:, :2] * scale
        pressure = pts[:, 2] if pts.shape[1] == 3 else np.ones(len(pts))
        radii = np.maximum(base_px * np.clip(pressure, 0.05, 4.0) / 2.0, 0.5)
        for i in range(len(xy)):
            x, y, r = xy[i, 0], xy[i, 1], radii[i]
            draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
            if i + 1 < len(xy):
                w = max(1, int(round(radii[i] + radii[i + 1])))
                draw.line((x, y, xy[i + 1, 0], xy[i + 1, 1]), fill=0, width=w)
    small = canvas.resize((size, size), Image.Resampling.BOX) if supersample > 1 else canvas
    return np.asarray(small, dtype=np.float32) / 255.0


def load_sketch_image(source: Union[str, os.PathLike, bytes]) -> np.ndarray:
    """Read an image file as a float32 grayscale array in [0, 1]; clear errors for bad files."""
    if isinstance(source, bytes):
        handle, name = io.BytesIO(source), "<bytes>"
    else:
        path = Path(source)
        if not path.exists():
            raise SketchError(f"sketch file not found: {path}")
        if path.is_dir():
            raise SketchError(f"sketch path is a folder, not an image: {path}")
        if path.stat().st_size == 0:
            raise SketchError(f"sketch file is empty (0 bytes): {path}")
        handle, name = path, str(path)
    try:
        with Image.open(handle) as img:
            img.load()
            return image_to_gray(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise SketchError(f"cannot read sketch image {name}: {exc}") from None


def image_to_gray(img: Image.Image) -> np.ndarray:
    """PIL image -> float32 grayscale in [0, 1]; transparent pixels count as white paper."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if img.mode == "I;16" or img.mode == "I":
        arr = np.asarray(img, dtype=np.float32)
        return np.clip(arr / max(arr.max(), 1.0), 0, 1)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def to_black_on_white(gray: np.ndarray) -> np.ndarray:
    """Invert white-on-black drawings: paper is the majority tone, so if most pixels are dark
    the image is inverted."""
    return 1.0 - gray if float(np.median(gray)) < 0.5 else gray


def _pad_to_square(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    side = max(h, w)
    out = np.ones((side, side), dtype=np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    out[top:top + h, left:left + w] = gray
    return out


def _resize(gray: np.ndarray, size: int) -> np.ndarray:
    if gray.shape == (size, size):
        return gray.astype(np.float32)
    img = Image.fromarray(np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return np.asarray(img.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0


def ink_mask(gray: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    return gray < threshold


def fit_to_content(gray: np.ndarray, margin: float = CONTENT_MARGIN) -> np.ndarray:
    """Crop to the strokes' bounding box, centre it in a square with `margin` of white around."""
    ink = ink_mask(gray)
    rows, cols = np.nonzero(ink)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = gray[r0:r1, c0:c1]
    side = int(np.ceil(max(crop.shape) / (1.0 - 2.0 * margin)))
    out = np.ones((side, side), dtype=np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    out[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    return out


def normalize_sketch(source: SketchInput, size: int, fit: str = "auto", margin: float = CONTENT_MARGIN,
                     stroke_width: float = DEFAULT_STROKE_WIDTH) -> np.ndarray:
    """Any supported sketch input -> float32 (size, size), black strokes on white.

    fit: "frame" keeps the image's framing (pads to square around the centre), "content" crops
    to the strokes with `margin`, "auto" = "frame" for images and "content" for stroke lists
    (whose coordinates come from an arbitrary viewport)."""
    if fit not in ("auto", "frame", "content"):
        raise SketchError(f"fit must be 'auto', 'frame' or 'content', got {fit!r}")
    is_strokes = isinstance(source, (list, tuple))
    if is_strokes:
        gray = strokes_to_image(source, size, stroke_width)
    elif isinstance(source, Image.Image):
        gray = image_to_gray(source)
    elif isinstance(source, np.ndarray):
        gray = _array_to_gray(source)
    elif isinstance(source, (str, os.PathLike, bytes)):
        gray = load_sketch_image(source)
    else:
        raise SketchError(f"unsupported sketch type {type(source).__name__}")
    if gray.ndim != 2 or min(gray.shape) < 8:
        raise SketchError(f"sketch image is too small: {gray.shape[::-1]} pixels (need at least 8x8)")
    gray = to_black_on_white(gray)
    if not ink_mask(gray).any():
        raise SketchError("sketch is empty: no dark strokes found on the page")
    mode = ("content" if is_strokes else "frame") if fit == "auto" else fit
    gray = fit_to_content(gray, margin) if mode == "content" else _pad_to_square(gray)
    return _resize(gray, size)


def strokes_to_image(strokes: Sequence[Stroke], size: int, stroke_width: float = DEFAULT_STROKE_WIDTH) -> np.ndarray:
    """Fit arbitrary-unit polylines (x right, y down) into the unit square with the content
    margin and rasterise them; the width is relative to the output side."""
    if len(strokes) == 0:
        raise SketchError("sketch is empty: no strokes given")
    arrays = [np.asarray(s, dtype=np.float64) for s in strokes]
    for i, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[1] not in (2, 3) or len(a) == 0:
            raise SketchError(f"stroke {i} must be an (N, 2) or (N, 3) array of points, got shape {a.shape}")
    xy = np.concatenate([a[:, :2] for a in arrays])
    lo, hi = xy.min(0), xy.max(0)
    extent = float((hi - lo).max())
    if not np.isfinite(extent):
        raise SketchError("strokes contain non-finite coordinates")
    if extent <= 0:
        extent = 1.0
    scale = (1.0 - 2.0 * CONTENT_MARGIN) / extent
    centre = (lo + hi) / 2.0
    fitted = []
    for a in arrays:
        b = a.copy()
        b[:, :2] = (a[:, :2] - centre) * scale + 0.5
        fitted.append(b)
    return rasterize_strokes(fitted, size, width=stroke_width, normalized=True)


def _array_to_gray(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        rgb = a[..., :3].astype(np.float32)
        if a.dtype == np.uint8:
            rgb /= 255.0
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if a.shape[2] == 4:
            alpha = a[..., 3].astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)
            gray = gray * alpha + (1.0 - alpha)
        return gray
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise SketchError(f"sketch array must be (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise SketchError("sketch array contains NaN or infinite values")
    if a.max() > 1.0:
        a = a / 255.0
    return np.clip(a, 0.0, 1.0)
