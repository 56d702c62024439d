"""Where the strokes are seen from (bpy glue): the 3D viewport the user draws in, the scene
camera (background mode, batch), or Blender's front view. The maths is in core/projection.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy

from . import capture
from .core import projection


@dataclass
class CapturedSketch:
    name: str
    strokes: list  # 2D polylines [[x, y, pressure], ...]
    basis: tuple  # view right/up/back in world space
    extent: float  # world size of the drawing in the view plane
    view: str  # "viewport" | "camera" | "front"


def find_view3d(context: Any) -> tuple[Any, Any]:
    """(area, WINDOW region) of the 3D viewport the user works in, or (None, None)."""
    area = getattr(context, "area", None)
    areas = [area] if area is not None and area.type == "VIEW_3D" else []
    screen = getattr(context, "screen", None)
    if screen is not None:
        areas += [a for a in screen.areas if a.type == "VIEW_3D" and a not in areas]
    for a in areas:
        region = next((r for r in a.regions if r.type == "WINDOW"), None)
        if region is not None and getattr(a.spaces.active, "region_3d", None) is not None:
            return a, region
    return None, None


def camera_projection(scene: Any, cam: Any, depsgraph: Any) -> tuple[list, float, float]:
    render = scene.render
    w = render.resolution_x * render.pixel_aspect_x
    h = render.resolution_y * render.pixel_aspect_y
    proj = cam.calc_matrix_camera(depsgraph, x=render.resolution_x, y=render.resolution_y,
                                  scale_x=render.pixel_aspect_x, scale_y=render.pixel_aspect_y)
    m = projection.matmul(projection.rows(proj), projection.rows(cam.matrix_world.inverted()))
    return m, w, h


def project_sketch(context: Any, world: capture.WorldSketch, mode: str = "VIEW") -> CapturedSketch:
    """World strokes -> 2D polylines, through the viewport (mode VIEW), the scene camera (mode
    CAMERA) or Blender's front view (mode FRONT, and the fallback when there is neither).

    Rule for VIEW without a viewport (background mode, `blender -b`, or no 3D view open): Blender's
    front view, NOT the scene camera. A sketch drawn facing the front view in the GUI then gives
    the same drawing and a result facing the same way (-Y) in both modes; the camera, which may
    look from any angle, is used only when asked for (View: Camera, the batch's --view camera)."""
    scene = context.scene
    if mode == "VIEW" and not bpy.app.background:
        area, region = find_view3d(context)
        if area is not None:
            rv3d = area.spaces.active.region_3d
            strokes = projection.project_strokes(world.strokes, projection.rows(rv3d.perspective_matrix),
                                                 region.width, region.height)
            basis = projection.basis_from_view_matrix(rv3d.view_matrix)
            return _captured(world, strokes, basis, "viewport")
    if mode == "CAMERA" and scene.camera is not None:
        cam = scene.camera
        m, w, h = camera_projection(scene, cam, context.evaluated_depsgraph_get())
        strokes = projection.project_strokes(world.strokes, m, w, h)
        return _captured(world, strokes, projection.basis_from_camera(cam.matrix_world), "camera")
    strokes = projection.project_orthographic(world.strokes, projection.FRONT_BASIS)
    return _captured(world, strokes, projection.FRONT_BASIS, "front")


def _captured(world: capture.WorldSketch, strokes: list, basis: tuple, view: str) -> CapturedSketch:
    if not strokes:
        raise capture.CaptureError(f"{world.name!r} is not visible from the {view} (all strokes behind it)")
    return CapturedSketch(world.name, strokes, basis, projection.sketch_extent(world.strokes, basis), view)
