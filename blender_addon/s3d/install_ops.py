"""Blender glue for "Install engine" (the work is in core/installer.py) and "Add Weights File".

Where things live: the extension's user folder (`bpy.utils.extension_path_user`, Blender 4.2+),
or `<config>/s3d` for a legacy add-on:

    engine/          the private venv with torch and s3d_engine (core.installer.MANIFEST inside)
    install.log      the last install's full output
    weights/         .safetensors files the user added (the worker gets it as S3D_WEIGHTS_DIR)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import bpy
from bpy.props import StringProperty

from .core import installer, weights_files, worker_link

_job: Optional[installer.InstallJob] = None


def user_folder() -> Path:
    package = __package__ or "s3d"
    if package.startswith("bl_ext.") and hasattr(bpy.utils, "extension_path_user"):
        return Path(bpy.utils.extension_path_user(package, path="", create=True))
    return Path(bpy.utils.user_resource("CONFIG", path="s3d", create=True))


def engine_folder() -> Path:
    return user_folder() / "engine"


def log_path() -> Path:
    return user_folder() / "install.log"


def user_weights_folder(create: bool = False) -> Path:
    folder = user_folder() / "weights"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def bundled_wheel() -> Optional[Path]:
    """The engine wheel shipped inside the add-on zip (build_addon.py), if any."""
    wheels = sorted((Path(__file__).resolve().parent / "engine").glob("s3d_engine-*.whl"))
    return wheels[-1] if wheels else None


def installed_manifest() -> Optional[dict]:
    return installer.installed(engine_folder())


def installed_python() -> str:
    return str(installer.venv_python(engine_folder())) if installed_manifest() else ""


def current_job() -> Optional[installer.InstallJob]:
    return _job


def make_plan(prefs) -> installer.InstallPlan:
    """The install plan from the preferences; ValueError with a readable reason when it cannot run."""
    base = installer.base_python()
    if base is None:
        raise ValueError("no Python interpreter found to create the engine's environment; "
                         "use 'Use an existing Python' below")
    wheel = bundled_wheel()
    wheels_dir = bpy.path.abspath(prefs.install_wheels_dir).strip() if prefs.install_offline else ""
    if prefs.install_offline and not (wheels_dir and os.path.isdir(wheels_dir)):
        raise ValueError("'Install from a folder of wheels' is on, but the folder is not set or does not exist")
    return installer.InstallPlan(
        base_python=base, folder=engine_folder(), engine_wheel=wheel, device=prefs.install_device.lower(),
        wheels_dir=Path(wheels_dir) if wheels_dir else None,
        torch_requirement=prefs.torch_requirement.strip() or "torch>=2.1",
        use_pytorch_index=prefs.use_pytorch_index)


def _redraw(context) -> None:
    wm = context.window_manager
    for window in wm.windows:
        for area in window.screen.areas:
            area.tag_redraw()


def _finished(op, context, job: installer.InstallJob) -> set:
    if job.state == "done":
        worker_link.shutdown()  # the next Generate starts the new engine
        prefs = _prefs(context)
        if prefs is not None:
            prefs.check_result = job.message
        op.report({"INFO"}, job.message)
        return {"FINISHED"}
    op.report({"WARNING"} if job.state == "cancelled" else {"ERROR"}, job.message)
    return {"CANCELLED"}


def _prefs(context):
    addon = context.preferences.addons.get(__package__)  # prefs.py draws this module's state: no import back
    return addon.preferences if addon is not None else None


class S3D_OT_install_engine(bpy.types.Operator):
    """Create a private Python environment with torch and the S3D engine (a download; see the size)"""

    bl_idname = "s3d.install_engine"
    bl_label = "Install Engine"

    _timer = None

    def _start(self, context) -> Optional[installer.InstallJob]:
        global _job
        if _job is not None and not _job.finished:
            self.report({"WARNING"}, "The engine is already being installed")
            return None
        prefs = _prefs(context)
        try:
            plan = make_plan(prefs)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return None
        _job = installer.InstallJob(plan, log_path())
        _job.start()
        return _job

    def execute(self, context):
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        if bpy.app.background or context.window is None:  # no event loop: run to the end
            job.wait()
            return _finished(self, context, job)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        prefs = _prefs(context)
        download, disk = installer.size_estimate(prefs.install_device.lower() if prefs else "cpu")
        message = (f"Downloads about {download:.2f} GB (about {disk:.1f} GB on disk) into "
                   f"{engine_folder()}. Blender stays usable meanwhile.")
        try:
            return context.window_manager.invoke_confirm(self, event, title="Install the S3D engine?",
                                                         message=message, confirm_text="Install")
        except TypeError:  # Blender < 4.1: no title/message arguments
            return context.window_manager.invoke_confirm(self, event)

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        _redraw(context)
        if not _job.finished:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return _finished(self, context, _job)


class S3D_OT_cancel_install(bpy.types.Operator):
    """Stop the engine install; the previous engine, if any, stays as it was"""

    bl_idname = "s3d.cancel_install"
    bl_label = "Cancel Install"

    def execute(self, context):
        if _job is not None and not _job.finished:
            _job.cancel()
        return {"FINISHED"}


class S3D_OT_open_install_log(bpy.types.Operator):
    """Open the last engine install's log file"""

    bl_idname = "s3d.open_install_log"
    bl_label = "Open Install Log"

    def execute(self, context):
        path = log_path()
        if not path.is_file():
            self.report({"WARNING"}, "No install log yet")
            return {"CANCELLED"}
        bpy.ops.wm.path_open(filepath=str(path))
        return {"FINISHED"}


class S3D_OT_add_weights(bpy.types.Operator):
    """Copy a .safetensors weights file (and its .json sidecar, if beside it) into the add-on's weights folder"""

    bl_idname = "s3d.add_weights"
    bl_label = "Add Weights File"

    filepath: StringProperty(subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.safetensors", options={"HIDDEN"})

    def execute(self, context):
        try:
            name = weights_files.add(Path(bpy.path.abspath(self.filepath)), user_weights_folder(create=True))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        worker_link.shutdown()  # the worker learns the folder on its next start
        self.report({"INFO"}, f"Added weights '{name}': use it as the Weights name in these preferences")
        return {"FINISHED"}

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}


CLASSES = (S3D_OT_install_engine, S3D_OT_cancel_install, S3D_OT_open_install_log, S3D_OT_add_weights)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    if _job is not None and not _job.finished:
        _job.cancel()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
