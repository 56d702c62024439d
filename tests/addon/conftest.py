"""Shared fixtures for the add-on tests.

Pure-Python tests run in any venv (the engine's, or a bpy wheel venv). Tests that need Blender
use the `bpy_mod`/`addon` fixtures, which skip cleanly where `import bpy` fails. The worker
always runs in the engine's Python: $S3D_ENGINE_PYTHON, else <repo>/.venv/bin/python, else the
current interpreter if it has torch.
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADDON_PARENT = ROOT / "blender_addon"
HERE = Path(__file__).resolve().parent
for p in (str(ADDON_PARENT), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

REAL_WEIGHTS = "random:tiny:{domain}"
FAKE_PIPELINE = "fake_pipeline:FakePipeline"


def engine_python() -> str | None:
    env = os.environ.get("S3D_ENGINE_PYTHON")
    if env and os.path.isfile(env):
        return env
    venv = ROOT / ".venv" / "bin" / "python"
    if venv.is_file():
        return str(venv)
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return None


def real_pipeline_available() -> bool:
    return (ROOT / "s3d_engine" / "pipeline.py").is_file() and engine_python() is not None


@pytest.fixture(scope="session")
def engine_py() -> str:
    py = engine_python()
    if py is None:
        pytest.skip("no engine Python (set S3D_ENGINE_PYTHON)")
    return py


@pytest.fixture
def fake_worker_env(monkeypatch, engine_py):
    """Environment in which a worker started by the add-on uses the fake pipeline."""
    monkeypatch.setenv("S3D_ENGINE_PYTHON", engine_py)
    monkeypatch.setenv("S3D_ENGINE_ROOT", str(ROOT))
    monkeypatch.setenv("S3D_WORKER_PIPELINE", FAKE_PIPELINE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("S3D_WEIGHTS", "fake:{domain}")
    monkeypatch.setenv("S3D_DEVICE", "cpu")
    yield
    from s3d.core import worker_link

    worker_link.shutdown()


@pytest.fixture
def real_worker_env(monkeypatch, engine_py):
    """Environment in which the worker runs the real S3DPipeline with small random weights."""
    if not real_pipeline_available():
        pytest.skip("s3d_engine.pipeline is not available")
    monkeypatch.setenv("S3D_ENGINE_PYTHON", engine_py)
    monkeypatch.setenv("S3D_ENGINE_ROOT", str(ROOT))
    monkeypatch.delenv("S3D_WORKER_PIPELINE", raising=False)
    monkeypatch.setenv("S3D_WEIGHTS", REAL_WEIGHTS)
    monkeypatch.setenv("S3D_DEVICE", "cpu")
    yield
    from s3d.core import worker_link

    worker_link.shutdown()


def face_strokes_3d(scale: float = 1.0, y: float = 0.0):
    """A face outline, two eyes and a mouth in Blender's XZ plane (front view), as lists of xyz."""
    outline = [(0.5 * scale * math.cos(2 * math.pi * t / 24), y, 0.65 * scale * math.sin(2 * math.pi * t / 24))
               for t in range(25)]
    eye_l = [(-0.25 * scale, y, 0.15 * scale), (-0.1 * scale, y, 0.15 * scale)]
    eye_r = [(0.1 * scale, y, 0.15 * scale), (0.25 * scale, y, 0.15 * scale)]
    mouth = [(-0.2 * scale, y, -0.3 * scale), (0.0, y, -0.35 * scale), (0.2 * scale, y, -0.3 * scale)]
    return [outline, eye_l, eye_r, mouth]


# ---- bpy fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def bpy_mod():
    return pytest.importorskip("bpy")


@pytest.fixture
def clean_scene(bpy_mod):
    bpy_mod.ops.wm.read_factory_settings(use_empty=True)
    yield bpy_mod.context.scene


@pytest.fixture
def addon(clean_scene):
    """The add-on registered directly; ALWAYS unregistered in teardown (bpy 4.2 segfaults and
    4.5 hangs at exit when an Operator or Panel stays registered)."""
    import s3d

    s3d.register()
    try:
        yield s3d
    finally:
        s3d.unregister()


def make_gp_object(bpy, name="Sketch", strokes=None, location=(0.0, 0.0, 0.0), frame=1):
    """A Grease Pencil object with the given world strokes, in either GP API."""
    strokes = strokes if strokes is not None else face_strokes_3d()
    scene = bpy.context.scene
    v3 = bpy.app.version >= (4, 3, 0)
    # 4.3-4.5: bpy.data.grease_pencils_v3; 5.0: bpy.data.grease_pencils (an empty collection is falsy!)
    collection = getattr(bpy.data, "grease_pencils_v3", None) if v3 else None
    data = (collection if collection is not None else bpy.data.grease_pencils).new(name)
    obj = bpy.data.objects.new(name, data)
    obj.location = location
    scene.collection.objects.link(obj)
    mat = bpy.data.materials.new(f"{name} ink")
    bpy.data.materials.create_gpencil_data(mat)
    data.materials.append(mat)
    layer = data.layers.new("Lines")
    if v3:
        drawing = layer.frames.new(frame).drawing
        if strokes:  # add_strokes([]) segfaults in 5.0.1
            drawing.add_strokes([len(s) for s in strokes])
        for st, pts in zip(drawing.strokes, strokes):
            for p, co in zip(st.points, pts):
                p.position = co
                p.radius = 0.01
    else:
        fr = layer.frames.new(frame)
        for pts in strokes:
            st = fr.strokes.new()
            st.display_mode = "3DSPACE"
            st.points.add(len(pts))
            for p, co in zip(st.points, pts):
                p.co = co
                p.pressure = 1.0
    bpy.context.view_layer.objects.active = obj
    bpy.context.view_layer.update()  # refresh matrix_world
    return obj


def add_front_camera(bpy, distance=10.0):
    cam_data = bpy.data.cameras.new("Cam")
    cam = bpy.data.objects.new("Cam", cam_data)
    cam.location = (0.0, -distance, 0.0)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    bpy.context.view_layer.update()
    return cam


def face_sketch_pixels(size=128, variant=0):
    """A black-on-white face drawing as rows of grayscale bytes (no PIL needed)."""
    img = [[255] * size for _ in range(size)]

    def dot(x, y, r=1):
        for yy in range(int(y) - r, int(y) + r + 1):
            for xx in range(int(x) - r, int(x) + r + 1):
                if 0 <= xx < size and 0 <= yy < size:
                    img[yy][xx] = 0

    c = size / 2
    for t in range(400):
        a = 2 * math.pi * t / 400
        dot(c + 0.32 * size * math.cos(a), c + (0.40 + 0.02 * variant) * size * math.sin(a))
    for ex in (-0.13, 0.13):
        for t in range(60):
            a = 2 * math.pi * t / 60
            dot(c + ex * size + 0.05 * size * math.cos(a), c - 0.08 * size + 0.03 * size * math.sin(a))
    for t in range(80):
        dot(c - 0.12 * size + 0.24 * size * t / 80, c + 0.2 * size + 0.03 * size * math.sin(math.pi * t / 80))
    return img


def write_png(path, rows):
    """Minimal grayscale PNG writer (zlib + struct)."""
    import struct
    import zlib

    h, w = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(row) for row in rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    with open(path, "wb") as fh:
        fh.write(png)
