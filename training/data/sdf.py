"""Signed-distance primitives and operators (numpy, float32) for the procedural heads.

Every function takes points `p` of shape (N, 3) and returns (N,) distances: negative inside,
positive outside. Several of them (ellipsoids, warped or scaled shapes, smooth unions) are
*bounds* rather than exact distances; the sphere tracer under-relaxes its steps for that reason
(see `render.py`).

Why numpy and not torch: the tracer calls the head's SDF ~100 times per view, mostly on a few
hundred grazing rays, where the cost is per-operation dispatch, not arithmetic. On this CPU a
numpy ufunc costs ~0.5 us against ~2-4 us for a torch op, which halves the render time. No
gradients are needed here. Keep arrays float32: Python floats do not upcast them (NEP 50), but
float64 numpy arrays would, so vectors are built with `vec`.
"""
from __future__ import annotations

import math

import numpy as np

F32 = np.float32


def vec(x: float, y: float, z: float) -> np.ndarray:
    """A (3,) float32 vector; parts store their centres and radii like this."""
    return np.array([x, y, z], dtype=F32)


def length(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", p, p))


def sphere(p: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    return length(p - centre) - radius


def ellipsoid(p: np.ndarray, centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Inigo Quilez's ellipsoid bound k0 (k0 - 1) / k1: exact on the surface, a good bound near
    it, and much cheaper than the exact (iterative) ellipsoid distance."""
    q = p - centre
    k0 = length(q / radii)
    k1 = length(q / (radii * radii))
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _segment_h(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pa, ba = p - a, b - a
    h = np.clip((pa @ ba) / float(ba @ ba), 0.0, 1.0)
    return pa - h[:, None] * ba, h


def capsule(p: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """Segment a-b swept by a sphere."""
    off, _ = _segment_h(p, a, b)
    return length(off) - radius


def round_cone(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> np.ndarray:
    """Tapered capsule from radius `ra` at a to `rb` at b (linear taper along the segment;
    a bound, good enough for ears, locks of hair and the drape)."""
    off, h = _segment_h(p, a, b)
    return length(off) - (ra + (rb - ra) * h)


def box(p: np.ndarray, centre: np.ndarray, half: np.ndarray, rounding: float = 0.0) -> np.ndarray:
    q = np.abs(p - centre) - (half - rounding)
    outside = length(np.maximum(q, 0.0))
    inside = np.minimum(q.max(-1), 0.0)
    return outside + inside - rounding


def torus_xy(q: np.ndarray, major: float, minor: float) -> np.ndarray:
    """Torus in the local xy plane (axis = local z) for points already in the torus frame."""
    ring = np.sqrt(q[:, 0] ** 2 + q[:, 1] ** 2) - major
    return np.sqrt(ring * ring + q[:, 2] ** 2) - minor


def cylinder_y(p: np.ndarray, centre: np.ndarray, radius: float, half_height: float) -> np.ndarray:
    """Capped vertical cylinder (axis = world y)."""
    q = p - centre
    dx = np.sqrt(q[:, 0] ** 2 + q[:, 2] ** 2) - radius
    dy = np.abs(q[:, 1]) - half_height
    outside = np.sqrt(np.maximum(dx, 0) ** 2 + np.maximum(dy, 0) ** 2)
    return outside + np.minimum(np.maximum(dx, dy), 0.0)


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (a fillet of width ~k between two surfaces)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + (0.5 / k) * (b - a), 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth maximum (smooth intersection; subtraction is smax(a, -b))."""
    return -smin(-a, -b, k)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) * (1.0 / (e1 - e0)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=F32)


def rot_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=F32)


def to_local(p: np.ndarray, centre: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """World -> part frame, where `rotation` maps part axes to world (columns = part axes)."""
    return (p - centre) @ rotation


def value_noise(p: np.ndarray, waves: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Cheap band-limited 3D noise: a sum of a few random plane waves (frequencies (K, 3),
    phases (K,), amplitudes (K,)). Used for albedo variation only (no bound needed)."""
    freqs, phases, amps = waves
    return (np.sin(p @ freqs.T + phases) * amps).sum(-1)


def random_waves(rng: np.random.Generator, count: int, scale: float, amp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random plane-wave parameters for `value_noise`, wavelengths around 1/scale."""
    dirs = rng.normal(size=(count, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    mags = scale * rng.uniform(0.6, 1.8, size=(count, 1))
    freqs = (dirs * mags * 2 * math.pi).astype(F32)
    phases = rng.uniform(0, 2 * math.pi, size=count).astype(F32)
    amps = (amp * rng.uniform(0.5, 1.0, size=count) / math.sqrt(count)).astype(F32)
    return freqs, phases, amps


def trilinear(grid: np.ndarray, lo: np.ndarray, spacing: float, q: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a (X, Y, Z) float32 grid with node 0 at `lo` at points q
    (N, 3); outside the grid, the border value plus the distance to the grid box (for an SDF
    grid whose surface lies inside the box this stays a bound)."""
    hi_idx = np.array(grid.shape, dtype=F32) - 1.0
    f = (q - lo) * (1.0 / spacing)
    fc = np.clip(f, 0.0, hi_idx - 1e-3)
    i = fc.astype(np.int32)
    t = fc - i
    sx, sy = grid.shape[1] * grid.shape[2], grid.shape[2]
    base = i[:, 0] * sx + i[:, 1] * sy + i[:, 2]
    flat = grid.reshape(-1)
    tx, ty, tz = t[:, 0], t[:, 1], t[:, 2]
    uz = 1.0 - tz
    c00 = flat[base] * uz + flat[base + 1] * tz
    c01 = flat[base + sy] * uz + flat[base + sy + 1] * tz
    c10 = flat[base + sx] * uz + flat[base + sx + 1] * tz
    c11 = flat[base + sx + sy] * uz + flat[base + sx + sy + 1] * tz
    vals = (c00 * (1 - ty) + c01 * ty) * (1 - tx) + (c10 * (1 - ty) + c11 * ty) * tx
    out = np.abs(f - np.clip(f, 0.0, hi_idx)) * spacing
    return vals + np.sqrt(np.einsum("ij,ij->i", out, out))
