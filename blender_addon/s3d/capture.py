"""Read Grease Pencil / annotation strokes into plain world-space lists.

Works on real bpy data and on simple stand-ins (the unit tests use those), because it only
touches attributes. Three data shapes exist (see docs/BLENDER.md):
* GPv2 (Blender <= 4.2): obj.type 'GPENCIL', layer.frames[*].strokes, point.co / pressure,
  layer transform `layer.matrix_layer`.
* GPv3 (4.3+, and 5.0 where it is bpy.data.grease_pencils): obj.type 'GREASEPENCIL',
  layer.current_frame().drawing.strokes, point.position / radius, `layer.matrix_local`.
* Annotations: scene.grease_pencil (<= 4.5) or scene.annotation (5.0+), strokes' point.co.
Branching is by obj.type and the presence of attributes, never by RNA type names (they swap
between 4.5 and 5.0).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .core import projection

GP_TYPES = {"GPENCIL", "GREASEPENCIL"}


class CaptureError(ValueError):
    """Nothing to capture (no Grease Pencil object, empty frame, ...)."""


@dataclass
class WorldSketch:
    name: str
    strokes: list[list[tuple[float, float, float, float]]] = field(default_factory=list)
    source: str = ""  # "grease_pencil" | "annotation"

    @property
    def num_points(self) -> int:
        return sum(len(s) for s in self.strokes)


def is_gp_object(obj: Any) -> bool:
    return obj is not None and getattr(obj, "type", None) in GP_TYPES


def _frame_at(frames: Any, frame_current: int) -> Any:
    """The frame shown at `frame_current` (largest frame_number <= current), else the first."""
    best, first = None, None
    for fr in frames:
        num = int(getattr(fr, "frame_number", 0))
        if first is None or num < int(getattr(first, "frame_number", 0)):
            first = fr
        if num <= frame_current and (best is None or num > int(getattr(best, "frame_number", 0))):
            best = fr
    return best if best is not None else first


def _layer_hidden(layer: Any) -> bool:
    return bool(getattr(layer, "hide", False) or getattr(layer, "annotation_hide", False))


def _bulk(collection: Any, attr: str, n: int, width: int) -> Optional[list[float]]:
    if not hasattr(collection, "foreach_get"):
        return None
    buf = [0.0] * (n * width)
    try:
        collection.foreach_get(attr, buf)
    except Exception:  # noqa: BLE001 - fall back to per-point access
        return None
    return buf


def _points_v2(stroke: Any) -> list[tuple[float, float, float, float]]:
    pts = stroke.points
    n = len(pts)
    co = _bulk(pts, "co", n, 3)
    pr = _bulk(pts, "pressure", n, 1)
    if co is None:
        co = [c for p in pts for c in tuple(p.co)[:3]]
    if pr is None:
        pr = [float(getattr(p, "pressure", 1.0)) for p in pts]
    return [(co[3 * i], co[3 * i + 1], co[3 * i + 2], pr[i]) for i in range(n)]


def _drawing_strokes_v3(drawing: Any) -> list[list[tuple[float, float, float, float]]]:
    """GPv3 drawing -> strokes with raw radius as the 4th value; bulk attribute read when possible."""
    try:
        attrs = drawing.attributes
        pos = attrs["position"].data
        n = len(pos)
        offsets_coll = drawing.curve_offsets
        m = len(offsets_coll)
        co = _bulk(pos, "vector", n, 3)
        offs = [0] * m
        offsets_coll.foreach_get("value", offs)
        rad = _bulk(attrs["radius"].data, "value", n, 1) if "radius" in attrs else None
        if co is not None and m >= 1 and offs[-1] == n:
            if rad is None:
                rad = [1.0] * n
            out = []
            for s in range(m - 1):
                a, b = int(offs[s]), int(offs[s + 1])
                out.append([(co[3 * i], co[3 * i + 1], co[3 * i + 2], rad[i]) for i in range(a, b)])
            return out
    except Exception:  # noqa: BLE001 - per-point API below works everywhere
        pass
    out = []
    for stroke in drawing.strokes:
        pts = []
        for p in stroke.points:
            x, y, z = tuple(p.position)[:3]
            pts.append((x, y, z, float(getattr(p, "radius", 1.0))))
        out.append(pts)
    return out


def _normalise_radius(strokes: list[list[tuple[float, float, float, float]]]) -> list[list[tuple[float, float, float, float]]]:
    """GPv3 stores a radius per point, GPv2 a pressure around 1: rescale radii by their median
    so that both give the engine a relative pen pressure."""
    radii = sorted(p[3] for s in strokes for p in s if p[3] > 0)
    if not radii:
        return [[(p[0], p[1], p[2], 1.0) for p in s] for s in strokes]
    med = radii[len(radii) // 2]
    return [[(p[0], p[1], p[2], max(0.05, min(4.0, p[3] / med))) for p in s] for s in strokes]


def gp_object_strokes(obj: Any, frame_current: int) -> WorldSketch:
    """World-space strokes of the visible layers of a GP object at `frame_current`."""
    if not is_gp_object(obj):
        raise CaptureError(f"{getattr(obj, 'name', obj)!r} is not a Grease Pencil object")
    world = projection.rows(obj.matrix_world)
    strokes: list[list[tuple[float, float, float, float]]] = []
    v3 = obj.type == "GREASEPENCIL"
    for layer in obj.data.layers:
        if _layer_hidden(layer):
            continue
        if v3:
            frame = layer.current_frame() if hasattr(layer, "current_frame") else None
            if frame is None:
                frame = _frame_at(layer.frames, frame_current)
            drawing = getattr(frame, "drawing", None) if frame is not None else None
            if drawing is None:
                continue
            local = getattr(layer, "matrix_local", None)
            raw = _normalise_radius(_drawing_strokes_v3(drawing))
        else:
            frame = _frame_at(layer.frames, frame_current)
            if frame is None:
                continue
            local = getattr(layer, "matrix_layer", None)
            raw = [_points_v2(st) for st in frame.strokes]
        m = projection.matmul(world, projection.rows(local)) if local is not None else world
        for pts in raw:
            if len(pts) == 0:
                continue
            strokes.append([(*projection.transform_point(m, p), float(p[3])) for p in pts])
    return WorldSketch(getattr(obj, "name", "Sketch"), strokes, "grease_pencil")


def annotation_data(scene: Any) -> Any:
    """The scene's annotation datablock: scene.annotation (5.0+) or scene.grease_pencil (older)."""
    data = getattr(scene, "annotation", None)
    if data is None:
        data = getattr(scene, "grease_pencil", None)
    return data


