"""End-to-end check in a real Blender window (what background mode cannot run): the modal
operator in Blender's own event loop, capture through the viewport, Esc to cancel, and Undo.

    S3D_ENGINE_PYTHON=.venv/bin/python xvfb-run -a -s "-screen 0 1280x800x24" \
        blender --factory-startup --enable-event-simulate -P blender_addon/tools/gui_check.py

Prints "GUI CHECK PASS" or "GUI CHECK FAIL: ..." and quits. The engine weights come from
$S3D_WEIGHTS (tests use the fake pipeline, which is quick and can be slowed down on purpose).
"""
import math
import os
import sys
import time
import traceback

import bpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import s3d  # noqa: E402
from s3d import controller  # noqa: E402

BASE_WEIGHTS = os.environ.get("S3D_WEIGHTS", "fake:{domain}")
st = {"phase": "setup", "log": []}


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    st["log"].append(f"ok: {msg}")
    print(f"ok: {msg}", flush=True)


def ctx_override():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return {"window": win, "screen": win.screen, "area": area, "region": region}


def make_sketch():
    v3 = bpy.app.version >= (4, 3, 0)
    data = getattr(bpy.data, "grease_pencils_v3", None) if v3 else None
    data = data if data is not None else bpy.data.grease_pencils
    gpd = data.new("Sketch")
    obj = bpy.data.objects.new("Sketch", gpd)
    bpy.context.scene.collection.objects.link(obj)
    mat = bpy.data.materials.new("ink")
    bpy.data.materials.create_gpencil_data(mat)
    gpd.materials.append(mat)
    layer = gpd.layers.new("L")
    pts = [(0.5 * math.cos(2 * math.pi * t / 24), 0.0, 0.6 * math.sin(2 * math.pi * t / 24)) for t in range(25)]
    if v3:
        d = layer.frames.new(1).drawing
        d.add_strokes([len(pts)])
        for p, co in zip(d.strokes[0].points, pts):
            p.position, p.radius = co, 0.01
    else:
        st_ = layer.frames.new(1).strokes.new()
        st_.display_mode = "3DSPACE"
        st_.points.add(len(pts))
        for p, co in zip(st_.points, pts):
            p.co = co
    for o in bpy.context.scene.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    return obj


def invoke(weights):
    os.environ["S3D_WEIGHTS"] = weights
    with bpy.context.temp_override(**ctx_override()):
        ret = bpy.ops.s3d.generate("INVOKE_DEFAULT")
    return ret, controller.ACTIVE


def step():
    ph = st["phase"]
    if ph == "setup":
        make_sketch()
        cube = bpy.data.objects.get("Cube")
        st["cube"] = (tuple(cube.location), cube.select_get(), cube.data.name) if cube else None
        with bpy.context.temp_override(**ctx_override()):
            bpy.ops.view3d.view_axis(type="FRONT")
            bpy.ops.ed.undo_push(message="Draw sketch")  # what drawing by hand leaves on the undo stack
        ret, ctl = invoke(BASE_WEIGHTS)
        check(ret == {"RUNNING_MODAL"}, f"Generate runs as a modal operator ({ret})")
        st["ctl"], st["t0"], st["phase"] = ctl, time.monotonic(), "wait1"
        return 0.05
    if ph == "wait1":
        ctl = st["ctl"]
        if ctl.state == "running":
            if time.monotonic() - st["t0"] > 120:
                raise AssertionError("Generate did not finish within 120 s")
            return 0.05
        check(ctl.state == "finished", f"Generate finished ({ctl.state} {ctl.errors})")
        check(ctl.sketch.view == "viewport", "the sketch was projected through the 3D viewport")
        check("Sketch_s3d" in bpy.data.objects, "the mesh is in the scene")
        cube = bpy.data.objects.get("Cube")
        if st["cube"] is not None:
            check((tuple(cube.location), cube.select_get(), cube.data.name) == st["cube"], "other objects are untouched")
        st["phase"] = "undo"
        return 0.5
    if ph == "undo":
        with bpy.context.temp_override(**ctx_override()):
            bpy.ops.ed.undo()
        check("Sketch_s3d" not in bpy.data.objects, "Undo removes the generated mesh")
        check("Sketch" in bpy.data.objects, "Undo keeps the sketch")
        check(not bpy.data.meshes.get("Sketch_s3d") or bpy.data.meshes["Sketch_s3d"].users == 0, "Undo removes its mesh")
        obj = bpy.data.objects["Sketch"]
        bpy.context.view_layer.objects.active = obj
        ret, ctl = invoke(BASE_WEIGHTS + ":slow=1.5")
        st["ctl"], st["t0"], st["phase"] = ctl, time.monotonic(), "esc"
        return 0.8
    if ph == "esc":
        win = bpy.context.window_manager.windows[0]
        win.event_simulate(type="ESC", value="PRESS")
        win.event_simulate(type="ESC", value="RELEASE")
        st["phase"] = "wait2"
        return 0.3
    if ph == "wait2":
        ctl = st["ctl"]
        if ctl.state == "running" and time.monotonic() - st["t0"] < 10:
            return 0.05
        check(ctl.state == "cancelled", f"Esc cancels the job ({ctl.state})")
        check("Sketch_s3d" not in bpy.data.objects, "a cancelled job imports nothing")
        check(bpy.context.window_manager.s3d_state.status == "cancelled", "the panel says cancelled")
        print("GUI CHECK PASS", flush=True)
        s3d.unregister()
        bpy.ops.wm.quit_blender()
    return None


def safe_step():
    try:
        return step()
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        print(f"GUI CHECK FAIL: {exc}", flush=True)
        try:
            s3d.unregister()
        finally:
            bpy.ops.wm.quit_blender()
        return None


bpy.context.preferences.view.show_splash = False
s3d.register()
bpy.app.timers.register(safe_step, first_interval=2.0)
