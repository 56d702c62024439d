"""Ground-truth meshes of the procedural heads, and a label/depth rasteriser to check views.

`head_mesh` runs marching cubes on the head's SDF over the EG3D box and labels every vertex
with the same `evaluate` the renderer uses. The SDF is evaluated narrow-band: a coarse grid
first, then the fine grid only in coarse cells the surface can reach (|d| below the cell
diagonal, with margin for SDF bounds); elsewhere the sign is known and trilinear coarse values
are used. At 128^3 this evaluates ~10-20 % of the fine nodes.

`rasterize_mesh` z-buffers a labelled mesh through a camera label at pixel centres, exactly
like the renderer's rays, so a rendered label map and the projected mesh can be compared
pixel by pixel (`label_agreement`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.measure import marching_cubes

from s3d_engine.cameras import project_points

from .render import BOX_HALF

PAD = 0.02  # grid margin beyond the box so the box cut closes the mesh


@dataclass
class LabelledMesh:
    vertices: np.ndarray  # (V, 3) float32 world
    faces: np.ndarray  # (F, 3) int64
    labels: np.ndarray  # (V,) uint8 class ids

    def save_npz(self, path) -> None:
        np.savez_compressed(path, vertices=self.vertices, faces=self.faces.astype(np.int32), labels=self.labels)

    def to_trimesh(self, palette: np.ndarray | None = None):
        import trimesh

        colors = None if palette is None else palette[self.labels]
        return trimesh.Trimesh(self.vertices, self.faces, vertex_colors=colors, process=False)


def _eval_chunked(fn, pts: np.ndarray, chunk: int = 65536) -> np.ndarray:
    if len(pts) == 0:
        return np.zeros(0, np.float32)
    return np.concatenate([fn(pts[i:i + chunk]) for i in range(0, len(pts), chunk)])


def _axis(n: int, lo: float, step: float) -> np.ndarray:
    return (np.arange(n) * step + lo).astype(np.float32)


def sdf_grid(head, res: int = 128, coarse_factor: int = 4) -> tuple[np.ndarray, float, float]:
    """SDF on a (res+1)^3 grid over [-0.5-PAD, 0.5+PAD]^3, indexed [x, y, z]. Returns the grid,
    its origin and spacing. `res` must be a multiple of `coarse_factor`."""
    if res % coarse_factor:
        raise ValueError(f"mesh resolution {res} must be a multiple of {coarse_factor}")
    lo, hi = -BOX_HALF - PAD, BOX_HALF + PAD
    n = res + 1
    step = (hi - lo) / res
    f = coarse_factor
    nc = res // f + 1
    cstep = step * f
    ac = _axis(nc, lo, cstep)
    gx, gy, gz = np.meshgrid(ac, ac, ac, indexing="ij")
    coarse = _eval_chunked(head.sdf, np.stack([gx, gy, gz], -1).reshape(-1, 3)).reshape(nc, nc, nc)
    # a coarse cell may hold surface when some corner is within 1.5 diagonals of it; grow by a cell
    near = np.abs(coarse) < 1.5 * cstep * 3 ** 0.5
    cell = ndimage.maximum_filter(near, size=2, mode="constant", origin=-1)[:-1, :-1, :-1]
    cell = ndimage.binary_dilation(cell, structure=np.ones((3, 3, 3), bool))
    # fine grid: trilinear upsampling of the coarse values (sign is right away from the surface)
    fine = ndimage.zoom(coarse, (n - 1) / (nc - 1), order=1, grid_mode=False)[:n, :n, :n].astype(np.float32)
    refine = np.zeros((n, n, n), bool)
    rep = np.repeat(np.repeat(np.repeat(cell, f, 0), f, 1), f, 2)
    refine[:-1, :-1, :-1] = rep
    refine[1:, 1:, 1:] |= rep
    idx = np.nonzero(refine)
    pts = (np.stack(idx, -1).astype(np.float32) * step + lo).astype(np.float32)
    fine[idx] = _eval_chunked(head.sdf, pts)
    return fine, lo, step


def head_mesh(head, res: int = 128) -> LabelledMesh:
    """Marching-cubes mesh of the head's zero level set with per-vertex class labels."""
    grid, lo, step = sdf_grid(head, res)
    verts, faces, _, _ = marching_cubes(grid, level=0.0, spacing=(step, step, step), gradient_direction="ascent")
    verts = (verts + lo).astype(np.float32)
    labels = [head.evaluate(verts[i:i + 65536])[1] for i in range(0, len(verts), 65536)]
    return LabelledMesh(verts, faces.astype(np.int64), np.concatenate(labels).astype(np.uint8))


