"""S3D-style sketches (black strokes on white) from rendered views.

Content: part boundaries (label changes), the silhouette, depth discontinuities and normal
creases, computed from the render buffers. Three styles:

* ``contour``: the edge pixels are thinned, traced into polylines, smoothed, and drawn as clean
  strokes of one width;
* ``hand``: the same polylines drawn like a person would: wobble, overshoot at the ends, gaps,
  dropped strokes, varying pressure and width;
* ``xdog``: an XDoG filter of the RGB render (the weight-free analogue of the Photocopy filter
  used for MM-CelebA-HQ), with the background whitened outside the dilated head as S3D does.

Every polyline goes through `s3d_engine.sketch.rasterize_strokes`, the rasteriser the engine
uses for strokes that come from Blender, so training strokes and user strokes look the same.
Sketches are float32 (H, W) in [0, 1], paper = 1, ink = 0 (the engine's convention).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from s3d_engine.sketch import rasterize_strokes

from .render import View

STYLES = ("contour", "hand", "xdog")
STYLE_P = (0.4, 0.35, 0.25)
_NEIGHBOURS = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))  # 4-neighbours first


def edge_map(view: View, depth_jump: float = 0.03, crease: float = 0.35, boundaries: bool = True) -> np.ndarray:
    """Boolean (H, W) edge pixels: label boundaries, silhouette, depth jumps and creases.
    Each discontinuity marks the pixel nearer to the camera, so lines are one pixel wide and
    sit on the occluding side, as an artist draws them."""
    lab, depth, alpha, nrm = view.labels, view.depth, view.alpha.astype(bool), view.normals
    far = np.where(alpha, depth, np.inf)
    edges = np.zeros(lab.shape, dtype=bool)
    for axis in (0, 1):
        a = [slice(None), slice(None)]
        b = [slice(None), slice(None)]
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        a, b = tuple(a), tuple(b)
        jump = np.zeros(lab[a].shape, dtype=bool)
        if boundaries:
            jump |= lab[a] != lab[b]
        jump |= alpha[a] != alpha[b]
        both = alpha[a] & alpha[b]
        jump |= both & (np.abs(depth[a] - depth[b]) > depth_jump)
        jump |= both & (1.0 - (nrm[a] * nrm[b]).sum(-1) > crease)
        first_nearer = far[a] <= far[b]
        edges[a] |= jump & first_nearer
        edges[b] |= jump & ~first_nearer
    return edges


def trace_polylines(edges: np.ndarray, min_length: int = 3) -> list[np.ndarray]:
    """Thin the edge pixels and walk them into chains of (x, y) pixel centres. Walks start at
    line ends, prefer 4-neighbours, and stop at junctions already visited."""
    skel = skeletonize(edges)
    h, w = skel.shape
    padded = np.pad(skel, 1)
    count = ndimage.convolve(padded.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant")[1:-1, 1:-1] - 1
    visited = np.zeros_like(skel)
    ys, xs = np.nonzero(skel)
    order = np.argsort(np.where(count[ys, xs] == 1, 0, 1), kind="stable")  # endpoints first
    chains: list[np.ndarray] = []
    for i in order:
        y0, x0 = int(ys[i]), int(xs[i])
        if visited[y0, x0]:
            continue
        path = [(x0, y0)]
        visited[y0, x0] = True
        y, x = y0, x0
        while True:
            for dy, dx in _NEIGHBOURS:
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and skel[ny, nx] and not visited[ny, nx]:
                    visited[ny, nx] = True
                    path.append((nx, ny))
                    y, x = ny, nx
                    break
            else:
                break
        if len(path) >= min_length:
            chains.append(np.asarray(path, dtype=np.float64))
    return chains


def smooth_chain(chain: np.ndarray, window: int = 3, step: float = 1.5) -> np.ndarray:
    """Moving-average the staircase away, then resample every `step` pixels."""
    if len(chain) >= window:
        kernel = np.ones(window) / window
        pad = window // 2
        ext = np.pad(chain, ((pad, pad), (0, 0)), mode="edge")
        chain = np.stack([np.convolve(ext[:, k], kernel, mode="valid") for k in (0, 1)], 1)
    seg = np.linalg.norm(np.diff(chain, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] < step:
        return chain[[0, -1]] if len(chain) > 1 else chain
    samples = np.linspace(0.0, arc[-1], max(2, int(arc[-1] / step) + 1))
    return np.stack([np.interp(samples, arc, chain[:, k]) for k in (0, 1)], 1)


def contour_strokes(view: View, res: int) -> list[np.ndarray]:
    """Polylines (pixel coordinates) of the view's edge map."""
    return [smooth_chain(c) for c in trace_polylines(edge_map(view))]


def _to_unit(stroke: np.ndarray, res: int) -> np.ndarray:
    out = stroke.copy()
    out[:, :2] = (stroke[:, :2] + 0.5) / res
    return out


