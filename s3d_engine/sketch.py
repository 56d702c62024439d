"""Sketch input: one stroke rasteriser shared by Blender, the CLI and training data, plus
normalisation of user images (grayscale, black-on-white, square, model resolution).

Convention: a sketch is a float32 (H, W) array in [0, 1], white paper = 1 and strokes = 0,
as S3D's U-Net expects (`ToTensor` on a black-on-white PNG).

Hostile input is refused with one `SketchError` line (limits in `s3d_engine.limits`): image
sizes are checked from the header before decoding, a decoded image is reduced to `WORK_SIDE`
before any float maths, and long thin images are shrunk before they are padded to a square.
"""
from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageDraw

from .errors import SketchError
from .io_utils import open_regular
from .limits import (MAX_IMAGE_SIDE, MAX_RASTER_SIDE, MAX_SKETCH_FILE_BYTES, MAX_SKETCH_PIXELS, MAX_STROKE_COORD,
                     MAX_STROKE_POINTS, MAX_STROKE_WIDTH, MAX_STROKES, MAX_SUPERSAMPLE, MIN_SKETCH_SIDE, WORK_SIDE)

# A stroke is an (N, 2) array of points, or (N, 3) with a pressure column in [0, 1].
Stroke = Union[np.ndarray, Sequence[Sequence[float]]]
SketchInput = Union[str, os.PathLike, Image.Image, np.ndarray, Sequence[Stroke]]

DEFAULT_STROKE_WIDTH = 1.5 / 128.0  # stroke width as a fraction of the image side
CONTENT_MARGIN = 0.08  # blank border kept around strokes when fitting to content
_NUMERIC_KINDS = "biuf"  # numpy dtype kinds accepted as numbers (bool, int, uint, float)
_KIND_NAMES = {"U": "text", "S": "bytes", "O": "mixed objects", "c": "complex numbers", "V": "raw records",
               "M": "dates", "m": "time spans"}


# ---------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------


