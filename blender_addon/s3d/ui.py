"""Sidebar panel: View3D > Sidebar > S3D."""
from __future__ import annotations

import bpy

from . import controller


def _has_progress_widget() -> bool:
    return "progress" in bpy.types.UILayout.bl_rna.functions.keys()  # Blender 4.0+


class S3D_PT_main(bpy.types.Panel):
    bl_idname = "S3D_PT_main"
    bl_label = "Sketch to 3D"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "S3D"

    def draw(self, context):
        layout = self.layout
        s = context.scene.s3d
        state = context.window_manager.s3d_state
        running = controller.ACTIVE is not None and controller.ACTIVE.state == "running"

        col = layout.column()
        col.enabled = not running
        col.use_property_split = True
        col.use_property_decorate = False
        col.prop(s, "source")
        col.prop(s, "projection")
        col.prop(s, "domain")
        col.prop(s, "seed")
        col.prop(s, "mesh_resolution", text="Resolution")

        col = layout.column(align=True)  # options: full-width checkboxes, nothing cut in a narrow sidebar
        col.enabled = not running
        row = col.row(align=True)
        row.prop(s, "smooth")
        sub = row.row(align=True)
        sub.enabled = s.smooth
        sub.prop(s, "smooth_iterations", text="")
        row = col.row(align=True)
        row.prop(s, "decimate", text="Decimate")
        sub = row.row(align=True)
        sub.enabled = s.decimate
        sub.prop(s, "decimate_faces", text="")
        col.prop(s, "parts_as_materials")

        col = layout.column()
        col.enabled = not running
        col.scale_y = 1.4
        col.operator("s3d.generate", text="Generate", icon="OUTLINER_OB_MESH").count = 1
        row = layout.row(align=True)
        row.enabled = not running
        row.prop(s, "variations", text="N")
        row.operator("s3d.generate", text="Variations", icon="MOD_ARRAY").count = s.variations

        if running:
            if _has_progress_widget():
                layout.progress(factor=state.progress, type="BAR", text=state.status or "working")
            else:
                layout.prop(state, "progress", text=state.status or "working", slider=True)
            layout.operator("s3d.cancel", icon="CANCEL")
        elif state.status:
            icon = "ERROR" if state.status.startswith("failed") else "INFO"
            layout.label(text=state.status, icon=icon)


class S3D_PT_result(bpy.types.Panel):
    bl_label = "Last Result"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "S3D"
    bl_parent_id = "S3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return bool(context.window_manager.s3d_state.last_object)

    def draw(self, context):
        state = context.window_manager.s3d_state
        layout = self.layout
        layout.label(text=state.last_object, icon="OBJECT_DATA")
        row = layout.row(align=True)
        for label, name in (("Mask", state.last_mask), ("Front", state.last_front)):
            sub = row.row(align=True)
            sub.enabled = bool(name) and name in bpy.data.images
            sub.operator("s3d.show_image", text=label, icon="IMAGE_DATA").image = name


CLASSES = (S3D_PT_main, S3D_PT_result)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
