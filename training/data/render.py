"""Sphere-tracing renderer for procedural heads, in EG3D camera conventions.

Rays follow EG3D's `RaySampler` exactly: pixel (row, col) -> u = (col + 0.5) / res,
v = (row + 0.5) / res, direction = R . ((u - cx) / fx, (v - cy) / fy, 1) with R the cam2world
rotation of the 25-float camera label (OpenCV axes: x right, y down, z forward). So a label map
rendered here lines up with pix2pix3D's own renders at the same camera.

Speed matters (the dataset targets several views per second per core), so the tracer
* clips every ray to the EG3D box [-0.5, 0.5]^3 (the heads are cut to it anyway),
* compacts the set of active rays every step (index only the rays still marching),
* evaluates normals, labels and ambient occlusion once, on hit points only,
* runs on numpy float32 (see sdf.py for why not torch).

Exactness: a ray stops marching within a pixel footprint of the surface, then a short
look-ahead checks that it really crosses the surface and puts the hit on it (depth error
~1e-4). Rays that only grazed a silhouette resume marching behind it. So a pixel is foreground
exactly when its centre ray meets the surface, as when rasterising the ground-truth mesh.

Outputs per view: RGB (uint8), label map, depth (camera-space z, the OpenCV z of the hit; 0 on
background), alpha (1 on the head), world normals, and the camera label itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from s3d_engine.cameras import split_camera_label

from .sdf import trilinear

BOX_HALF = 0.5


class Head(Protocol):
    """What the renderer needs from a procedural head (see heads_face.py, heads_cat.py)."""

    kind: str
    relax: float  # step scale < 1 because many part SDFs are bounds, not exact distances

    def sdf(self, p: np.ndarray) -> np.ndarray: ...

    def evaluate(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def albedo(self, p: np.ndarray, labels: np.ndarray, normals: np.ndarray) -> np.ndarray: ...

    def material(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class Lighting:
    """2-3 directional lights plus ambient; directions are world-space unit vectors toward the light."""

    directions: np.ndarray  # (L, 3)
    colors: np.ndarray  # (L, 3) linear RGB intensities
    ambient: np.ndarray  # (3,)
    background: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.ones(3) * 0.8, np.ones(3) * 0.6))
    blobs: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))  # background clutter: x, y, r, rgb


def random_lighting(rng: np.random.Generator) -> Lighting:
    """A key light from the front hemisphere, a weaker fill, sometimes a rim light; warm/cool
    tints; a two-colour gradient background with a few soft blobs (clutter)."""
    count = int(rng.integers(2, 4))
    dirs, cols = [], []
    for i in range(count):
        az = rng.uniform(-1.2, 1.2) if i < 2 else rng.uniform(2.4, 3.9)
        el = rng.uniform(-0.2, 0.9)
        d = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
        strength = [rng.uniform(0.75, 1.05), rng.uniform(0.2, 0.45), rng.uniform(0.25, 0.6)][i]
        tint = 1.0 + rng.uniform(-0.12, 0.12, 3)
        dirs.append(d)
        cols.append(strength * tint)
    ambient = rng.uniform(0.18, 0.32) * (1.0 + rng.uniform(-0.08, 0.08, 3))
    top, bottom = rng.uniform(0.1, 0.95, 3), rng.uniform(0.05, 0.9, 3)
    blobs = np.concatenate([rng.uniform(0, 1, (4, 2)), rng.uniform(0.08, 0.3, (4, 1)), rng.uniform(0, 1, (4, 3))], 1)
    return Lighting(np.asarray(dirs), np.asarray(cols), ambient, (top, bottom), blobs)


@dataclass
class View:
    rgb: np.ndarray  # (H, W, 3) uint8
    labels: np.ndarray  # (H, W) uint8 class ids (0 = background)
    depth: np.ndarray  # (H, W) float32 camera-space z of the hit; 0 where alpha == 0
    alpha: np.ndarray  # (H, W) uint8, 1 on the head
    normals: np.ndarray  # (H, W, 3) float32 world-space unit normals; 0 on background
    camera: np.ndarray  # (25,) float32


def camera_rays(camera: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin (3,), unit world directions (res*res, 3) in row-major pixel order, and the
    per-ray factor that turns ray distance t into camera-space z."""
    c2w, K = split_camera_label(np.asarray(camera, dtype=np.float64))
    centers = (np.arange(res) + 0.5) / res
    u, v = np.meshgrid(centers, centers, indexing="xy")
    d_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1).reshape(-1, 3)
    norm = np.linalg.norm(d_cam, axis=1)
    d_world = (d_cam / norm[:, None]) @ c2w[:3, :3].T
    return c2w[:3, 3].astype(np.float32), d_world.astype(np.float32), (1.0 / norm).astype(np.float32)


