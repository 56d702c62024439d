"""Headless batch (`blender -b -P batch.py -- IN OUT ...`), run through the bpy wheel.

The batch script runs in a subprocess exactly as Blender's -P runs it (as __main__, outside the
package), so exit codes and resume are tested for real. A test with Debian's `blender` binary
runs when one is on PATH.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ADDON_PARENT, REAL_WEIGHTS, ROOT, add_front_camera, face_sketch_pixels, make_gp_object, write_png

bpy = pytest.importorskip("bpy")
BATCH = str(ADDON_PARENT / "s3d" / "batch.py")


def run_batch(args, env_extra=None, timeout=600):
    code = ("import runpy, sys; sys.argv = ['blender', '--'] + sys.argv[1:]; "
            f"runpy.run_path({BATCH!r}, run_name='__main__')")
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def inputs(tmp_path, clean_scene):
    d = tmp_path / "in"
    d.mkdir()
    write_png(d / "alice.png", face_sketch_pixels(128, 0))
    write_png(d / "bob.png", face_sketch_pixels(128, 2))
    make_gp_object(bpy, "Left")
    make_gp_object(bpy, "Right", location=(3.0, 0.0, 0.0))
    add_front_camera(bpy)
    bpy.ops.wm.save_as_mainfile(filepath=str(d / "drawings.blend"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return d


def summary(out):
    with open(out / "s3d_batch.json") as fh:
        return json.load(fh)


def test_batch_converts_resumes_and_saves_one_blend(inputs, tmp_path, real_worker_env):
    out = tmp_path / "out"
    (inputs / "broken.png").write_bytes(b"this is not an image")
    args = [str(inputs), str(out), "--weights", REAL_WEIGHTS, "--device", "cpu", "--resolution", "40", "--no-smooth",
            "--save-blend"]
    r = run_batch(args)
    assert r.returncode == 1, r.stdout + r.stderr  # one broken image
    s = summary(out)
    assert sorted(s["done"]) == ["alice", "bob", "drawings__Left", "drawings__Right"]
    assert list(s["failed"]) == ["broken"] and "cannot read sketch image" in s["failed"]["broken"]
    assert "(1/5)" in r.stdout and "FAILED" in r.stdout
    for name in s["done"]:
        assert (out / name / "mesh.ply").is_file() and (out / name / "s3d_item.json").is_file()
    # the results .blend holds every result as a labelled mesh
    bpy.ops.wm.open_mainfile(filepath=str(out / "s3d_results.blend"))
    meshes = sorted(o.name for o in bpy.data.objects if o.type == "MESH")
    assert meshes == ["alice", "bob", "drawings__Left", "drawings__Right"]
    assert all(len(bpy.data.objects[n].data.materials) >= 1 for n in meshes)
    bpy.ops.wm.read_factory_settings(use_empty=True)

    # second run: everything done is skipped; the broken image still fails
    os.remove(inputs / "broken.png")
    shutil.rmtree(out / "bob")
    r = run_batch(args)
    assert r.returncode == 0, r.stdout + r.stderr
    s = summary(out)
    assert s["done"] == ["bob"] and sorted(s["skipped"]) == ["alice", "drawings__Left", "drawings__Right"]
    assert "already done, skipped" in r.stdout


def test_batch_variations_and_extra_blend(inputs, tmp_path, fake_worker_env):
    out = tmp_path / "out"
    blend = inputs / "drawings.blend"
    only_images = tmp_path / "imgs"
    only_images.mkdir()
    shutil.copy(inputs / "alice.png", only_images)
    r = run_batch([str(only_images), str(out), "--blend", str(blend), "--variations", "2", "--seed", "5",
                   "--domain", "cat", "--vertex-groups"])
    assert r.returncode == 0, r.stdout + r.stderr
    s = summary(out)
    assert s["done"] == ["alice_seed5", "alice_seed6", "drawings__Left_seed5", "drawings__Left_seed6",
                         "drawings__Right_seed5", "drawings__Right_seed6"]
    marker = json.loads((out / "alice_seed6" / "s3d_item.json").read_text())
    assert marker["item"]["seed"] == 6 and marker["domain"] == "cat"


def test_batch_failures_exit_non_zero(tmp_path, fake_worker_env):
    r = run_batch([str(tmp_path / "missing"), str(tmp_path / "out")])
    assert r.returncode == 2 and "input not found" in r.stdout
    d = tmp_path / "in"
    d.mkdir()
    write_png(d / "a.png", face_sketch_pixels(64))
    r = run_batch([str(d), str(tmp_path / "out"), "--python", "/no/such/python"])
    assert r.returncode == 2 and "engine Python not found" in r.stdout


@pytest.mark.parametrize("python", ["/no/such/python", "/usr/bin/env"])
def test_batch_checks_the_engine_once_before_any_item(tmp_path, fake_worker_env, python):
    """A missing interpreter, or one without the engine: one line naming --python, exit 2, and no
    item touched (no failure record for the first image)."""
    d = tmp_path / "in"
    d.mkdir()
    write_png(d / "a.png", face_sketch_pixels(64))
    write_png(d / "b.png", face_sketch_pixels(64, 1))
    out = tmp_path / "out"
    r = run_batch([str(d), str(out), "--python", python])
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [line for line in r.stdout.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "--python" in errors[0] and "add-on preferences" not in errors[0]
    assert "(1/2)" not in r.stdout
    assert not (out / "a").exists() and not (out / "b").exists() and not (out / "s3d_batch.json").exists()
    r = run_batch([str(d), str(tmp_path / "out2")], {"S3D_WEIGHTS": "fake:{domain}:crash"})
    assert r.returncode == 1 and "stopped unexpectedly" in r.stdout
    r = run_batch(["--help"])
    assert r.returncode == 0 and "IN_DIR" not in r.stderr


@pytest.mark.skipif(shutil.which("blender") is None, reason="no blender binary on PATH")
def test_real_blender_binary_batch(tmp_path, engine_py, clean_scene):
    """`blender -b -P batch.py -- ...` with a real Blender binary (Debian's 3.4 in practice)."""
    d = tmp_path / "in"
    d.mkdir()
    write_png(d / "a.png", face_sketch_pixels(128))
    out = tmp_path / "out"
    env = dict(os.environ, S3D_ENGINE_PYTHON=engine_py, S3D_ENGINE_ROOT=str(ROOT), S3D_WEIGHTS=REAL_WEIGHTS,
               S3D_DEVICE="cpu")
    env.pop("S3D_WORKER_PIPELINE", None)
    r = subprocess.run(["blender", "-b", "--factory-startup", "--python-exit-code", "1", "-P", BATCH, "--", str(d),
                        str(out), "--resolution", "40", "--save-blend"], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (out / "a" / "mesh.ply").is_file() and (out / "s3d_results.blend").is_file()