def rasterize_mesh(mesh: LabelledMesh, camera: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer the mesh at pixel centres: (labels (res, res) uint8, depth (res, res) float32,
    0 where empty). Each pixel takes the label of the nearest vertex of its front triangle."""
    uv, z = project_points(mesh.vertices.astype(np.float64), camera, res)
    tri = mesh.faces
    u, v, zz = uv[tri, 0], uv[tri, 1], z[tri]  # (F, 3) each
    x0 = np.ceil(u.min(1) - 0.5).astype(np.int64)
    x1 = np.floor(u.max(1) - 0.5).astype(np.int64)
    y0 = np.ceil(v.min(1) - 0.5).astype(np.int64)
    y1 = np.floor(v.max(1) - 0.5).astype(np.int64)
    ok = (x1 >= x0) & (y1 >= y0) & (x1 >= 0) & (y1 >= 0) & (x0 < res) & (y0 < res) & (zz.min(1) > 0)
    span = np.maximum(x1 - x0, y1 - y0) + 1
    pix_all, z_all, lab_all = [], [], []
    for k in np.unique(span[ok]):
        sel = np.nonzero(ok & (span == k))[0]
        oy, ox = np.mgrid[0:k, 0:k]
        px = x0[sel, None] + ox.ravel()[None]
        py = y0[sel, None] + oy.ravel()[None]
        cx, cy = px + 0.5, py + 0.5
        ua, ub, uc = u[sel, 0:1], u[sel, 1:2], u[sel, 2:3]
        va, vb, vc = v[sel, 0:1], v[sel, 1:2], v[sel, 2:3]
        area = (ub - ua) * (vc - va) - (uc - ua) * (vb - va)
        area = np.where(np.abs(area) < 1e-12, 1e-12, area)
        w0 = ((ub - cx) * (vc - cy) - (uc - cx) * (vb - cy)) / area
        w1 = ((uc - cx) * (va - cy) - (ua - cx) * (vc - cy)) / area
        w2 = 1.0 - w0 - w1
        inside = (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6) & (px >= 0) & (px < res) & (py >= 0) & (py < res)
        depth = w0 * zz[sel, 0:1] + w1 * zz[sel, 1:2] + w2 * zz[sel, 2:3]
        corner = np.argmax(np.stack([w0, w1, w2], -1), -1)
        labs = mesh.labels[tri[sel][np.arange(len(sel))[:, None], corner]]
        pix_all.append((py * res + px)[inside])
        z_all.append(depth[inside])
        lab_all.append(labs[inside])
    labels = np.zeros(res * res, np.uint8)
    depth_img = np.zeros(res * res, np.float32)
    if pix_all:
        pix, zs, labs = np.concatenate(pix_all), np.concatenate(z_all), np.concatenate(lab_all)
        order = np.lexsort((zs, pix))
        pix, zs, labs = pix[order], zs[order], labs[order]
        first = np.ones(len(pix), bool)
        first[1:] = pix[1:] != pix[:-1]
        labels[pix[first]] = labs[first]
        depth_img[pix[first]] = zs[first]
    return labels.reshape(res, res), depth_img.reshape(res, res)


def label_agreement(rendered: np.ndarray, projected: np.ndarray) -> tuple[float, float]:
    """(agreement over all pixels, agreement over pixels where either map is foreground)."""
    same = rendered == projected
    fg = (rendered > 0) | (projected > 0)
    return float(same.mean()), float(same[fg].mean()) if fg.any() else 1.0
