"""The MediaPipe canonical face as a signed-distance grid: real human proportions for the
frontal part of the procedural heads.

The canonical face (`shared/data/canonical_face_model.obj`, Apache-2.0, centimetres, y up,
looking toward +z) is an open surface. We close it by extruding its boundary loop straight back
to `Z_BACK` and capping it, so that "inside" is well defined: the region behind the face. The
sign comes from ray parity along +z (exact for a closed surface and cheap: one 2D point-in-
triangle test per grid column); near the surface the magnitude is the exact point-triangle
distance (candidate triangles from a k-d tree over surface samples), farther away a distance
transform. The template is Loop-subdivided twice first so that it shades smoothly.
The grid (0.25 cm spacing, ~0.4 M values) takes about two seconds to build and is cached per
process; heads sample it with trilinear interpolation.

Landmark indices below follow MediaPipe's 468-point face-mesh numbering, which the OBJ's vertex
order follows; they were checked against the vertex positions (eye corners, lid midpoints, mouth
corners, lip midpoints, nose tip, chin, forehead).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .sdf import trilinear

Z_BACK = -7.0  # cm: where the extruded face volume ends (well inside the cranium)
SPACING = 0.25  # cm
GRID_LO = np.array([-9.0, -10.75, Z_BACK - 1.0])
GRID_HI = np.array([9.0, 9.75, 8.75])

# Named MediaPipe landmark indices (0-based), read off the canonical mesh.
LANDMARKS = {
    "nose_tip": 4, "nose_bridge": 168, "subnasale": 2, "alar_r": 98, "alar_l": 327,
    "eye_outer_r": 33, "eye_inner_r": 133, "lid_upper_r": 159, "lid_lower_r": 145,
    "eye_outer_l": 263, "eye_inner_l": 362, "lid_upper_l": 386, "lid_lower_l": 374,
    "brow_outer_r": 70, "brow_peak_r": 105, "brow_outer_l": 300, "brow_peak_l": 334,
    "mouth_corner_r": 61, "mouth_corner_l": 291, "lip_top": 0, "lip_upper_inner": 13,
    "lip_lower_inner": 14, "lip_bottom": 17, "chin": 152, "forehead": 10,
    "cheek_side_r": 234, "cheek_side_l": 454,
}


def canonical_face_path() -> Path:
    """Where the canonical face OBJ lives: $S3D_CANONICAL_FACE, or shared/data next to the repo."""
    env = os.environ.get("S3D_CANONICAL_FACE")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidates.append(parent / "shared" / "data" / "canonical_face_model.obj")
    candidates.append(Path("/work/shared/data/canonical_face_model.obj"))
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "canonical_face_model.obj not found; set S3D_CANONICAL_FACE to its path "
        "(MediaPipe's mediapipe/modules/face_geometry/data/canonical_face_model.obj)"
    )


def load_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Minimal OBJ reader (v and f lines only; f entries may be v/vt/vn)."""
    verts, faces = [], []
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "f":
            faces.append([int(tok.split("/")[0]) - 1 for tok in parts[1:4]])
    return np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64)


def boundary_loop(faces: np.ndarray) -> np.ndarray:
    """Vertex indices of the single boundary loop, in order (edges used by one triangle)."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    uniq, counts = np.unique(key, axis=0, return_counts=True)
    border = uniq[counts == 1]
    nxt: dict[int, list[int]] = {}
    for a, b in border:
        nxt.setdefault(int(a), []).append(int(b))
        nxt.setdefault(int(b), []).append(int(a))
    start = int(border[0, 0])
    loop, prev, cur = [start], -1, start
    while True:
        options = [v for v in nxt[cur] if v != prev]
        step = options[0]
        if step == start:
            break
        loop.append(step)
        prev, cur = cur, step
    return np.asarray(loop)


def closed_face_mesh(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face surface + walls extruded back to Z_BACK + a fan cap: a closed surface."""
    loop = boundary_loop(faces)
    n = len(verts)
    back = verts[loop].copy()
    back[:, 2] = Z_BACK
    centre = np.array([back[:, 0].mean(), back[:, 1].mean(), Z_BACK])
    all_v = np.concatenate([verts, back, centre[None]])
    k = len(loop)
    walls, cap = [], []
    for i in range(k):
        j = (i + 1) % k
        a, b, a2, b2 = loop[i], loop[j], n + i, n + j
        walls += [[a, b, b2], [a, b2, a2]]
        cap.append([a2, b2, n + k])
    return all_v, np.concatenate([faces, np.asarray(walls), np.asarray(cap)])