def draw_clean(strokes: list[np.ndarray], res: int, rng: np.random.Generator) -> np.ndarray:
    width = rng.uniform(1.0, 2.0) / 128.0
    if not strokes:
        return np.ones((res, res), np.float32)
    return rasterize_strokes([_to_unit(s, res) for s in strokes], res, width=width)


def handdrawn_strokes(strokes: list[np.ndarray], res: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Make clean polylines look hand-drawn; returns (N, 3) strokes with a pressure column."""
    px = res / 128.0  # the effect sizes are tuned at 128^2
    wobble = rng.uniform(0.3, 1.3) * px
    out = []
    for s in strokes:
        if rng.random() < 0.07 or len(s) < 2:
            continue  # forgotten stroke
        pieces = [s]
        if len(s) > 12 and rng.random() < 0.5:  # pen lifted mid-line: split, leave a gap
            cut = int(rng.integers(4, len(s) - 4))
            gap = int(rng.integers(1, 3))
            pieces = [s[:cut], s[cut + gap:]]
        for piece in pieces:
            if len(piece) < 2:
                continue
            n = len(piece)
            tangent = np.gradient(piece, axis=0)
            tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
            normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
            t = np.linspace(0.0, 1.0, n)
            freq = rng.uniform(0.5, 2.5) * max(1.0, n / 20.0)
            offset = wobble * (np.sin(2 * np.pi * freq * t + rng.uniform(0, 6.3))
                               + 0.5 * np.sin(2 * np.pi * 2.3 * freq * t + rng.uniform(0, 6.3)))
            pts = piece + normal * offset[:, None]
            if rng.random() < 0.5:  # overshoot past the ends
                ext = rng.uniform(1.0, 4.0) * px
                pts = np.concatenate([pts[:1] - tangent[:1] * ext, pts, pts[-1:] + tangent[-1:] * ext])
                t = np.linspace(0.0, 1.0, len(pts))
            pressure = rng.uniform(0.6, 1.5) * (0.45 + 0.55 * np.sin(np.pi * t) ** 0.5)
            pressure *= 1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t + rng.uniform(0, 6.3))
            out.append(np.concatenate([pts, pressure[:, None]], 1))
    return out


def draw_hand(strokes: list[np.ndarray], res: int, rng: np.random.Generator) -> np.ndarray:
    hand = handdrawn_strokes(strokes, res, rng)
    if not hand:
        return np.ones((res, res), np.float32)
    return rasterize_strokes([_to_unit(s, res) for s in hand], res, width=rng.uniform(1.0, 2.2) / 128.0)


def xdog(rgb: np.ndarray, alpha: np.ndarray, rng: np.random.Generator | None = None, sigma: float | None = None,
         k: float = 1.6, p: float | None = None, eps: float | None = None, phi: float | None = None) -> np.ndarray:
    """eXtended Difference of Gaussians (Winnemoeller et al. 2012) on the luminance, then the
    background whitened outside the head dilated by ~3 % of the image (S3D's 5x5 x 3 at 512)."""
    rng = rng or np.random.default_rng(0)
    res = rgb.shape[0]
    sigma = sigma if sigma is not None else rng.uniform(0.6, 1.0) * res / 128.0
    p = p if p is not None else rng.uniform(15.0, 30.0)
    eps = eps if eps is not None else rng.uniform(0.75, 0.95)
    phi = phi if phi is not None else rng.uniform(20.0, 60.0)
    gray = (rgb.astype(np.float32) / 255.0) @ np.array([0.299, 0.587, 0.114], np.float32)
    fg = alpha.astype(bool)
    if fg.any():  # stretch the head's tonal range so dark skin or fur still gives lines
        lo, hi = np.percentile(gray[fg], [2, 98])
        gray = np.clip((gray - lo) / max(hi - lo, 0.05), 0.0, 1.0) * 0.8 + 0.2
    g1 = ndimage.gaussian_filter(gray, sigma)
    g2 = ndimage.gaussian_filter(gray, sigma * k)
    d = ((1.0 + p) * g1 - p * g2) / max(float(gray[fg].mean()) if fg.any() else 0.5, 0.05)
    out = np.where(d >= eps, 1.0, 1.0 + np.tanh(phi * (d - eps))).astype(np.float32)
    grow = max(1, int(round(res * 15 / 512)))
    keep = ndimage.binary_dilation(alpha.astype(bool), iterations=grow)
    out[~keep] = 1.0
    return np.clip(out, 0.0, 1.0)


def make_sketch(view: View, rng: np.random.Generator, style: str | None = None) -> tuple[np.ndarray, str]:
    """One sketch of the view in a random (or the given) style; returns (sketch, style)."""
    if style is None:
        style = str(rng.choice(STYLES, p=STYLE_P))
    res = view.labels.shape[0]
    if style == "xdog":
        return xdog(view.rgb, view.alpha, rng), style
    strokes = contour_strokes(view, res)
    if style == "contour":
        return draw_clean(strokes, res, rng), style
    if style == "hand":
        return draw_hand(strokes, res, rng), style
    raise ValueError(f"unknown sketch style {style!r}; expected one of {STYLES}")
