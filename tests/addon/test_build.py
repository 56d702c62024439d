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
