"""A new user's first run, inside real Blender (bpy wheel), with a fresh HOME: install the add-on
zip as an extension, press Install Engine, then Generate on a face sketch. Run by
test_bpy_install.py in a subprocess; prints one JSON line with what it saw.

    python scenario_install.py <zip> <torch requirement> [--no-generate]
"""
import json
import os
import sys
import time

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import face_strokes_3d, make_gp_object  # noqa: E402

zip_path, torch_requirement = sys.argv[1], sys.argv[2]
out = {"home": os.environ.get("HOME")}
bpy.ops.wm.read_factory_settings(use_empty=True)
assert bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                enable_on_install=True) == {"FINISHED"}
module = "bl_ext.user_default.s3d"
prefs = bpy.context.preferences.addons[module].preferences
out["engine_python_before"] = prefs.engine_python
prefs.torch_requirement = torch_requirement
prefs.use_pytorch_index = False  # this machine's package index only
t0 = time.monotonic()
try:
    out["install"] = sorted(bpy.ops.s3d.install_engine())
except RuntimeError as exc:  # an operator that reports ERROR raises in background mode
    out["install"] = ["ERROR"]
    out["install_error"] = str(exc)
out["install_seconds"] = round(time.monotonic() - t0, 1)
out["check_result"] = prefs.check_result
mod = sys.modules[module]
out["user_folder"] = str(mod.install_ops.user_folder())
out["manifest"] = mod.install_ops.installed_manifest()
out["settings_python"] = mod.prefs.settings_from_context(bpy.context).python
if out["manifest"] and "--no-generate" not in sys.argv:
    make_gp_object(bpy, "Face", face_strokes_3d(scale=2.0))
    scene = bpy.context.scene
    scene.s3d.mesh_resolution = 48
    t1 = time.monotonic()
    out["generate"] = sorted(bpy.ops.s3d.generate())
    out["generate_seconds"] = round(time.monotonic() - t1, 1)
    obj = bpy.data.objects.get("Face_s3d")
    if obj is not None:
        me = obj.data
        out["mesh"] = {"vertices": len(me.vertices), "faces": len(me.polygons),
                       "labelled": "s3d_label" in me.attributes, "coloured": "Col" in me.color_attributes}
mod.core.worker_link.shutdown()
bpy.ops.preferences.addon_disable(module=module)
print("SCENARIO " + json.dumps(out), flush=True)
