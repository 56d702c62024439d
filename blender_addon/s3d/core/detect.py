"""Find the engine's Python interpreter (the one with torch and s3d_engine). No bpy.

Blender's own `sys.executable` is never a candidate: in official builds it is Blender's bundled
Python, and in Debian's build it is whatever python3.11 comes first on PATH.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

ENV_PYTHON = "S3D_ENGINE_PYTHON"
ENV_ROOT = "S3D_ENGINE_ROOT"

_PROBE = (
    "import json, sys\n"
    "import s3d_engine\n"
    "print(json.dumps({'version': s3d_engine.__version__, 'python': sys.version.split()[0], "
    "'path': list(s3d_engine.__path__)[0]}))\n"
)


def _venv_pythons(folder: Path) -> list[Path]:
    if os.name == "nt":
        return [folder / "Scripts" / "python.exe"]
    return [folder / "bin" / "python3", folder / "bin" / "python"]


def engine_root_for(python: str) -> Optional[str]:
    """If `python` lives in a venv inside a checkout of the engine (<root>/.venv/bin/python),
    return <root> so the worker can import s3d_engine without it being pip-installed."""
    env = os.environ.get(ENV_ROOT)
    if env and (Path(env) / "s3d_engine").is_dir():
        return env
    try:
        p = Path(python).absolute()
    except (OSError, ValueError):
        return None
    for parent in list(p.parents)[:4]:
        if (parent / "s3d_engine" / "__init__.py").is_file():
            return str(parent)
    return None


def source_checkout_root() -> Optional[Path]:
    """<root> when the add-on runs from a checkout (<root>/blender_addon/s3d)."""
    here = Path(__file__).resolve().parent
    for parent in list(here.parents)[:4]:
        if (parent / "s3d_engine" / "__init__.py").is_file():
            return parent
    return None


def _shebang_python(script: str) -> Optional[str]:
    try:
        with open(script, "rb") as fh:
            first = fh.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!"):
        cmd = first[2:].strip().split()
        if cmd and os.path.isfile(cmd[0]) and "python" in os.path.basename(cmd[0]):
            return cmd[0]
    return None


def candidates() -> list[str]:
    """Possible engine interpreters, most likely first (no process is started)."""
    out: list[str] = []
    env = os.environ.get(ENV_PYTHON)
    if env:
        out.append(env)
    root = source_checkout_root()
    if root is not None:
        out += [str(p) for p in _venv_pythons(root / ".venv")]
    cli = shutil.which("s3d")
    if cli:
        py = _shebang_python(cli)
        if py:
            out.append(py)
    home = Path.home()
    for folder in (home / ".venvs" / "s3d", home / "s3d" / ".venv", home / ".s3d" / "venv"):
        out += [str(p) for p in _venv_pythons(folder)]
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found:
            out.append(found)
    seen, unique = set(), []
    for c in out:
        if c not in seen and os.path.isfile(c):
            seen.add(c)
            unique.append(c)
    return unique


def probe(python: str, timeout: float = 20.0) -> Optional[dict]:
    """Run `python` and check that it can import s3d_engine (without importing torch)."""
    from .client import worker_env

    root = engine_root_for(python)
    try:
        proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=timeout,
                              env=worker_env([root] if root else []))
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def detect(timeout: float = 20.0) -> Optional[str]:
    """First candidate that can import s3d_engine; None if there is none."""
    for python in candidates():
        if python == sys.executable and "blender" in sys.executable.lower():
            continue
        if probe(python, timeout) is not None:
            return python
    return None


def quick_guess() -> str:
    """Best guess without starting anything: $S3D_ENGINE_PYTHON, else the checkout's .venv."""
    env = os.environ.get(ENV_PYTHON)
    if env:
        return env
    root = source_checkout_root()
    if root is not None:
        for p in _venv_pythons(root / ".venv"):
            if p.is_file():
                return str(p)
    return ""
