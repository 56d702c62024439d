"""build_addon.py: the zip layout, and Blender's own validator when a bpy wheel venv has it."""
import ast
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))
import build_addon  # noqa: E402


def test_zip_layout(tmp_path):
    target = build_addon.build(tmp_path)
    assert target.name == f"s3d-{build_addon.manifest_version()}.zip"
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        init = zf.read("s3d/__init__.py").decode()
        manifest = zf.read("s3d/blender_manifest.toml").decode()
    assert all(n.startswith("s3d/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "s3d/batch.py" in names
    tree = ast.parse(init)
    assert any(isinstance(n, ast.Assign) and n.targets[0].id == "bl_info" for n in tree.body)
    assert 'id = "s3d"' in manifest
    # the package imports no bpy at top level, so its pure parts work anywhere
    top_imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any("bpy" in ast.dump(n) for n in top_imports)


def test_zip_is_reproducible(tmp_path):
    a = build_addon.build(tmp_path / "a").read_bytes()
    b = build_addon.build(tmp_path / "b").read_bytes()
    assert a == b


def test_versions_agree():
    assert build_addon.manifest_version() == build_addon.bl_info_version()


def test_blender_extension_validator(tmp_path):
    tool = build_addon.find_blender_ext()
    if tool is None:
        pytest.skip("no bpy wheel venv with blender_ext.py")
    target = build_addon.build(tmp_path)
    proc = subprocess.run([sys.executable, tool, "validate", str(target)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_engine_wheel_carries_the_engine_and_the_weights(tmp_path):
    import base64
    import hashlib

    wheel = build_addon.build_engine_wheel(tmp_path)
    assert wheel.name == "s3d_engine-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record = zf.read("s3d_engine-0.1.0.dist-info/RECORD").decode().splitlines()
        meta = zf.read("s3d_engine-0.1.0.dist-info/METADATA").decode()
        face = zf.read("s3d_engine/shipped_weights/face.safetensors")
        assert zf.read("s3d_engine-0.1.0.dist-info/entry_points.txt").decode() == \
            "[console_scripts]\ns3d = s3d_engine.cli:main\n"
        for line in record[:-1]:  # every entry's hash and size, recomputed here
            name, digest, size = line.rsplit(",", 2)
            data = zf.read(name)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
            assert digest == f"sha256={want}" and int(size) == len(data)
    assert record[-1] == "s3d_engine-0.1.0.dist-info/RECORD,,"
    assert len(record) == len(names)
    assert names[-1].endswith("RECORD") and names[0].startswith("s3d_engine/")
    assert face == (ROOT / "weights" / "face.safetensors").read_bytes()
    assert "s3d_engine/shipped_weights/cat.json" in names and "s3d_engine/pipeline.py" in names
    assert not any(n.startswith("training/") or "__pycache__" in n for n in names)
    assert "Name: s3d-engine\n" in meta and "Requires-Dist: torch>=2.1\n" in meta
    assert build_engine_twice_is_identical(tmp_path)


def build_engine_twice_is_identical(tmp_path):
    a = build_addon.build_engine_wheel(tmp_path / "a").read_bytes()
    return a == build_addon.build_engine_wheel(tmp_path / "b").read_bytes()


def test_zip_holds_the_wheel_unless_asked_not_to(tmp_path):
    with zipfile.ZipFile(build_addon.build(tmp_path / "with")) as zf:
        info = zf.getinfo("s3d/engine/s3d_engine-0.1.0-py3-none-any.whl")
        assert info.compress_type == zipfile.ZIP_STORED
    with zipfile.ZipFile(build_addon.build(tmp_path / "without", engine=False)) as zf:
        assert not any(n.startswith("s3d/engine/") for n in zf.namelist())
