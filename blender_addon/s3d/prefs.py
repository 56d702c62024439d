"""Add-on preferences: the engine's Python (auto-detected, with a Check button), weights, device."""
from __future__ import annotations

import os
import time
from typing import Any, Optional

import bpy
from bpy.props import EnumProperty, StringProperty

from .core import detect, domains, worker_link

ADDON_ID = __package__  # "s3d" as a legacy add-on, "bl_ext.<repo>.s3d" as an extension


def get_prefs(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


def format_info(info: dict) -> str:
    lines = [f"Engine {info.get('version', '?')} (Python {info.get('python_version', '?')}, torch {info.get('torch', '?')})",
             f"Device: {info.get('device', '?')}"]
    found = info.get("weights_found") or []
    names = [f.replace("\\", "/").rsplit("/", 1)[-1] for f in found]
    lines.append("Weights found: " + (", ".join(names) if names else "none (random:<size>:<domain> still works)"))
    pipe = info.get("pipeline")
    if pipe:
        lines.append(f"Loaded: {pipe.get('weights', '?')} ({pipe.get('domain', '?')}, {pipe.get('config', '?')}) "
                     f"on {pipe.get('device', '?')}")
    return "\n".join(lines)


class S3DPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    engine_python: StringProperty(
        name="Engine Python", subtype="FILE_PATH",
        description="Python interpreter of the S3D engine environment (the one with torch and s3d_engine)",
        default="")
    engine_root: StringProperty(
        name="Engine Folder", subtype="DIR_PATH",
        description="Optional: folder holding s3d_engine/, if the engine is not pip-installed in that Python",
        default="")
    weights: StringProperty(
        name="Weights",
        description="Weights name or .safetensors path; {domain} becomes face or cat (e.g. random:tiny:{domain})",
        default="{domain}")
    device: EnumProperty(name="Device", items=[("auto", "Auto", "CUDA when available, else CPU"),
                                               ("cpu", "CPU", ""), ("cuda", "CUDA", "")], default="auto")
    check_result: StringProperty(default="")

    def draw(self, context):
        layout = self.layout
        row = layout.row(align=True)
        row.prop(self, "engine_python")
        row.operator("s3d.detect_engine", text="", icon="VIEWZOOM")
        if not self.engine_python:
            guess = worker_link.resolve_settings().python
            layout.label(text=f"Using: {guess}" if guess else "Not set: press the magnifier to detect it",
                         icon="INFO" if guess else "ERROR")
        layout.prop(self, "engine_root")
        layout.prop(self, "weights")
        layout.prop(self, "device")
        row = layout.row()
        row.operator("s3d.check_engine", icon="CHECKMARK")
        row.operator("s3d.restart_worker", icon="FILE_REFRESH")
        if self.check_result:
            box = layout.box()
            for line in self.check_result.split("\n"):
                box.label(text=line)


class S3D_OT_detect_engine(bpy.types.Operator):
    """Look for a Python that can run the S3D engine"""

    bl_idname = "s3d.detect_engine"
    bl_label = "Detect Engine Python"

    def execute(self, context):
        python = detect.detect()
        prefs = get_prefs(context)
        if python is None:
            self.report({"WARNING"}, "No Python with s3d_engine found; install the engine and set its interpreter")
            return {"CANCELLED"}
        if prefs is not None:
            prefs.engine_python = python
        self.report({"INFO"}, f"Engine Python: {python}")
        return {"FINISHED"}


class S3D_OT_check_engine(bpy.types.Operator):
    """Start the engine worker and report its version, device and weights"""

    bl_idname = "s3d.check_engine"
    bl_label = "Check"

    _timer = None
    _req = None
    _client = None
    _t0 = 0.0

    def _submit(self, context):
        settings = settings_from_context(context)
        self._client = worker_link.get_client(settings)
        domain = context.scene.s3d.domain.lower() if hasattr(context.scene, "s3d") else "face"
        self._req = self._client.submit("info", weights=settings.weights_for(domain), device=settings.device)
        self._t0 = time.monotonic()

    def _finish(self, context):
        prefs = get_prefs(context)
        req = self._req
        if req.state == "done":
            worker_link.remember_info(req.event.get("info", {}))  # the panel greys out domains without weights
            text = format_info(req.event.get("info", {}))
            level, code = {"INFO"}, {"FINISHED"}
        else:
            text = f"Engine check failed: {req.error or req.state}"
            level, code = {"ERROR"}, {"CANCELLED"}
        if prefs is not None:
            prefs.check_result = text
        self.report(level, text.replace("\n", "; "))
        return code

    def execute(self, context):
        try:
            self._submit(context)
            self._client.wait(self._req, timeout=600)
        except Exception as exc:  # noqa: BLE001 - readable report instead of a traceback
            self.report({"ERROR"}, f"Engine check failed: {exc}")
            return {"CANCELLED"}
        return self._finish(context)

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        try:
            self._submit(context)
        except Exception as exc:  # noqa: BLE001
            self.report({"ERROR"}, f"Engine check failed: {exc}")
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        prefs = get_prefs(context)
        if prefs is not None:
            prefs.check_result = "Checking (starting the engine and loading the weights)..."
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self._client.cancel(self._req)
        if event.type != "TIMER" and event.type != "ESC":
            return {"PASS_THROUGH"}
        self._client.poll()
        if not self._req.finished:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return self._finish(context)


class S3D_OT_restart_worker(bpy.types.Operator):
    """Stop the engine worker; the next Generate starts a fresh one"""

    bl_idname = "s3d.restart_worker"
    bl_label = "Restart Engine"

    def execute(self, context):
        worker_link.shutdown()
        self.report({"INFO"}, "Engine worker stopped; it restarts on the next Generate")
        return {"FINISHED"}


CLASSES = (S3DPreferences, S3D_OT_detect_engine, S3D_OT_check_engine, S3D_OT_restart_worker)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    prefs = get_prefs()
    if prefs is not None and not prefs.engine_python:
        guess = detect.quick_guess()
        if guess:
            prefs.engine_python = guess


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)


def weights_template(context: Any) -> str:
    """The weights setting ("{domain}" by default), without resolving the interpreter."""
    prefs = get_prefs(context)
    return (prefs.weights if prefs is not None else "") or os.environ.get("S3D_WEIGHTS", "") or "{domain}"


def domain_reasons(context: Any) -> dict[str, Optional[str]]:
    """{domain: why it has no weights, or None}: cheap, from the last Check only (never starts the worker)."""
    return domains.availability(weights_template(context), worker_link.known_weights())


def settings_from_context(context: Any) -> worker_link.EngineSettings:
    prefs = get_prefs(context)
    if prefs is None:
        return worker_link.resolve_settings()
    return worker_link.resolve_settings(prefs.engine_python, prefs.weights, prefs.device, prefs.engine_root)