def _parity_inside(verts: np.ndarray, faces: np.ndarray, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray,
                   tile: int = 8) -> np.ndarray:
    """Inside test on the grid by counting crossings of +z rays (odd = inside). Columns are
    processed in tiles against the triangles whose xy bounding box overlaps the tile."""
    tri = verts[faces]
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    keep = np.abs(det) > 1e-12  # walls are parallel to z: no crossings
    a, b, c, det = a[keep], b[keep], c[keep], det[keep]
    tmin = np.minimum(np.minimum(a, b), c)[:, :2]
    tmax = np.maximum(np.maximum(a, b), c)[:, :2]
    inside = np.zeros((len(ys), len(xs), len(zs)), dtype=bool)
    for y0 in range(0, len(ys), tile):
        for x0 in range(0, len(xs), tile):
            tx, ty = xs[x0:x0 + tile], ys[y0:y0 + tile]
            sel = ((tmax[:, 0] >= tx[0]) & (tmin[:, 0] <= tx[-1]) & (tmax[:, 1] >= ty[0]) & (tmin[:, 1] <= ty[-1]))
            if not sel.any():
                continue
            sa, sb, sc, sd = a[sel], b[sel], c[sel], det[sel]
            gx, gy = np.meshgrid(tx, ty, indexing="xy")
            px, py = gx.ravel()[:, None], gy.ravel()[:, None]
            w1 = ((px - sa[:, 0]) * (sc[:, 1] - sa[:, 1]) - (sc[:, 0] - sa[:, 0]) * (py - sa[:, 1])) / sd
            w2 = ((sb[:, 0] - sa[:, 0]) * (py - sa[:, 1]) - (px - sa[:, 0]) * (sb[:, 1] - sa[:, 1])) / sd
            hit = (w1 >= 0) & (w2 >= 0) & (w1 + w2 <= 1)
            zhit = sa[:, 2] + w1 * (sb[:, 2] - sa[:, 2]) + w2 * (sc[:, 2] - sa[:, 2])
            counts = (hit[:, :, None] & (zhit[:, :, None] > zs[None, None, :])).sum(1)  # (cols, Z)
            block = (counts % 2 == 1).reshape(len(ty), len(tx), len(zs))
            inside[y0:y0 + tile, x0:x0 + tile] = block
    return inside  # (Y, X, Z)


def point_triangle_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance from points p (M, 3) to triangles (a, b, c) (M, 3 each):
    the plane distance when the projection falls inside, else the nearest edge."""
    ab, ac, ap = b - a, c - a, p - a
    n = np.cross(ab, ac)
    nn = np.maximum((n * n).sum(1), 1e-30)
    # barycentric coordinates of the projection
    v = (np.cross(ap, ac) * n).sum(1) / nn
    w = (np.cross(ab, ap) * n).sum(1) / nn
    inside = (v >= 0) & (w >= 0) & (v + w <= 1) & (nn > 1e-20)
    plane = np.abs((ap * n).sum(1)) / np.sqrt(nn)

    def seg(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        d = p1 - p0
        t = np.clip(((p - p0) * d).sum(1) / np.maximum((d * d).sum(1), 1e-30), 0.0, 1.0)
        return np.linalg.norm(p - p0 - t[:, None] * d, axis=1)

    edges = np.minimum(np.minimum(seg(a, b), seg(b, c)), seg(c, a))
    return np.where(inside, plane, edges)


def _surface_samples(verts: np.ndarray, faces: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points on every triangle on a barycentric lattice of roughly `spacing`, with the id of
    the triangle each point lies on (candidates for the exact distance)."""
    tri = verts[faces]
    edge = np.maximum(np.linalg.norm(tri[:, 1] - tri[:, 0], axis=1), np.linalg.norm(tri[:, 2] - tri[:, 0], axis=1))
    steps = np.clip(np.ceil(edge / spacing).astype(int), 1, 200)
    pts_out, ids_out = [], []
    for n in np.unique(steps):
        which = np.nonzero(steps == n)[0]
        sel = tri[which]
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        m = (i + j) <= n
        u, v = (i[m] / n)[None, :, None], (j[m] / n)[None, :, None]
        pts = sel[:, None, 0] + u * (sel[:, None, 1] - sel[:, None, 0]) + v * (sel[:, None, 2] - sel[:, None, 0])
        pts_out.append(pts.reshape(-1, 3))
        ids_out.append(np.repeat(which, m.sum()))
    return np.concatenate(pts_out), np.concatenate(ids_out)


