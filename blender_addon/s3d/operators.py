"""Operators: Generate (modal in the UI, synchronous in background mode), Cancel, Show Image,
Copy Error."""
from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty

from . import controller
from .capture import CaptureError
from .core import messages
from .core.client import WorkerError

TIMER_INTERVAL = 0.02  # polling the worker
IMPORT_INTERVAL = 0.004  # between import slices


def _report_result(op, ctl) -> set:
    for err in ctl.errors:
        op.report({"ERROR"}, f"S3D: {err}")
    if ctl.state == "finished":
        op.report({"INFO"}, f"S3D: {ctl.status_text()}")
        return {"FINISHED"}
    if ctl.state == "cancelled":
        op.report({"WARNING"}, "S3D: cancelled")
    return {"CANCELLED"}


class S3D_OT_generate(bpy.types.Operator):
    """Generate a labelled 3D head from the active Grease Pencil sketch (Esc cancels)"""

    bl_idname = "s3d.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    count: IntProperty(name="Count", description="How many seeds to generate, starting at the panel's seed",
                       default=1, min=1, max=64)

    _timer = None
    _fast_timer = None
    _ctl = None

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "s3d")

    def _make(self, context):
        ctl = controller.GenerateController.from_scene(context, self.count)
        try:
            ctl.start(context)
        except (CaptureError, WorkerError) as exc:
            text = messages.for_blender(str(exc))
            self.report({"ERROR"}, f"S3D: {text}")
            state = getattr(context.window_manager, "s3d_state", None)
            if state is not None:
                state.status = f"failed: {text}"
                state.last_error = text
            return None
        return ctl

    def execute(self, context):
        ctl = self._make(context)
        if ctl is None:
            return {"CANCELLED"}
        ctl.run_blocking(context)
        return _report_result(self, ctl)

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        if controller.ACTIVE is not None and controller.ACTIVE.state == "running":
            self.report({"WARNING"}, "S3D: a Generate is already running (Esc or Cancel stops it)")
            return {"CANCELLED"}
        ctl = self._make(context)
        if ctl is None:
            return {"CANCELLED"}
        self._ctl = ctl
        controller.ACTIVE = ctl
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_INTERVAL, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        ctl = self._ctl
        if ctl.state == "running":
            if event.type == "ESC" and event.value == "PRESS":
                ctl.cancel(context)
            elif event.type == "TIMER":
                ctl.step(context)
                context.window_manager.progress_update(int(ctl.progress * 100))
                self._fast_ticks(context, ctl.importing and ctl.state == "running")
        if ctl.state == "running":
            return {"PASS_THROUGH"}
        return self._end(context)

    def _fast_ticks(self, context, on):
        wm = context.window_manager
        if on and self._fast_timer is None:
            self._fast_timer = wm.event_timer_add(IMPORT_INTERVAL, window=context.window)
        elif not on and self._fast_timer is not None:
            wm.event_timer_remove(self._fast_timer)
            self._fast_timer = None

    def cancel(self, context):
        """Blender ends the modal itself (file load, window closed): stop the job, clean up."""
        if self._ctl is not None:
            self._ctl.cancel()
        self._stop_timer(context)
        if controller.ACTIVE is self._ctl:
            controller.ACTIVE = None

    def _stop_timer(self, context):
        wm = context.window_manager
        self._fast_ticks(context, False)
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()

    def _end(self, context):
        self._stop_timer(context)
        ctl = self._ctl
        ctl._update_ui(context)
        if controller.ACTIVE is ctl:
            controller.ACTIVE = None
        # FINISHED (with the UNDO flag) pushes one undo step holding every imported object.
        return _report_result(self, ctl)


class S3D_OT_cancel(bpy.types.Operator):
    """Stop the running Generate"""

    bl_idname = "s3d.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        ctl = controller.ACTIVE
        if ctl is None or ctl.state != "running":
            return {"CANCELLED"}
        ctl.cancel(context)
        return {"FINISHED"}


class S3D_OT_show_image(bpy.types.Operator):
    """Show one of the engine's images (predicted mask, front render) in an Image Editor"""

    bl_idname = "s3d.show_image"
    bl_label = "Show Image"

    image: StringProperty()

    def execute(self, context):
        img = bpy.data.images.get(self.image)
        if img is None:
            self.report({"WARNING"}, f"S3D: image {self.image!r} not found")
            return {"CANCELLED"}
        screen = context.screen
        area = None
        if screen is not None:
            area = next((a for a in screen.areas if a.type == "IMAGE_EDITOR"), None)
        if area is None:  # open a new window rather than change the user's layout
            bpy.ops.wm.window_new()
            area = context.window_manager.windows[-1].screen.areas[0]
            area.type = "IMAGE_EDITOR"
        area.spaces.active.image = img
        return {"FINISHED"}


def set_clipboard(window_manager, text: str) -> None:
    """Blender's clipboard (it stays empty in background mode, where there is no window system)."""
    window_manager.clipboard = text


class S3D_OT_copy_error(bpy.types.Operator):
    """Copy the full text of the last error to the clipboard"""

    bl_idname = "s3d.copy_error"
    bl_label = "Copy Error"

    @classmethod
    def poll(cls, context):
        state = getattr(context.window_manager, "s3d_state", None)
        return state is not None and bool(state.last_error)

    def execute(self, context):
        text = context.window_manager.s3d_state.last_error
        set_clipboard(context.window_manager, text)
        self.report({"INFO"}, f"S3D: error copied ({len(text)} characters)")
        return {"FINISHED"}


CLASSES = (S3D_OT_generate, S3D_OT_cancel, S3D_OT_show_image, S3D_OT_copy_error)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