def annotation_strokes(scene: Any, frame_current: int) -> WorldSketch:
    data = annotation_data(scene)
    if data is None:
        raise CaptureError("the scene has no annotations")
    strokes = []
    for layer in data.layers:
        if _layer_hidden(layer):
            continue
        frame = _frame_at(layer.frames, frame_current)
        if frame is None:
            continue
        for st in frame.strokes:
            pts = _points_v2(st)
            if pts:
                strokes.append(pts)
    return WorldSketch(getattr(data, "name", "Annotations") or "Annotations", strokes, "annotation")


def pick_gp_object(active_object: Any, objects: Any = ()) -> Any:
    """The sketch to use: the active GP object; else, when the active object is an S3D result,
    the GP object it came from; else the only GP object in the scene; else None."""
    if is_gp_object(active_object):
        return active_object
    gps = [o for o in objects if is_gp_object(o)]
    source = None
    if active_object is not None and hasattr(active_object, "get"):
        source = active_object.get("s3d_sketch")
    if source:
        for o in gps:
            if getattr(o, "name", None) == source:
                return o
    return gps[0] if len(gps) == 1 else None


def capture(scene: Any, active_object: Any, frame_current: int, source: str = "AUTO", objects: Any = ()) -> WorldSketch:
    """Pick the sketch: source 'GPENCIL' (the active GP object, see pick_gp_object), 'ANNOTATION',
    or 'AUTO' (a GP object if there is one to pick, else the scene's annotations)."""
    obj = pick_gp_object(active_object, objects) if source in ("AUTO", "GPENCIL") else None
    gp_sketch = None
    if obj is not None:
        gp_sketch = gp_object_strokes(obj, frame_current)
        if gp_sketch.strokes or source == "GPENCIL":
            return _check(gp_sketch)
    if source == "GPENCIL":
        raise CaptureError("select a Grease Pencil object to generate from (or draw annotations and pick 'Annotations')")
    try:
        return _check(annotation_strokes(scene, frame_current))
    except CaptureError:
        if source == "ANNOTATION":
            raise
        if gp_sketch is not None:
            return _check(gp_sketch)  # the picked GP object is empty: say so
        raise CaptureError("nothing to generate from: make a Grease Pencil object active, or draw annotations") from None


def _check(sketch: WorldSketch) -> WorldSketch:
    if not sketch.strokes:
        raise CaptureError(f"{sketch.name!r} has no strokes on the current frame")
    return sketch
