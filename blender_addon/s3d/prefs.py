"""Add-on preferences: Install engine (a private venv, see install_ops), or an existing Python
(auto-detected, with a Check button); weights (add your own file); device."""
from __future__ import annotations

import os
import time
from typing import Any, Optional

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import install_ops
from .core import detect, domains, installer, messages, worker_link

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
                                               ("cpu", "CPU", ""), ("cuda", "CUDA", ""),
                                               ("mps", "Apple GPU (MPS)", "")], default="auto")
    check_result: StringProperty(default="")
    install_device: EnumProperty(
        name="Install For", description="Which torch build Install Engine fetches (recorded here)",
        items=[("CPU", "CPU", "Works everywhere; the smallest download"),
               ("CUDA", "CUDA (NVIDIA)", "The CUDA build of torch, for an NVIDIA GPU"),
               ("MPS", "Apple GPU (MPS)", "Apple silicon: torch's Metal backend")], default="CPU")
    install_offline: BoolProperty(
        name="Install from a folder of wheels",
        description="Offline machines: pip uses only the wheels in the folder below, never the network")
    install_wheels_dir: StringProperty(name="Wheels Folder", subtype="DIR_PATH", default="")
    torch_requirement: StringProperty(
        name="Torch Requirement", default="torch>=2.1",
        description="The pip requirement for torch (pin a version, e.g. torch==2.5.1, if you need one)")
    use_pytorch_index: BoolProperty(
        name="Use PyTorch's Index", default=True,
        description="CPU on Linux/Windows and CUDA on Windows: also look on download.pytorch.org for the "
                    "matching build (off: only pip's own settings, e.g. a company mirror)")

    def draw(self, context):
        layout = self.layout
        draw_install(self, layout.box())
        layout.label(text="Or use an existing Python (a checkout's .venv, a conda env):")
        row = layout.row(align=True)
        row.prop(self, "engine_python")
        row.operator("s3d.detect_engine", text="", icon="VIEWZOOM")
        if not self.engine_python:
            guess = settings_from_context(context).python
            layout.label(text=f"Using: {guess}" if guess else "Not set: press the magnifier to detect it",
                         icon="INFO" if guess else "ERROR")
        layout.prop(self, "engine_root")
        row = layout.row(align=True)
        row.prop(self, "weights")
        row.operator("s3d.add_weights", text="", icon="FILE_NEW")
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
            text = "No Python with s3d_engine found: press Install Engine above, or set the interpreter by hand"
            if prefs is not None:
                prefs.check_result = text  # shown in the Preferences window itself
            self.report({"WARNING"}, text)
            return {"CANCELLED"}
        if prefs is not None:
            prefs.engine_python = python
            prefs.check_result = f"Found the engine in {python}"
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
    installed = install_ops.installed_python()
    weights_dir = install_ops.user_weights_folder()
    weights_dir = str(weights_dir) if weights_dir.is_dir() else ""
    if prefs is None:
        return worker_link.resolve_settings(installed_python=installed, weights_dir=weights_dir)
    return worker_link.resolve_settings(prefs.engine_python, prefs.weights, prefs.device, prefs.engine_root,
                                        installed_python=installed, weights_dir=weights_dir)


def draw_install(prefs, box) -> None:
    """The Install Engine section: state of the private engine, the button, progress, options."""
    job = install_ops.current_job()
    manifest = install_ops.installed_manifest()
    box.label(text="S3D engine (torch runs in its own Python, never inside Blender)", icon="PREFERENCES")
    if job is not None and not job.finished:
        if hasattr(box, "progress"):
            box.progress(factor=job.fraction, type="BAR", text=job.stage)
        else:
            box.label(text=f"{job.stage} ({job.fraction:.0%})")
        if job.detail:
            box.label(text=job.detail)
        row = box.row()
        row.operator("s3d.cancel_install", icon="CANCEL")
        row.operator("s3d.open_install_log", icon="TEXT")
        return
    if manifest:
        box.label(text=f"Installed: engine {manifest.get('engine')}, torch {manifest.get('torch')} "
                       f"({str(manifest.get('device', '?')).upper()})", icon="CHECKMARK")
    elif install_ops.bundled_wheel() is None:
        box.label(text="This add-on zip has no engine inside: it installs s3d-engine from the package index",
                  icon="INFO")
    if job is not None and job.state in ("failed", "cancelled"):
        col = box.column(align=True)
        col.alert = job.state == "failed"
        for line in messages.wrap(job.message, 90):
            col.label(text=line)
    row = box.row(align=True)
    row.prop(prefs, "install_device")
    device = prefs.install_device.lower()
    download, disk = installer.size_estimate(device)
    row.label(text=f"~{download:.2f} GB download, ~{disk:.1f} GB on disk")
    found = installer.available_devices()
    if device not in found:
        box.label(text=f"{prefs.install_device} was not detected on this machine (found: "
                       f"{', '.join(d.upper() for d in found)})", icon="ERROR")
    row = box.row()
    row.scale_y = 1.4
    row.operator("s3d.install_engine", text="Reinstall Engine" if manifest else "Install Engine", icon="IMPORT")
    row.operator("s3d.open_install_log", text="", icon="TEXT")
    col = box.column(align=True)
    col.prop(prefs, "install_offline")
    if prefs.install_offline:
        col.prop(prefs, "install_wheels_dir")
    col.prop(prefs, "torch_requirement")
    col.prop(prefs, "use_pytorch_index")

