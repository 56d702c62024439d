"""Scene settings (saved with the .blend) and window-manager runtime state (not undone)."""
from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from . import prefs
from .core.request import SMOOTH_DEFAULT


DOMAIN_ITEMS = (("FACE", "Face", "Human face (19 parts)", 0), ("CAT", "Cat", "Cat face (6 parts)", 1))
_items_alive: list = []  # Blender keeps no reference to dynamic enum strings: this list does


def domain_items(_self: Any, context: Any) -> list:
    """The domains, each described by why it has no weights when the last engine Check said so
    (the panel also greys those out; see prefs.domain_reasons)."""
    reasons = prefs.domain_reasons(context) if context is not None else {}
    items = [(ident, name, reasons.get(ident.lower()) or desc, number) for ident, name, desc, number in DOMAIN_ITEMS]
    _items_alive[:] = items
    return items


class S3DSettings(bpy.types.PropertyGroup):
    domain: EnumProperty(name="Domain", description="What the sketch shows", items=domain_items, default=0)
    seed: IntProperty(name="Seed", description="Random seed for the appearance and the fine geometry",
                      default=0, min=0, max=2**31 - 1)
    mesh_resolution: IntProperty(name="Mesh Resolution", description="Marching-cubes grid size per axis",
                                 default=128, min=32, max=512, step=16)
    smooth: BoolProperty(name="Smoothing", description="Smooth the extracted surface", default=True)
    smooth_iterations: IntProperty(name="Iterations", description="Taubin smoothing iterations",
                                   default=SMOOTH_DEFAULT, min=1, max=200)
    decimate: BoolProperty(name="Decimation", description="Reduce the face count of the mesh", default=False)
    decimate_faces: IntProperty(name="Target Faces", description="Face count to decimate to", default=20000,
                                min=500, max=2_000_000)
    parts_as_materials: BoolProperty(name="Parts as Materials",
                                     description="One material per part (off: one material and a vertex group per part)",
                                     default=True)
    variations: IntProperty(name="Variations", description="How many seeds to generate (seed, seed+1, ...)",
                            default=4, min=1, max=64)
    source: EnumProperty(name="Sketch", description="Where the strokes come from",
                         items=[("AUTO", "Auto", "The active Grease Pencil object, else the scene's annotations"),
                                ("GPENCIL", "Grease Pencil", "The active Grease Pencil object"),
                                ("ANNOTATION", "Annotations", "The scene's annotation strokes")],
                         default="AUTO")
    projection: EnumProperty(name="View", description="How the 3D strokes become a 2D drawing",
                             items=[("VIEW", "Viewport", "Through the 3D viewport (the front view in background mode)"),
                                    ("CAMERA", "Camera", "Through the scene's active camera"),
                                    ("FRONT", "Front", "Blender's front view (looking along +Y)")],
                             default="VIEW")


class S3DRuntime(bpy.types.PropertyGroup):
    running: BoolProperty(default=False)
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(name="Status", default="")
    last_object: StringProperty(default="")
    last_mask: StringProperty(default="")
    last_front: StringProperty(default="")
    last_error: StringProperty(default="")  # the full text of the last failure (the panel wraps it)


CLASSES = (S3DSettings, S3DRuntime)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.s3d = PointerProperty(type=S3DSettings)
    bpy.types.WindowManager.s3d_state = PointerProperty(type=S3DRuntime)


def unregister() -> None:
    del bpy.types.WindowManager.s3d_state
    del bpy.types.Scene.s3d
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