def box_interval(origin: np.ndarray, dirs: np.ndarray, half: float = BOX_HALF) -> tuple[np.ndarray, np.ndarray]:
    """Slab test: entry and exit distances of each ray through the cube [-half, half]^3."""
    safe = np.where(np.abs(dirs) < 1e-9, np.float32(1e-9), dirs)
    inv = 1.0 / safe
    t0 = (-half - origin) * inv
    t1 = (half - origin) * inv
    near = np.maximum(np.minimum(t0, t1).max(-1), 0.0).astype(np.float32)
    far = np.maximum(t0, t1).min(-1).astype(np.float32)
    return near, far


STOP_PIXELS = 2.0  # a ray becomes a hit candidate within this many pixel footprints
_LOOKAHEAD = ((8, 0.5), (16, 1.0))  # (samples, footprints apart) checked for a crossing on grazing rays
_TETRA = np.array([[1, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]], dtype=np.float32)


class CoarseField:
    """The head's SDF sampled on a coarse grid over the box, minus the trilinear interpolation
    error bound (cell diagonal): a cheap lower bound used to skip empty space before the exact
    SDF is needed. ~36k SDF evaluations per head, reused by all its views."""

    def __init__(self, sdf, n: int = 33):
        self.spacing = 2 * BOX_HALF / (n - 1)
        self.lo = np.full(3, -BOX_HALF, np.float32)
        axis = (np.arange(n) * self.spacing - BOX_HALF).astype(np.float32)
        g = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
        self.grid = np.concatenate([sdf(g[i:i + 65536]) for i in range(0, len(g), 65536)]).reshape(n, n, n)
        self.margin = self.spacing * 3 ** 0.5

    def bound(self, p: np.ndarray) -> np.ndarray:
        return trilinear(self.grid, self.lo, self.spacing, p) - self.margin


def coarse_field(head) -> CoarseField:
    """The head's cached `CoarseField` (built on first use)."""
    field_ = getattr(head, "_coarse_field", None)
    if field_ is None:
        field_ = CoarseField(head.sdf)
        head._coarse_field = field_
    return field_


def _skip(bound, origin, dirs, t, far, active, threshold: float, max_steps: int = 48):
    """March on the coarse lower bound until it drops under `threshold`; returns the rays that
    reached the head's neighbourhood (the others left the box: background)."""
    ready = []
    for _ in range(max_steps):
        if active.size == 0:
            break
        ta = t[active]
        lb = bound(origin + ta[:, None] * dirs[active])
        near_head = lb < threshold
        ready.append(active[near_head])
        t_new = ta + np.maximum(lb, 0.0)
        t[active] = np.where(near_head, ta, t_new)
        active = active[(~near_head) & (t_new < far[active])]
    ready.append(active)
    return np.concatenate(ready)


def _march(sdf, origin, dirs, t, far, active, pixel_angle, relax, max_steps):
    """Compacting sphere tracing of the rays `active` (updates t in place); returns the indices
    that got within `STOP_PIXELS` footprints of the surface (or ran out of steps) and their SDF."""
    hits, dists = [], []
    for _ in range(max_steps):
        if active.size == 0:
            break
        ta = t[active]
        d = sdf(origin + ta[:, None] * dirs[active])
        done = d < STOP_PIXELS * pixel_angle * ta
        hits.append(active[done])
        dists.append(d[done])
        t_new = ta + relax * np.maximum(d, 0.0)
        t[active] = np.where(done, ta, t_new)
        active = active[(~done) & (t_new < far[active])]
    if active.size:  # out of steps: let the look-ahead decide
        hits.append(active)
        dists.append(sdf(origin + t[active, None] * dirs[active]))
    if not hits:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(hits), np.concatenate(dists)


