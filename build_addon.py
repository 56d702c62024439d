#!/usr/bin/env python3
"""Build the Blender add-on zip: dist/s3d-<version>.zip with one top folder `s3d/` that holds
`__init__.py` (with bl_info, for legacy installs) and `blender_manifest.toml` (for extensions).

    python build_addon.py                 # -> dist/s3d-0.1.0.zip
    python build_addon.py --validate      # + run Blender's own extension validator (blender_ext.py,
                                          #   from a bpy wheel venv .venv-bpy-*, or --blender-ext PATH)

The zip is reproducible (sorted entries, fixed timestamps). Torch is not bundled: the engine
runs in its own Python (see docs/BLENDER.md).
"""
from __future__ import annotations

import argparse
import ast
import glob
import os
import subprocess
import sys
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "blender_addon" / "s3d"
TOP = "s3d"
EXCLUDE_DIRS = {"__pycache__", ".pytest_cache", ".git"}
EXCLUDE_SUFFIXES = {".pyc", ".pyo", ".zip", ".blend1"}
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def manifest_version(source: Path = SOURCE) -> str:
    text = (source / "blender_manifest.toml").read_text(encoding="utf-8")
    if tomllib is not None:
        return str(tomllib.loads(text)["version"])
    for line in text.splitlines():
        if line.strip().startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit("no version in blender_manifest.toml")


def bl_info_version(source: Path = SOURCE) -> str:
    tree = ast.parse((source / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "bl_info" for t in node.targets):
            info = ast.literal_eval(node.value)
            return ".".join(str(v) for v in info["version"])
    raise SystemExit("no bl_info in __init__.py")


def source_files(source: Path = SOURCE) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDE_DIRS)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.suffix not in EXCLUDE_SUFFIXES:
                files.append(p)
    return files


def build(out_dir: Path, source: Path = SOURCE) -> Path:
    version = manifest_version(source)
    legacy = bl_info_version(source)
    if legacy != version:
        raise SystemExit(f"version mismatch: blender_manifest.toml says {version}, bl_info says {legacy}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{TOP}-{version}.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in source_files(source):
            arc = f"{TOP}/{path.relative_to(source).as_posix()}"
            info = zipfile.ZipInfo(arc, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    os.replace(tmp, target)
    return target


def find_blender_ext() -> str | None:
    pattern = str(ROOT / ".venv-bpy-*" / "lib" / "python3*" / "site-packages" / "bpy" / "*" / "scripts" /
                  "addons_core" / "bl_pkg" / "cli" / "blender_ext.py")
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


def validate(zip_path: Path, blender_ext: str | None) -> int:
    tool = blender_ext or find_blender_ext()
    if tool is None:
        print("validate: blender_ext.py not found (create a bpy venv with scripts/ci_addon.sh, or pass --blender-ext)")
        return 3
    print(f"validate: {tool}")
    proc = subprocess.run([sys.executable, tool, "validate", str(zip_path)], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0 or "error" in (proc.stdout + proc.stderr).lower():
        return proc.returncode or 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "dist"), help="output folder (default: dist/)")
    parser.add_argument("--validate", action="store_true", help="run Blender's extension validator on the zip")
    parser.add_argument("--blender-ext", default=None, help="path to blender_ext.py (default: from .venv-bpy-*)")
    args = parser.parse_args(argv)
    target = build(Path(args.out))
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
    print(f"built {target} ({target.stat().st_size // 1024} KiB, {len(names)} files)")
    if args.validate:
        return validate(target, args.blender_ext)
    return 0


if __name__ == "__main__":
    sys.exit(main())
