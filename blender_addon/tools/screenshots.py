"""Take the README/docs screenshots in a real Blender window (Debian's blender 3.4 under Xvfb):

    S3D_ENGINE_PYTHON=.venv/bin/python S3D_WEIGHTS=random:small:{domain} \
    xvfb-run -a -s "-screen 0 1600x900x24" blender --factory-startup --enable-event-simulate -P blender_addon/tools/screenshots.py -- docs/img

It draws a face sketch as a Grease Pencil object, opens the S3D sidebar, presses Generate (the
real modal operator and worker), shoots the window while the job runs and after the labelled
mesh is in, then quits. Everything is driven from timers, so Blender's own event loop runs.
"""
import os
import sys
import time

import bpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # blender_addon/ -> import s3d
sys.path.insert(0, HERE)

import s3d  # noqa: E402
from s3d import controller  # noqa: E402
from sketch_strokes import add_sketch_object, view3d_area  # noqa: E402

OUT = sys.argv[sys.argv.index("--") + 1] if "--" in sys.argv else "docs/img"
os.makedirs(OUT, exist_ok=True)
state = {"phase": "setup", "t": 0.0, "shots": []}


def window_area():
    return view3d_area(bpy)


def setup():
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    obj = add_sketch_object(bpy)
    obj.location = (-0.9, 0.0, 0.0)
    bpy.context.scene.cursor.location = (0.9, 0.0, 0.0)
    s = bpy.context.scene.s3d
    s.mesh_resolution = 128
    s.seed = 4
    win, area, region = window_area()
    space = area.spaces.active
    space.show_region_ui = True
    space.shading.type = "SOLID"
    space.shading.color_type = "VERTEX"
    space.shading.light = "STUDIO"
    space.overlay.show_floor = False
    space.overlay.show_axis_x = space.overlay.show_axis_y = False
    with bpy.context.temp_override(window=win, area=area, region=region):
        bpy.ops.view3d.view_axis(type="FRONT")
        bpy.ops.view3d.view_all()
    area.tag_redraw()


def show_s3d_tab():
    """Switch the sidebar to the S3D tab: Region.active_panel_category where it exists (4.x),
    else Ctrl+wheel over the sidebar (needs blender --enable-event-simulate)."""
    win, area, _ = window_area()
    ui = next(r for r in area.regions if r.type == "UI")
    try:
        ui.active_panel_category = "S3D"
        return
    except (AttributeError, TypeError):
        pass
    # Blender 3.4: click the tab. Tabs are drawn on the region's right edge, top to bottom:
    # Item, Tool, View, S3D; the S3D tab's centre sits about 158 px below the region's top
    # at UI scale 1 (measured on a 1600x900 window).
    scale = bpy.context.preferences.system.ui_scale
    x, y = ui.x + ui.width - int(11 * scale), ui.y + ui.height - int(158 * scale)
    print(f"sidebar {ui.x},{ui.y} {ui.width}x{ui.height}: clicking the S3D tab at {x},{y}", flush=True)
    win.event_simulate(type="MOUSEMOVE", value="NOTHING", x=x, y=y)
    win.event_simulate(type="LEFTMOUSE", value="PRESS", x=x, y=y)
    win.event_simulate(type="LEFTMOUSE", value="RELEASE", x=x, y=y)
    # widen the sidebar by dragging its left edge, so no label is cut
    ex, ey = ui.x + 1, ui.y + ui.height // 2
    win.event_simulate(type="MOUSEMOVE", value="NOTHING", x=ex, y=ey)
    win.event_simulate(type="LEFTMOUSE", value="PRESS", x=ex, y=ey)
    for k in range(1, 11):
        win.event_simulate(type="MOUSEMOVE", value="NOTHING", x=ex - 12 * k, y=ey)
    win.event_simulate(type="LEFTMOUSE", value="RELEASE", x=ex - 120, y=ey)


def shoot(name):
    win = bpy.context.window_manager.windows[0]
    path = os.path.abspath(os.path.join(OUT, name))
    with bpy.context.temp_override(window=win):
        bpy.ops.screen.screenshot(filepath=path)
    state["shots"].append(path)
    print(f"screenshot: {path}", flush=True)


def driver():
    ph = state["phase"]
    if ph == "setup":
        setup()
        state["phase"], state["t"] = "settle", time.monotonic()
        return 8.0  # let Blender compile shaders and render previews
    if ph == "settle":
        show_s3d_tab()
        state["phase"] = "sketch"
        return 1.0
    if ph == "sketch":
        shoot("blender_sketch.png")
        win, area, region = window_area()
        with bpy.context.temp_override(window=win, area=area, region=region):
            bpy.ops.s3d.generate("INVOKE_DEFAULT")
        state["ctl"] = controller.ACTIVE
        state["phase"] = "running"
        return 0.2
    if ph == "running":
        ctl = state["ctl"]
        if ctl.state == "running":
            if not state.get("progress_shot") and ctl.progress >= 0.25:
                state["progress_shot"] = True
                shoot("blender_progress.png")
            return 0.1
        if ctl.state != "finished":
            print("Generate failed:", ctl.errors, flush=True)
            bpy.ops.wm.quit_blender()
            return None
        win, area, region = window_area()
        with bpy.context.temp_override(window=win, area=area, region=region):
            bpy.ops.view3d.view_all()
        state["phase"] = "shoot"
        return 6.0
    if ph == "shoot":
        shoot("blender_panel.png")
        win, area, region = window_area()
        area.spaces.active.shading.color_type = "MATERIAL"  # parts: one material per part
        area.tag_redraw()
        state["phase"] = "parts"
        return 3.0
    if ph == "parts":
        shoot("blender_parts.png")
        s3d.unregister()
        bpy.ops.wm.quit_blender()
    return None


def safe_driver():
    try:
        return driver()
    except Exception:  # noqa: BLE001 - never leave a GUI Blender running
        import traceback

        traceback.print_exc()
        bpy.ops.wm.quit_blender()
        return None


bpy.context.preferences.view.show_splash = False
s3d.register()
bpy.app.timers.register(safe_driver, first_interval=1.5)
