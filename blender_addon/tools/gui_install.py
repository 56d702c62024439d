"""A new user's first run in a real Blender window (Debian's blender 3.4 under Xvfb), with the
zip alone: install the add-on, press Install Engine (the real modal operator: pip runs while
Blender's event loop keeps drawing), shoot the preferences, then Generate on a face sketch.

    HOME=$(mktemp -d) xvfb-run -a -s "-screen 0 1600x900x24" blender --factory-startup \
        -P blender_addon/tools/gui_install.py -- dist/s3d-0.1.0.zip docs/img [torch requirement]

Prints "GUI INSTALL PASS {json}" or "GUI INSTALL FAIL: ..." and quits. Screenshots:
blender_install_running.png (during the install), blender_install_prefs.png (after it),
blender_install_generate.png (the mesh in the scene).
"""
import json
import os
import sys
import time
import traceback

import bpy

ARGS = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
ZIP = os.path.abspath(ARGS[0])
OUT = os.path.abspath(ARGS[1] if len(ARGS) > 1 else "docs/img")
TORCH = ARGS[2] if len(ARGS) > 2 else ""
os.makedirs(OUT, exist_ok=True)
st = {"phase": "install_addon", "t0": time.monotonic(), "out": {}}


def shoot(name, window=None):
    win = window or bpy.context.window_manager.windows[0]
    path = os.path.join(OUT, name)
    with bpy.context.temp_override(window=win, screen=win.screen, area=win.screen.areas[0]):
        bpy.ops.screen.screenshot(filepath=path)
    print(f"screenshot: {path}", flush=True)


def addon():
    return sys.modules["s3d"]


def prefs():
    return bpy.context.preferences.addons["s3d"].preferences


def show_prefs():
    """The Preferences window on the S3D add-on, expanded."""
    import addon_utils

    bpy.context.preferences.active_section = "ADDONS"
    bpy.context.window_manager.addon_search = "S3D"
    for mod in addon_utils.modules(refresh=False):  # the add-on list draws these module objects
        if mod.__name__ == "s3d":
            addon_utils.module_bl_info(mod)["show_expanded"] = True
    bpy.ops.screen.userpref_show()


def prefs_window():
    wins = bpy.context.window_manager.windows
    return next((w for w in wins if w.screen.areas[0].type == "PREFERENCES"), wins[-1])


def sketch():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sketch_strokes import add_sketch_object

    add_sketch_object(bpy)
    bpy.context.scene.s3d.mesh_resolution = 64


def view3d():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sketch_strokes import view3d_area

    return view3d_area(bpy)


def driver():
    ph = st["phase"]
    if ph == "install_addon":
        for obj in list(bpy.data.objects):
            bpy.data.objects.remove(obj)
        assert bpy.ops.preferences.addon_install(filepath=ZIP) == {"FINISHED"}
        assert bpy.ops.preferences.addon_enable(module="s3d") == {"FINISHED"}
        st["out"]["engine_python_before"] = prefs().engine_python
        if TORCH:
            prefs().torch_requirement = TORCH
            prefs().use_pytorch_index = False
        show_prefs()
        st["phase"] = "press_install"
        return 2.0
    if ph == "press_install":
        win = prefs_window()
        with bpy.context.temp_override(window=win, screen=win.screen, area=win.screen.areas[0]):
            bpy.ops.s3d.install_engine("EXEC_DEFAULT")  # what the confirm's Install button runs
        st["phase"], st["t_install"] = "installing", time.monotonic()
        return 1.0
    if ph == "installing":
        job = addon().install_ops.current_job()
        if job is None:
            raise AssertionError("Install Engine did not start a job")
        if not job.finished:
            if not st.get("running_shot") and job.fraction >= 0.05:
                st["running_shot"] = True
                shoot("blender_install_running.png", prefs_window())
            return 0.5
        st["out"].update(install=job.state, install_message=job.message,
                         install_seconds=round(time.monotonic() - st["t_install"], 1))
        if job.state != "done":
            raise AssertionError(f"install {job.state}: {job.message}")
        st["phase"] = "prefs_shot"
        return 1.5
    if ph == "prefs_shot":
        shoot("blender_install_prefs.png", prefs_window())
        st["out"]["manifest"] = addon().install_ops.installed_manifest()
        sketch()
        win, area, region = view3d()
        with bpy.context.temp_override(window=win, area=area, region=region):
            bpy.ops.view3d.view_axis(type="FRONT")  # drawn from the front, as a user would
            bpy.ops.view3d.view_all()
        st["phase"] = "generate"
        return 1.0  # the viewport redraws with its new view before Generate reads it
    if ph == "generate":
        win, area, region = view3d()
        with bpy.context.temp_override(window=win, area=area, region=region):
            bpy.ops.s3d.generate("INVOKE_DEFAULT")
        st["ctl"], st["t_gen"] = addon().controller.ACTIVE, time.monotonic()
        st["phase"] = "generating"
        return 0.5
    if ph == "generating":
        ctl = st["ctl"]
        if ctl.state == "running":
            return 0.25
        if ctl.state != "finished":
            raise AssertionError(f"Generate {ctl.state}: {ctl.errors}")
        obj = bpy.data.objects.get("Face sketch_s3d")
        if obj is None or "s3d_label" not in obj.data.attributes:
            raise AssertionError("no labelled mesh in the scene after Generate")
        st["out"].update(generate_seconds=round(time.monotonic() - st["t_gen"], 1),
                         vertices=len(obj.data.vertices))
        win, area, region = view3d()
        area.spaces.active.shading.color_type = "VERTEX"
        with bpy.context.temp_override(window=win, area=area, region=region):
            bpy.ops.view3d.view_all()
        st["phase"] = "final_shot"
        return 3.0
    if ph == "final_shot":
        shoot("blender_install_generate.png")
        addon().core.worker_link.shutdown()
        print("GUI INSTALL PASS " + json.dumps(st["out"]), flush=True)
        bpy.ops.wm.quit_blender()
    return None


def safe_driver():
    try:
        return driver()
    except Exception as exc:  # noqa: BLE001 - never leave a GUI Blender running
        traceback.print_exc()
        print(f"GUI INSTALL FAIL: {exc} {json.dumps(st['out'])}", flush=True)
        try:
            addon().core.worker_link.shutdown()
        except Exception:  # noqa: BLE001
            pass
        bpy.ops.wm.quit_blender()
        return None


bpy.context.preferences.view.show_splash = False
bpy.app.timers.register(safe_driver, first_interval=1.5)