def sphere_trace(sdf, origin: np.ndarray, dirs: np.ndarray, near: np.ndarray, far: np.ndarray,
                 pixel_angle: float, relax: float, max_steps: int = 64, rounds: int = 4,
                 bound=None) -> tuple[np.ndarray, np.ndarray]:
    """March every ray to within a footprint of the surface, confirm a zero crossing just ahead
    and put the hit on it; grazing rays resume behind the silhouette. Rays that start inside the
    solid (the box cut) hit at `near`. `bound`, a cheap lower bound of the SDF, skips empty
    space first. Returns (t, hit mask)."""
    t = near.copy()
    hit = np.zeros(dirs.shape[0], dtype=bool)
    todo = np.nonzero(near < far)[0]
    if bound is not None and todo.size:
        todo = _skip(bound, origin, dirs, t, far, todo, threshold=0.01)
        todo = todo[t[todo] < far[todo]]
    for _ in range(rounds):
        if todo.size == 0:
            break
        cand, dc = _march(sdf, origin, dirs, t, far, todo, pixel_angle, relax, max_steps)
        if cand.size == 0:
            break
        inside_start = t[cand] <= near[cand] + 1e-7
        hit[cand[inside_start]] = True
        cand, dc = cand[~inside_start], np.maximum(dc[~inside_start], 0.0)
        # a head-on ray meets the surface at about t + d: test just past it (a fixed jump could
        # step through thin parts such as ears), interpolate linearly
        foot = pixel_angle * t[cand]
        t2 = t[cand] + dc + 0.25 * foot
        d2 = sdf(origin + t2[:, None] * dirs[cand])
        crossed = d2 < 0
        t_hit = np.where(crossed, t[cand] + (t2 - t[cand]) * dc / np.maximum(dc - d2, 1e-12), t2)
        rest = np.nonzero(~crossed)[0]
        t_from, d_from = t2, d2
        for count, step in _LOOKAHEAD:  # grazing rays: sample ahead for a sign change, in one call per stage
            if rest.size == 0:
                break
            offs = np.arange(1, count + 1, dtype=np.float32) * step
            ts = t_from[rest, None] + offs[None] * foot[rest, None]
            dd = sdf((origin + ts[..., None] * dirs[cand[rest], None]).reshape(-1, 3)).reshape(len(rest), -1)
            ts = np.concatenate([t_from[rest, None], ts], 1)
            dd = np.concatenate([d_from[rest, None], dd], 1)
            neg = dd < 0
            j = np.maximum(neg.argmax(1), 1)
            rows = np.arange(len(rest))
            ta, da, db = ts[rows, j - 1], dd[rows, j - 1], dd[rows, j]
            t_lin = ta + (ts[rows, j] - ta) * da / np.maximum(da - db, 1e-12)
            ok = neg.any(1)
            crossed[rest] = ok
            t_hit[rest] = np.where(ok, t_lin, ts[:, -1])
            t_from, d_from = t_hit.copy(), d2.copy()
            d_from[rest] = dd[:, -1]
            rest = rest[~ok]
        good = cand[crossed]
        t[good] = t_hit[crossed]
        d = sdf(origin + t[good, None] * dirs[good])  # one polish step onto the surface
        t[good] = t[good] + np.clip(d, -0.01, 0.01)
        hit[good] = True
        bad = cand[~crossed]
        t[bad] = t_hit[~crossed]
        todo = bad[t[bad] < far[bad]]
    return t, hit


def sdf_normals(sdf, p: np.ndarray, h: float) -> np.ndarray:
    """Tetrahedral finite differences: 4 SDF evaluations per point, in one batched call."""
    m = p.shape[0]
    q = (p[None] + np.float32(h) * _TETRA[:, None]).reshape(-1, 3)
    d = sdf(q).reshape(4, m)
    n = (d[..., None] * _TETRA[:, None]).sum(0)
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)


