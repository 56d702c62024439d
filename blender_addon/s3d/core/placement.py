"""Where a generated head goes: beside its sketch, at the sketch's size, facing the view. No bpy.

Rule (issue 9):
* The sketch's bounding box is taken in view coordinates (right R, up U, back B of the view the
  strokes were projected through; see projection.py).
* The head is scaled so that its height (local Z, EG3D y) equals the sketch's height along U
  (its width along R when the sketch is a flat horizontal line).
* It stands to the right of the sketch: its centre is the sketch's right edge + a gap
  (MARGIN x the sketch's width) + half the head's width; variation i moves one more head width +
  gap to the right. Its vertical centre and depth are the sketch's.
* When there is no sketch object (annotations), the 3D cursor is the anchor: the first head's
  centre sits on it and variations step to the right the same way.
* The rotation is projection.placement_matrix's: the face looks back at the view (-local Y -> B).
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from .projection import Mat4, Vec3, dot, placement_matrix

MARGIN = 0.25  # gap between the sketch and the head, as a fraction of the sketch's width


def view_box(strokes: Iterable[Sequence[Sequence[float]]], basis: tuple[Vec3, Vec3, Vec3]) -> Optional[tuple[Vec3, Vec3]]:
    """(lo, hi) of the strokes' points in view coordinates (along R, U, B); None when empty."""
    r, u, b = basis
    lo = [float("inf")] * 3
    hi = [float("-inf")] * 3
    for stroke in strokes:
        for pt in stroke:
            for k, axis in enumerate((r, u, b)):
                v = dot(pt, axis)
                lo[k], hi[k] = min(lo[k], v), max(hi[k], v)
    if lo[0] == float("inf"):
        return None
    return (lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2])


def mesh_bounds(vertices) -> tuple[Vec3, Vec3]:
    """(lo, hi) of EG3D vertices ((N, 3) array or flat list) in the mesh's local Blender frame
    (x, -z, y); ((0,0,0), (0,0,0)) for an empty mesh."""
    if hasattr(vertices, "shape"):
        if len(vertices) == 0:
            return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
        mn, mx = vertices.min(axis=0), vertices.max(axis=0)
        x0, y0, z0, x1, y1, z1 = (float(v) for v in (*mn, *mx))
    else:
        flat = list(vertices)
        if not flat:
            return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
        xs, ys, zs = flat[0::3], flat[1::3], flat[2::3]
        x0, y0, z0, x1, y1, z1 = min(xs), min(ys), min(zs), max(xs), max(ys), max(zs)
    return (x0, -z1, y0), (x1, -z0, y1)


def head_scale(sketch_size: Sequence[float], mesh_size: Sequence[float]) -> float:
    """Blender units per mesh unit: the sketch's height over the head's height (width over width
    when either height is 0); 1 when neither is known."""
    sw, sh = sketch_size
    mw, mh = mesh_size
    if sh > 0 and mh > 0:
        return sh / mh
    if sw > 0 and mw > 0:
        return sw / mw
    return 1.0


def place_result(strokes: Iterable[Sequence[Sequence[float]]], basis: tuple[Vec3, Vec3, Vec3],
                 mesh_lo: Sequence[float], mesh_hi: Sequence[float], index: int = 0,
                 anchor: Optional[Sequence[float]] = None, margin: float = MARGIN) -> Mat4:
    """matrix_world of result `index` (0 for the first seed) of a sketch (see the module docstring).
    `anchor` (the 3D cursor) replaces the sketch's side when there is no sketch object."""
    box = view_box(strokes, basis)
    r, u, b = basis
    mesh_w, mesh_h = mesh_hi[0] - mesh_lo[0], mesh_hi[2] - mesh_lo[2]
    if box is None:
        lo = hi = (0.0, 0.0, 0.0)
    else:
        lo, hi = box
    width, height = hi[0] - lo[0], hi[1] - lo[1]
    scale = head_scale((width, height), (mesh_w, mesh_h))
    head_w = mesh_w * scale
    gap = margin * (width if width > 0 else head_w)
    step = index * (head_w + gap)
    if anchor is not None or box is None:
        a = tuple(anchor) if anchor is not None else (0.0, 0.0, 0.0)
        target = tuple(a[k] + r[k] * step for k in range(3))
    else:
        tx = hi[0] + gap + head_w / 2.0 + step
        ty, tz = (lo[1] + hi[1]) / 2.0, (lo[2] + hi[2]) / 2.0
        target = tuple(r[k] * tx + u[k] * ty + b[k] * tz for k in range(3))
    m = placement_matrix((0.0, 0.0, 0.0), basis, scale)
    centre = [(mesh_lo[k] + mesh_hi[k]) / 2.0 for k in range(3)]
    for i in range(3):  # translation that puts the mesh's box centre on the target
        m[i][3] = target[i] - sum(m[i][j] * centre[j] for j in range(3))
    return m
