"""A real Blender window (Debian's blender under Xvfb, when installed): the modal operator in
Blender's own event loop, capture through the viewport, Esc to cancel, and Undo.
Runs blender_addon/tools/gui_check.py; skipped where `blender` or `xvfb-run` is missing, and in
the bpy wheel venvs (it needs no bpy module, so once is enough)."""
import importlib.util
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import ADDON_PARENT, FAKE_PIPELINE, HERE, ROOT

pytestmark = [
    pytest.mark.skipif(shutil.which("blender") is None or shutil.which("xvfb-run") is None,
                       reason="needs Debian's blender and xvfb-run"),
    pytest.mark.skipif(importlib.util.find_spec("bpy") is not None, reason="run once, outside the bpy venvs"),
]


def test_modal_generate_cancel_and_undo_in_a_real_window(engine_py):
    env = dict(os.environ, HOME=tempfile.mkdtemp(), S3D_ENGINE_PYTHON=engine_py, S3D_ENGINE_ROOT=str(ROOT),
               S3D_WORKER_PIPELINE=FAKE_PIPELINE, S3D_WEIGHTS="fake:{domain}",
               PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "blender", "--factory-startup", "--enable-event-simulate",
           "-P", str(ADDON_PARENT / "tools" / "gui_check.py")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    out = r.stdout + r.stderr
    assert "GUI CHECK PASS" in out, out[-4000:]
