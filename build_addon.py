#!/usr/bin/env python3
"""Build the Blender add-on zip: dist/s3d-<version>.zip with one top folder `s3d/` that holds
`__init__.py` (with bl_info, for legacy installs) and `blender_manifest.toml` (for extensions),
and `s3d/engine/s3d_engine-<version>-py3-none-any.whl`: the engine with the shipped face and cat
weights, which the add-on's "Install engine" pip-installs into a private venv beside torch.

    python build_addon.py                 # -> dist/s3d-0.1.0.zip
    python build_addon.py --no-engine     # the add-on alone (for people who run from a checkout)
    python build_addon.py --validate      # + run Blender's own extension validator (blender_ext.py,
                                          #   from a bpy wheel venv .venv-bpy-*, or --blender-ext PATH)

Zip and wheel are reproducible (sorted entries, fixed timestamps). Torch is not bundled: pip
fetches the build that fits the user's device (docs/BLENDER.md).

The wheel is written here, not by setuptools, so that it is byte-for-byte reproducible and
carries the weights as package data: a wheel is a zip of the package files plus
`<name>-<version>.dist-info/` with METADATA (name, version, Requires-Dist from pyproject.toml),
WHEEL (tag py3-none-any, purelib), entry_points.txt (the `s3d` command) and RECORD (each file's
urlsafe-base64 SHA-256 without padding, and its size; PEP 376 / 427).
"""
from __future__ import annotations

import argparse
import ast
import base64
import glob
import hashlib
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
ENGINE = ROOT / "s3d_engine"
WEIGHTS = ROOT / "weights"
SHIPPED_WEIGHTS = ("face", "cat")
TOP = "s3d"
ENGINE_FOLDER = "engine"  # inside the add-on: s3d/engine/<wheel>
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


def _zip_entry(zf: zipfile.ZipFile, name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def project_metadata() -> dict:
    if tomllib is None:
        raise SystemExit("building the engine wheel needs Python 3.11+ (tomllib)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def wheel_files(engine: Path = ENGINE, weights: Path = WEIGHTS) -> dict[str, bytes]:
    """Archive name -> bytes of the engine's package files and its shipped weights."""
    files = {f"s3d_engine/{p.relative_to(engine).as_posix()}": p.read_bytes()
             for p in source_files(engine) if p.suffix == ".py" or p.name == "py.typed"}
    for name in SHIPPED_WEIGHTS:
        for suffix in (".safetensors", ".json"):
            path = weights / f"{name}{suffix}"
            if not path.is_file():
                raise SystemExit(f"{path} is missing: the engine wheel ships the {name} weights")
            files[f"s3d_engine/shipped_weights/{name}{suffix}"] = path.read_bytes()
    return files


def record_hash(data: bytes) -> str:
    """RECORD's hash field: sha256=<urlsafe base64 of the digest, '=' padding stripped>."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_engine_wheel(out_dir: Path) -> Path:
    """s3d_engine-<version>-py3-none-any.whl with the shipped weights (see the module docstring)."""
    meta = project_metadata()
    version = meta["version"]
    dist = f"s3d_engine-{version}.dist-info"
    files = wheel_files()
    lines = ["Metadata-Version: 2.1", f"Name: {meta['name']}", f"Version: {version}",
             f"Summary: {meta.get('description', '')}", f"Requires-Python: {meta.get('requires-python', '>=3.10')}"]
    lines += [f"Requires-Dist: {dep}" for dep in meta.get("dependencies", [])]
    files[f"{dist}/METADATA"] = ("\n".join(lines) + "\n").encode()
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: build_addon.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    scripts = meta.get("scripts", {})
    files[f"{dist}/entry_points.txt"] = ("[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())).encode()
    record = "".join(f"{name},{record_hash(data)},{len(data)}\n" for name, data in sorted(files.items()))
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"s3d_engine-{version}-py3-none-any.whl"
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(files, key=lambda n: (n.startswith(dist), n.endswith("/RECORD"), n)):  # dist-info, RECORD last
            _zip_entry(zf, name, files[name])
    os.replace(tmp, target)
    return target


def build(out_dir: Path, source: Path = SOURCE, engine: bool = True) -> Path:
    version = manifest_version(source)
    legacy = bl_info_version(source)
    if legacy != version:
        raise SystemExit(f"version mismatch: blender_manifest.toml says {version}, bl_info says {legacy}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{TOP}-{version}.zip"
    tmp = target.with_suffix(".zip.tmp")
    wheel = build_engine_wheel(out_dir / "engine-wheel") if engine else None
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in source_files(source):
            _zip_entry(zf, f"{TOP}/{path.relative_to(source).as_posix()}", path.read_bytes())
        if wheel is not None:  # stored: a wheel is already compressed
            _zip_entry(zf, f"{TOP}/{ENGINE_FOLDER}/{wheel.name}", wheel.read_bytes(), zipfile.ZIP_STORED)
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
    parser.add_argument("--no-engine", action="store_true", help="leave the engine wheel (and weights) out of the zip")
    parser.add_argument("--blender-ext", default=None, help="path to blender_ext.py (default: from .venv-bpy-*)")
    args = parser.parse_args(argv)
    target = build(Path(args.out), engine=not args.no_engine)
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
    print(f"built {target} ({target.stat().st_size // 1024} KiB, {len(names)} files)")
    if args.validate:
        return validate(target, args.blender_ext)
    return 0


if __name__ == "__main__":
    sys.exit(main())