@dataclass(frozen=True)
class FaceTemplate:
    """The canonical face: vertices (cm), triangles, landmarks and its SDF grid."""

    verts: np.ndarray  # the original 468 landmark-ordered vertices (cm)
    faces: np.ndarray
    grid: np.ndarray  # (X, Y, Z) float32 signed distance in cm
    lo: np.ndarray  # (3,) float32 grid origin (cm)
    spacing: float

    def landmark(self, name: str) -> np.ndarray:
        return self.verts[LANDMARKS[name]]

    def sample(self, q: np.ndarray) -> np.ndarray:
        """Signed distance (cm) at canonical points q (N, 3), trilinear; outside the grid the
        border value plus the distance to the grid box (a safe bound)."""
        return trilinear(self.grid, self.lo, self.spacing, q)


@lru_cache(maxsize=1)
def face_template() -> FaceTemplate:
    """Build (once per process) the canonical face SDF grid."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    import trimesh

    verts, faces = load_obj(canonical_face_path())
    # two Loop subdivisions: the 898-triangle template would otherwise shade as visible facets
    fine = trimesh.Trimesh(verts, faces, process=False).subdivide_loop(2)
    cv, cf = closed_face_mesh(np.asarray(fine.vertices), np.asarray(fine.faces))
    xs = np.arange(GRID_LO[0], GRID_HI[0] + 1e-6, SPACING) + 1.3e-4  # jitter: no ray through an edge
    ys = np.arange(GRID_LO[1], GRID_HI[1] + 1e-6, SPACING) + 0.7e-4
    zs = np.arange(GRID_LO[2], GRID_HI[2] + 1e-6, SPACING)
    inside = _parity_inside(cv, cf, xs, ys, zs)  # (Y, X, Z)
    # Exact distances near the surface (candidate triangles from a k-d tree over surface samples);
    # farther away the Euclidean distance transform of the occupancy (half a voxel conservative).
    samples, sample_tri = _surface_samples(cv, cf, 0.3)
    tree = cKDTree(samples)
    gy, gx, gz = np.meshgrid(ys, xs, zs, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], 1)
    near = 0.75
    _, nn = tree.query(pts, k=6, workers=1, distance_upper_bound=near)
    close = np.nonzero(nn[:, 0] < len(samples))[0]
    best = np.full(len(close), np.inf)
    for k in range(nn.shape[1]):
        ok = nn[close, k] < len(samples)
        idx = close[ok]
        tri = cf[sample_tri[nn[idx, k]]]
        d = point_triangle_distance(pts[idx], cv[tri[:, 0]], cv[tri[:, 1]], cv[tri[:, 2]])
        best[ok] = np.minimum(best[ok], d)
    edt = np.where(inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside))
    dist = np.maximum(edt.ravel() * SPACING - 0.5 * SPACING, near)
    dist[close] = np.minimum(best, dist[close])
    sdf = np.where(inside.ravel(), -dist, dist).reshape(len(ys), len(xs), len(zs))
    grid = np.ascontiguousarray(sdf.transpose(1, 0, 2), dtype=np.float32)  # (X, Y, Z)
    lo = np.array([xs[0], ys[0], zs[0]], dtype=np.float32)
    return FaceTemplate(verts=verts, faces=faces, grid=grid, lo=lo, spacing=SPACING)
