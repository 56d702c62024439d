"""Sidebar panel: View3D > Sidebar > S3D."""
from __future__ import annotations

import bpy

from bpy.app.handlers import persistent

from . import controller, install_ops, prefs, props
from .core import installer, messages

PREVIEW_SCALE = 6.0  # the mask and front previews, in units of a 20 px icon


def _has_progress_widget() -> bool:
    return "progress" in bpy.types.UILayout.bl_rna.functions.keys()  # Blender 4.0+


def _engine_box(layout, context) -> None:
    """Install progress, or the Install Engine button while no engine is set up (cheap: file
    checks only, nothing is started from draw())."""
    job = install_ops.current_job()
    if job is not None and not job.finished:
        box = layout.box()
        if _has_progress_widget():
            box.progress(factor=job.fraction, type="BAR", text=job.stage)
        else:
            box.label(text=f"{job.stage} ({job.fraction:.0%})")
        box.operator("s3d.cancel_install", icon="CANCEL")
        return
    if prefs.settings_from_context(context).python:
        return
    p = prefs.get_prefs(context)
    download, _disk = installer.size_estimate(p.install_device.lower() if p is not None else "cpu")
    box = layout.box()
    box.label(text="The S3D engine is not installed yet", icon="INFO")
    box.operator("s3d.install_engine", text=f"Install Engine (~{download:.2f} GB)", icon="IMPORT")
    if job is not None and job.state == "failed":
        col = box.column(align=True)
        col.alert = True
        for line in messages.wrap(job.message, 40):
            col.label(text=line)


def _domain_row(layout, context, s) -> None:
    """One button per domain; a domain the last engine Check found no weights for is greyed out,
    its tooltip saying why (prefs.domain_reasons; nothing is started from draw())."""
    reasons = prefs.domain_reasons(context)
    row = layout.row(heading="Domain", align=True)
    for ident, _name, _desc, _number in props.DOMAIN_ITEMS:
        sub = row.row(align=True)
        sub.enabled = reasons.get(ident.lower()) is None
        sub.prop_enum(s, "domain", ident)


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
        _engine_box(layout, context)

        col = layout.column()
        col.enabled = not running
        col.use_property_split = True
        col.use_property_decorate = False
        col.prop(s, "source")
        col.prop(s, "projection")
        _domain_row(col, context, s)
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
            return
        failed = state.status.startswith("failed")
        if state.status and not (failed and state.last_error):
            layout.label(text=state.status, icon="ERROR" if failed else "INFO")
        if state.last_error:
            _error_box(layout, context, state.last_error)


def _error_box(layout, context, text: str) -> None:
    """The whole error, wrapped to the sidebar's width (a label would cut it), and Copy Error."""
    region = getattr(context, "region", None)
    width = messages.chars_per_line(region.width if region is not None else 300, context.preferences.view.ui_scale)
    box = layout.box()
    col = box.column(align=True)
    for i, line in enumerate(messages.wrap(text, width)):
        col.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
    box.operator("s3d.copy_error", icon="COPYDOWN")


def last_result_object(context):
    """The object "Last Result" names, or None when it no longer exists (undone, deleted)."""
    name = context.window_manager.s3d_state.last_object
    return bpy.data.objects.get(name) if name else None


def _preview_icon(img) -> int:
    preview = img.preview
    if preview is None:
        try:
            preview = img.preview_ensure()
        except (RuntimeError, AttributeError):  # no preview in this context: the button still works
            return 0
    return preview.icon_id if preview is not None else 0


class S3D_PT_result(bpy.types.Panel):
    bl_label = "Last Result"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "S3D"
    bl_parent_id = "S3D_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return last_result_object(context) is not None

    def draw(self, context):
        state = context.window_manager.s3d_state
        layout = self.layout
        obj = last_result_object(context)
        if obj is None:
            return
        layout.label(text=obj.name, icon="OBJECT_DATA")
        row = layout.row()
        for label, name in (("Mask", state.last_mask), ("Front", state.last_front)):
            img = bpy.data.images.get(name) if name else None
            col = row.column(align=True)
            if img is not None:  # the engine's 128 px images, shown enlarged in the panel
                col.template_icon(icon_value=_preview_icon(img), scale=PREVIEW_SCALE)
            sub = col.row(align=True)
            sub.enabled = img is not None
            sub.operator("s3d.show_image", text=label, icon="IMAGE_DATA").image = name


@persistent  # stays registered across file loads (load_post must see them)
def forget_removed_result(*_args) -> None:
    """undo_post / redo_post / load_post: a Last Result whose object is gone (Ctrl+Z removed it,
    another file was opened) is cleared, so the panel never names an object that does not exist."""
    for wm in bpy.data.window_managers:
        state = getattr(wm, "s3d_state", None)
        if state is not None and state.last_object and bpy.data.objects.get(state.last_object) is None:
            state.last_object = state.last_mask = state.last_front = ""


HANDLERS = ("undo_post", "redo_post", "load_post")
CLASSES = (S3D_PT_main, S3D_PT_result)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    for name in HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        if forget_removed_result not in handlers:
            handlers.append(forget_removed_result)


def unregister() -> None:
    for name in HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        while forget_removed_result in handlers:
            handlers.remove(forget_removed_result)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
