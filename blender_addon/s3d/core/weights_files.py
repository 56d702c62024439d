"""The user's own weights files (prefs "Add Weights File"). No bpy.

They are copied into the add-on's `weights/` folder, which the worker receives as
S3D_WEIGHTS_DIR and the engine searches first (s3d_engine/catalog.py): a file added as
`my_face.safetensors` is then used by writing `my_face` in the Weights preference.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def add(source: Path, folder: Path) -> str:
    """Copy `source` (+ sidecar) into `folder` without overwriting; returns the name to use."""
    if source.suffix != ".safetensors" or not source.is_file():
        raise ValueError(f"{source} is not a .safetensors file")
    if not looks_like_safetensors(source):
        raise ValueError(f"{source} is not a safetensors file (its header does not parse)")
    target = folder / source.name
    if target.exists():
        raise ValueError(f"weights named '{source.stem}' already exist in {folder}; rename the file first")
    for src in (source.with_suffix(".json"), source):  # the name appears last, with its sidecar already there
        if src.is_file():
            tmp = folder / f".{src.name}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, folder / src.name)
    return source.stem


def looks_like_safetensors(path: Path) -> bool:
    """A safetensors file starts with an 8-byte little-endian header length n, then n bytes of
    JSON that open with '{', and is at least 8 + n bytes long."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return False
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 8 + n <= size