def background_image(lighting: Lighting, res: int) -> np.ndarray:
    """Gradient plus soft coloured blobs: enough clutter that models cannot key on a flat colour."""
    top, bottom = lighting.background
    y = np.linspace(0, 1, res)[:, None, None]
    img = top[None, None] * (1 - y) + bottom[None, None] * y
    img = np.broadcast_to(img, (res, res, 3)).copy()
    yy, xx = np.mgrid[0:res, 0:res] / res
    for bx, by, r, cr, cg, cb in lighting.blobs:
        w = np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * r * r))[..., None] * 0.35
        img = img * (1 - w) + np.array([cr, cg, cb]) * w
    return img


def render_view(head: Head, camera: np.ndarray, res: int, lighting: Lighting, max_steps: int = 64) -> View:
    """Render one view: RGB, labels, depth, alpha, normals."""
    origin, dirs, zfac = camera_rays(camera, res)
    near, far = box_interval(origin, dirs)
    focal = float(np.asarray(camera)[16])
    pixel_angle = 1.0 / (focal * res)
    t, hit = sphere_trace(head.sdf, origin, dirs, near, far, pixel_angle, head.relax, max_steps,
                          bound=coarse_field(head).bound)
    idx = np.nonzero(hit)[0]
    p = origin + t[idx, None] * dirs[idx]
    h = 0.6 * pixel_angle * float(t[idx].mean()) if idx.size else 1e-3
    normals = sdf_normals(head.sdf, p, h)
    _, labels = head.evaluate(p)
    # faces seen from behind (the box cut) get flipped normals so they are shaded
    flip = (normals * dirs[idx]).sum(-1) > 0
    normals[flip] = -normals[flip]
    shade = shade_points(head, p, normals, labels, dirs[idx], lighting)

    rgb = background_image(lighting, res).reshape(-1, 3)
    rgb[idx] = shade
    rgb = (np.clip(rgb, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8).reshape(res, res, 3)
    lab = np.zeros(res * res, np.uint8)
    lab[idx] = labels
    depth = np.zeros(res * res, np.float32)
    depth[idx] = t[idx] * zfac[idx]
    alpha = np.zeros(res * res, np.uint8)
    alpha[idx] = 1
    nrm = np.zeros((res * res, 3), np.float32)
    nrm[idx] = normals
    return View(rgb=rgb, labels=lab.reshape(res, res), depth=depth.reshape(res, res),
                alpha=alpha.reshape(res, res), normals=nrm.reshape(res, res, 3),
                camera=np.asarray(camera, dtype=np.float32))


def shade_points(head: Head, p: np.ndarray, n: np.ndarray, labels: np.ndarray, view_dirs: np.ndarray,
                 lighting: Lighting) -> np.ndarray:
    """Lambert + Blinn-Phong per light, ambient scaled by a 2-tap SDF ambient occlusion (linear RGB)."""
    if p.shape[0] == 0:
        return np.zeros((0, 3), np.float32)
    albedo = head.albedo(p, labels, n)
    spec_k, shininess = head.material(labels)
    taps = np.array([0.012, 0.035], np.float32)
    q = (p[None] + taps[:, None, None] * n[None]).reshape(-1, 3)
    occ = np.clip(head.sdf(q).reshape(2, -1) / taps[:, None], 0.0, 1.0).mean(0)
    ao = (0.35 + 0.65 * occ)[:, None]
    color = albedo * lighting.ambient.astype(np.float32) * ao
    for d, c in zip(lighting.directions.astype(np.float32), lighting.colors.astype(np.float32)):
        ndl = np.maximum(n @ d, 0.0)
        half = d[None] - view_dirs
        half /= np.maximum(np.linalg.norm(half, axis=-1, keepdims=True), 1e-9)
        spec = np.maximum((n * half).sum(-1), 0.0) ** shininess * spec_k
        color = color + (albedo * ndl[:, None] + spec[:, None]) * c * (0.6 + 0.4 * ao)
    return color