def _check_int(value, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise SketchError(f"{what} must be an integer in {low}..{high}, got {value!r:.40}")
    return int(value)


def _check_float(value, low: float, high: float, what: str, low_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (low < value if low_open else low <= value) and value <= high
    if not ok:
        bounds = f"{'above ' if low_open else ''}{low:g} .. {high:g}"
        raise SketchError(f"{what} must be a number {bounds}, got {value!r:.40}")
    return value


def check_image_size(width: int, height: int, name: str = "sketch image") -> None:
    """The pixel budget, from the header alone (nothing is decoded yet)."""
    if min(width, height) < MIN_SKETCH_SIDE:
        raise SketchError(f"sketch image is too small: ({width}, {height}) pixels "
                          f"(need at least {MIN_SKETCH_SIDE}x{MIN_SKETCH_SIDE})")
    if max(width, height) > MAX_IMAGE_SIDE:
        raise SketchError(f"{name} is {width} x {height} pixels; the longest side may be at most "
                          f"{MAX_IMAGE_SIDE}: crop or scale it down")
    if width * height > MAX_SKETCH_PIXELS:
        raise SketchError(f"{name} is {width} x {height} = {width * height / 1e6:.1f} Mpx, over the "
                          f"{MAX_SKETCH_PIXELS / 1e6:.1f} Mpx limit: scale it down (8192 x 8192 at most)")


# ---------------------------------------------------------------------------------------------
# Strokes
# ---------------------------------------------------------------------------------------------


def stroke_array(stroke: Stroke, index: int) -> np.ndarray:
    """One polyline -> float64 (N, 2|3), or a SketchError naming the stroke."""
    shape_hint = f"stroke {index} must be a list of [x, y] or [x, y, pressure] points"
    if isinstance(stroke, (str, bytes, dict)):
        raise SketchError(f"{shape_hint}, got {type(stroke).__name__}")
    sized = isinstance(stroke, (list, tuple)) or (isinstance(stroke, np.ndarray) and stroke.ndim > 0)
    if sized and len(stroke) > MAX_STROKE_POINTS:
        raise SketchError(f"stroke {index} has {len(stroke):,} points; the limit is {MAX_STROKE_POINTS:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = np.asarray(stroke)
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError):
        raise SketchError(f"{shape_hint}: its points are ragged or malformed") from None
    if raw.dtype.kind not in _NUMERIC_KINDS:
        raise SketchError(f"{shape_hint}, got {_KIND_NAMES.get(raw.dtype.kind, 'objects')} instead of numbers")
    if raw.ndim != 2 or raw.shape[1] not in (2, 3) or len(raw) == 0:
        raise SketchError(f"stroke {index} must be an (N, 2) or (N, 3) array of points, got shape {raw.shape}")
    pts = raw.astype(np.float64)
    if not np.all(np.isfinite(pts)):
        raise SketchError(f"stroke {index} has non-finite coordinates (NaN or infinity)")
    return pts


def parse_strokes(strokes: Sequence[Stroke], allow_empty: bool = False) -> list[np.ndarray]:
    """Validate a stroke list (types, shapes, finiteness, count limits) -> float64 arrays."""
    if isinstance(strokes, (str, bytes, dict)) or not isinstance(strokes, (Sequence, np.ndarray)):
        raise SketchError(f"strokes must be a list of polylines, got {type(strokes).__name__}")
    if len(strokes) > MAX_STROKES:
        raise SketchError(f"{len(strokes):,} strokes; the limit is {MAX_STROKES:,}")
    if len(strokes) == 0 and not allow_empty:
        raise SketchError("sketch is empty: no strokes given")
    arrays, total = [], 0
    for index, stroke in enumerate(strokes):
        arrays.append(stroke_array(stroke, index))
        total += len(arrays[-1])
        if total > MAX_STROKE_POINTS:
            raise SketchError(f"the strokes have over {MAX_STROKE_POINTS:,} points in all; simplify the drawing")
    return arrays


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
    size = _check_int(size, 1, MAX_RASTER_SIDE, "sketch size")
    supersample = _check_int(supersample, 1, MAX_SUPERSAMPLE, "supersample")
    max_width = MAX_STROKE_WIDTH if normalized else MAX_STROKE_WIDTH * size
    width = _check_float(width, 0.0, max_width, "stroke width", low_open=True)
    arrays = parse_strokes(strokes, allow_empty=True)
    big = size * supersample
    scale = big if normalized else supersample
    base_px = width * scale
    canvas = Image.new("L", (big, big), 255)
    draw = ImageDraw.Draw(canvas)
    for index, pts in enumerate(arrays):
        xy = pts[:, :2] * scale
        if np.abs(xy).max() > MAX_STROKE_COORD * big:
            raise SketchError(f"stroke {index} lies far outside the canvas (beyond {MAX_STROKE_COORD:g} image sides)")
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


def strokes_to_image(strokes: Sequence[Stroke], size: int, stroke_width: float = DEFAULT_STROKE_WIDTH) -> np.ndarray:
    """Fit arbitrary-unit polylines (x right, y down) into the unit square with the content
    margin and rasterise them; the width is relative to the output side."""
    arrays = parse_strokes(strokes)
    xy = np.concatenate([a[:, :2] for a in arrays])
    lo, hi = xy.min(0), xy.max(0)
    with np.errstate(over="ignore", invalid="ignore"):
        extent = float((hi - lo).max())
        centre = (lo + hi) / 2.0
    if not (np.isfinite(extent) and np.all(np.isfinite(centre))):
        raise SketchError("strokes span too large a range of coordinates (over 1e300); rescale them")
    if extent <= 0:
        extent = 1.0
    scale = (1.0 - 2.0 * CONTENT_MARGIN) / extent
    fitted = []
    for a in arrays:
        b = a.copy()
        b[:, :2] = np.clip((a[:, :2] - centre) * scale + 0.5, 0.0, 1.0)  # clip only rounding error
        fitted.append(b)
    return rasterize_strokes(fitted, size, width=stroke_width, normalized=True)


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------


def _reduce_to(img: Image.Image, max_side: int | None) -> Image.Image:
    """Box-reduce an 'L' or 'F' image by an integer factor so its longest side is <= max_side."""
    if max_side is None or max(img.size) <= max_side:
        return img
    return img.reduce(math.ceil(max(img.size) / max_side))


def image_to_gray(img: Image.Image, max_side: int | None = None) -> np.ndarray:
    """PIL image -> float32 grayscale in [0, 1]; transparent pixels count as white paper. With
    `max_side`, the gray image is reduced before it becomes a float array."""
    try:
        return _image_to_gray(img, max_side)
    except SketchError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a mode PIL cannot convert, or a corrupt image
        raise SketchError(f"cannot read a {img.mode} image as grayscale: {exc}") from None


def _image_to_gray(img: Image.Image, max_side: int | None) -> np.ndarray:
    if img.mode in ("RGBa", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
    elif img.mode == "La":
        img = img.convert("LA")
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img.convert("F") if img.mode != "F" else img, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise SketchError("sketch image contains NaN or infinite values")
        if img.mode != "F":
            arr = arr / max(float(arr.max()), 1.0)
        gray = _reduce_to(Image.fromarray(np.clip(arr, 0.0, 1.0).astype(np.float32)), max_side)
        return np.asarray(gray, dtype=np.float32)
    if img.mode in ("RGBA", "LA"):
        luma, alpha = img.convert("LA").split()
        gray = Image.composite(luma, Image.new("L", img.size, 255), alpha)  # over white paper
    else:
        gray = img.convert("L")
    return np.asarray(_reduce_to(gray, max_side), dtype=np.float32) / 255.0


def _open_image(handle, name: str) -> Image.Image:
    """Read only the header; refuse images over the pixel budget before anything is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(handle)
    except Image.DecompressionBombError:
        raise SketchError(f"sketch image {name} is over the {MAX_SKETCH_PIXELS / 1e6:.1f} Mpx limit: "
                          "scale it down (8192 x 8192 at most)") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a third-party decoder is a bad file
        raise SketchError(f"cannot read sketch image {name}: {exc}") from None
    try:
        check_image_size(*img.size, name=f"sketch image {name}")
    except SketchError:
        img.close()
        raise
    return img


def load_sketch_image(source: Union[str, os.PathLike, bytes], max_side: int | None = None) -> np.ndarray:
    """Read an image file as a float32 grayscale array in [0, 1]; clear errors for bad files.
    Only regular files of at most MAX_SKETCH_FILE_BYTES are read; `max_side` reduces the result."""
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_SKETCH_FILE_BYTES:
            raise SketchError(f"sketch data is too large: {len(source):,} bytes, the limit is {MAX_SKETCH_FILE_BYTES:,}")
        handle, name, size = io.BytesIO(bytes(source)), "<bytes>", len(source)
    else:
        path = Path(source)
        handle, name = open_regular(path, "sketch file", MAX_SKETCH_FILE_BYTES, SketchError), str(path)
        size = os.fstat(handle.fileno()).st_size
    with handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a corrupt file's decoder warnings would add lines to stderr
        if size == 0:
            raise SketchError(f"sketch file is empty (0 bytes): {name}")
        with _open_image(handle, name) as img:
            try:
                img.load()
                return image_to_gray(img, max_side)
            except SketchError:
                raise
            except Exception as exc:  # noqa: BLE001 - decoder failures (truncated, corrupt) are bad files
                raise SketchError(f"cannot read sketch image {name}: {exc}") from None


def _array_to_gray(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in _NUMERIC_KINDS:
        raise SketchError(f"sketch array must hold numbers, got {_KIND_NAMES.get(a.dtype.kind, 'objects')}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise SketchError(f"sketch array must be (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    check_image_size(a.shape[1], a.shape[0], name=f"sketch array {a.shape}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise SketchError("sketch array contains NaN or infinite values; give values in 0..1 or 0..255")
    byte = a.dtype == np.uint8
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, then clips to 1
        f = a.astype(np.float32)
    if not byte and f.size and f.max() > 1.0:
        f /= 255.0
    elif byte:
        f /= 255.0
    if a.ndim == 3:
        gray = f[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if a.shape[2] == 4:
            alpha = np.clip(f[..., 3], 0.0, 1.0)
            gray = gray * alpha + (1.0 - alpha)
        f = gray
    return np.clip(f, 0.0, 1.0)


def label_map_array(mask, num_classes: int) -> np.ndarray:
    """A user label map -> uint8 (H, W), refusing NaN, fractions and out-of-range labels (a NaN
    mask must not silently become all background)."""
    m = np.asarray(mask)
    if m.dtype.kind not in _NUMERIC_KINDS:
        raise SketchError(f"a label map must hold integer labels, got {_KIND_NAMES.get(m.dtype.kind, 'objects')}")
    if m.ndim != 2 or m.size == 0:
        raise SketchError(f"a label map must be a non-empty 2-D array, got shape {m.shape}")
    check_image_size(m.shape[1], m.shape[0], name=f"label map {m.shape}")
    if m.dtype.kind == "f":
        if not np.all(np.isfinite(m)):
            raise SketchError("label map contains NaN or infinite values; give integer part labels")
        if not np.all(m == np.round(m)):
            raise SketchError("label map contains fractional values; give integer part labels")
    if m.min() < 0 or m.max() >= num_classes:
        raise SketchError(f"label values must lie in 0..{num_classes - 1}")
    return m.astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------


def to_black_on_white(gray: np.ndarray) -> np.ndarray:
    """Invert white-on-black drawings: paper is the majority tone, so if most pixels are dark
    the image is inverted."""
    return 1.0 - gray if float(np.median(gray)) < 0.5 else gray


def _resize(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    if gray.shape == (height, width):
        return gray.astype(np.float32)
    img = Image.fromarray(np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0


def _fit_square(gray: np.ndarray, side: int, inner: float = 1.0) -> np.ndarray:
    """Scale so the longest side is `inner * side`, then centre on white paper of `side`^2. The
    image is shrunk before it is padded, so a long thin strip never becomes a huge square."""
    h, w = gray.shape
    scale = inner * side / max(h, w)
    nh, nw = min(side, max(1, round(h * scale))), min(side, max(1, round(w * scale)))
    out = np.ones((side, side), dtype=np.float32)
    top, left = (side - nh) // 2, (side - nw) // 2
    out[top:top + nh, left:left + nw] = _resize(gray, nw, nh)
    return out


def ink_mask(gray: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    return gray < threshold


def fit_to_content(gray: np.ndarray, margin: float = CONTENT_MARGIN, size: int | None = None) -> np.ndarray:
    """Crop to the strokes' bounding box, centre it in a square with `margin` of white around;
    the square's side is `size`, or the crop's own scale when None."""
    rows, cols = np.nonzero(ink_mask(gray))
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    inner = 1.0 - 2.0 * margin
    side = size if size is not None else int(np.ceil(max(crop.shape) / inner))
    return _fit_square(crop, side, inner)


def normalize_sketch(source: SketchInput, size: int, fit: str = "auto", margin: float = CONTENT_MARGIN,
                     stroke_width: float = DEFAULT_STROKE_WIDTH) -> np.ndarray:
    """Any supported sketch input -> float32 (size, size), black strokes on white.

    fit: "frame" keeps the image's framing (pads to square around the centre), "content" crops
    to the strokes with `margin`, "auto" = "frame" for images and "content" for stroke lists
    (whose coordinates come from an arbitrary viewport)."""
    if fit not in ("auto", "frame", "content"):
        raise SketchError(f"fit must be 'auto', 'frame' or 'content', got {fit!r:.40}")
    size = _check_int(size, 1, MAX_RASTER_SIDE, "sketch size")
    margin = _check_float(margin, 0.0, 0.45, "margin")
    is_strokes = isinstance(source, (list, tuple))
    if is_strokes:
        gray = strokes_to_image(source, size, stroke_width)
    elif isinstance(source, Image.Image):
        check_image_size(*source.size)
        gray = image_to_gray(source, WORK_SIDE)
    elif isinstance(source, np.ndarray):
        gray = np.asarray(_reduce_to(Image.fromarray(_array_to_gray(source)), WORK_SIDE), dtype=np.float32)
    elif isinstance(source, (str, os.PathLike, bytes, bytearray)):
        gray = load_sketch_image(source, WORK_SIDE)
    else:
        raise SketchError(f"unsupported sketch type {type(source).__name__}")
    if min(gray.shape) < MIN_SKETCH_SIDE and is_strokes:
        raise SketchError(f"sketch image is too small: {gray.shape[::-1]} pixels (need at least 8x8)")
    gray = to_black_on_white(gray)
    if not ink_mask(gray).any():
        raise SketchError("sketch is empty: no dark strokes found on the page")
    mode = ("content" if is_strokes else "frame") if fit == "auto" else fit
    return fit_to_content(gray, margin, size) if mode == "content" else _fit_square(gray, size)
