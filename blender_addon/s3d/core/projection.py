"""Projection and placement maths, in plain Python (no bpy, no mathutils, no numpy).

Conventions
* Matrices are 4x4 row-major nested lists (a `mathutils.Matrix` converts with `rows(m)`).
* A world stroke is a list of (x, y, z, pressure) points; a sketch stroke is a list of
  [x, y, pressure] with x right and y down, in pixels of the view it was projected through
  (the engine fits strokes to its frame, so only their shape matters).
* A view basis is (R, U, B): world-space unit vectors for view right, view up and "back"
  (from the subject toward the viewer).
* The engine's mesh is in EG3D coordinates (y up, the face looks toward +z). Its local frame
  in Blender is X = x, Y = -z, Z = y (a head facing Blender's front view), and the object is
  rotated so that local X -> R, local Z -> U, local -Y -> B: the face looks at the viewer.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

Vec3 = tuple[float, float, float]
Mat4 = list[list[float]]

FRONT_BASIS: tuple[Vec3, Vec3, Vec3] = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))
CONTENT_MARGIN = 0.08  # must match s3d_engine.sketch.CONTENT_MARGIN


def rows(m) -> Mat4:
    """Any 4x4 (mathutils.Matrix, nested sequences) -> row-major nested lists of floats."""
    return [[float(m[i][j]) for j in range(4)] for i in range(4)]


def identity() -> Mat4:
    return [[1.0 if i == j else 0.0 for j in range(4)] for i in range(4)]


def matmul(a: Mat4, b: Mat4) -> Mat4:
    return [[sum(a[i][k] * b[k][j] for k in range(4)) for j in range(4)] for i in range(4)]


def transform_point(m: Mat4, p: Sequence[float]) -> Vec3:
    x, y, z = float(p[0]), float(p[1]), float(p[2])
    return (m[0][0] * x + m[0][1] * y + m[0][2] * z + m[0][3],
            m[1][0] * x + m[1][1] * y + m[1][2] * z + m[1][3],
            m[2][0] * x + m[2][1] * y + m[2][2] * z + m[2][3])


def _norm(v: Sequence[float]) -> Vec3:
    n = math.sqrt(sum(c * c for c in v)) or 1.0
    return (v[0] / n, v[1] / n, v[2] / n)


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Sequence[float], b: Sequence[float]) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def project_strokes(strokes: Iterable[Sequence[Sequence[float]]], perspective: Mat4, width: float,
                    height: float) -> list[list[list[float]]]:
    """World strokes -> pixel polylines through a world->clip matrix (RegionView3D.perspective_matrix,
    or camera projection @ view). Same maths as bpy_extras' location_3d_to_region_2d /
    world_to_camera_view. Points behind the eye (w <= 0) split a stroke."""
    p = perspective
    out: list[list[list[float]]] = []
    for stroke in strokes:
        current: list[list[float]] = []
        for pt in stroke:
            x, y, z = float(pt[0]), float(pt[1]), float(pt[2])
            pressure = float(pt[3]) if len(pt) > 3 else 1.0
            w = p[3][0] * x + p[3][1] * y + p[3][2] * z + p[3][3]
            if w <= 1e-9:
                if current:
                    out.append(current)
                current = []
                continue
            nx = (p[0][0] * x + p[0][1] * y + p[0][2] * z + p[0][3]) / w
            ny = (p[1][0] * x + p[1][1] * y + p[1][2] * z + p[1][3]) / w
            current.append([(nx * 0.5 + 0.5) * width, (1.0 - (ny * 0.5 + 0.5)) * height, pressure])
        if current:
            out.append(current)
    return out


def project_orthographic(strokes: Iterable[Sequence[Sequence[float]]],
                         basis: tuple[Vec3, Vec3, Vec3] = FRONT_BASIS) -> list[list[list[float]]]:
    """Parallel projection onto the plane spanned by the basis' right and up vectors (the
    fallback when there is neither a viewport nor a camera: Blender's front view)."""
    r, u, _ = basis
    out = []
    for stroke in strokes:
        pts = [[dot(pt, r), -dot(pt, u), float(pt[3]) if len(pt) > 3 else 1.0] for pt in stroke]
        if pts:
            out.append(pts)
    return out


def basis_from_view_matrix(view_matrix) -> tuple[Vec3, Vec3, Vec3]:
    """RegionView3D.view_matrix (world -> view): its rotation rows are right, up, back."""
    m = rows(view_matrix)
    return _norm(m[0][:3]), _norm(m[1][:3]), _norm(m[2][:3])


def basis_from_camera(matrix_world) -> tuple[Vec3, Vec3, Vec3]:
    """Camera object matrix_world: its columns are right, up and back (cameras look along -Z)."""
    m = rows(matrix_world)
    return tuple(_norm([m[0][j], m[1][j], m[2][j]]) for j in range(3))  # type: ignore[return-value]


def sketch_extent(strokes: Iterable[Sequence[Sequence[float]]], basis: tuple[Vec3, Vec3, Vec3]) -> float:
    """Largest side of the strokes' bounding box in the view plane (world units), 0 if empty."""
    r, u, _ = basis
    xs: list[float] = []
    ys: list[float] = []
    for stroke in strokes:
        for pt in stroke:
            xs.append(dot(pt, r))
            ys.append(dot(pt, u))
    if not xs:
        return 0.0
    return max(max(xs) - min(xs), max(ys) - min(ys))


def fit_scale(extent: float, frame_extent: float, margin: float = CONTENT_MARGIN) -> float:
    """Scale (Blender units per EG3D unit) that makes the generated head as large as the drawing:
    the engine fits the strokes into (1 - 2*margin) of its frame, which spans `frame_extent`
    EG3D units at the head."""
    if extent <= 0 or frame_extent <= 0 or not math.isfinite(extent):
        return 1.0
    return extent / ((1.0 - 2.0 * margin) * frame_extent)


def placement_matrix(location: Sequence[float], basis: tuple[Vec3, Vec3, Vec3], scale: float = 1.0) -> Mat4:
    """Object matrix_world for a mesh in the local frame described in the module docstring."""
    r, u, b = basis
    y = (-b[0], -b[1], -b[2])
    cols = (r, y, u)
    m = identity()
    for i in range(3):
        for j in range(3):
            m[i][j] = cols[j][i] * scale
        m[i][3] = float(location[i])
    return m


def eg3d_to_local(vertices):
    """EG3D (x, y, z) -> local Blender (x, -z, y). Accepts an (N, 3) numpy array or a flat list."""
    if hasattr(vertices, "shape"):
        out = vertices[:, [0, 2, 1]].copy()
        out[:, 1] *= -1.0
        return out
    flat = list(vertices)
    res = [0.0] * len(flat)
    res[0::3] = flat[0::3]
    res[1::3] = [-v for v in flat[2::3]]
    res[2::3] = flat[1::3]
    return res


def offset_along(location: Sequence[float], direction: Sequence[float], distance: float) -> Vec3:
    return (location[0] + direction[0] * distance, location[1] + direction[1] * distance,
            location[2] + direction[2] * distance)
