"""Batch planning, resume markers and argument parsing for the headless batch. No bpy.

Layout of OUT_DIR:
    OUT_DIR/<item>/mesh.ply, mask.png, mask_rgb.png, front.png   (written by the engine)
    OUT_DIR/<item>/s3d_item.json   marker: {"status": "done" | "failed", ...}; an item is skipped
                                   on the next run when its marker says done and its mesh exists
    OUT_DIR/s3d_batch.json         summary of the last run
"""
from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from .request import SMOOTH_DEFAULT

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
MARKER = "s3d_item.json"
SUMMARY = "s3d_batch.json"


@dataclass
class Item:
    id: str
    kind: str  # "image" | "gp"
    source: str  # image path or .blend path
    seed: int = 0
    object: Optional[str] = None  # GP object name for kind "gp"

    def out_dir(self, out_root: str) -> str:
        return os.path.join(out_root, self.id)


def clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "item"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="blender -b -P batch.py --",
        description="Convert every sketch image in IN_DIR (and every Grease Pencil object of the .blend files "
                    "in IN_DIR or given with --blend) into labelled meshes in OUT_DIR. Re-running resumes.")
    p.add_argument("in_dir", help="folder of sketch images and/or .blend files (or a single file)")
    p.add_argument("out_dir", help="output folder (one sub-folder per result)")
    p.add_argument("--blend", action="append", default=[], help="extra .blend file to take Grease Pencil objects from")
    p.add_argument("--domain", choices=("face", "cat"), default="face")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variations", type=int, default=1, help="seeds per sketch (seed, seed+1, ...)")
    p.add_argument("--resolution", type=int, default=128, help="mesh resolution (marching-cubes grid)")
    p.add_argument("--smooth", type=int, default=SMOOTH_DEFAULT, metavar="N", help="Taubin smoothing iterations")
    p.add_argument("--no-smooth", action="store_true", help="skip mesh smoothing (--smooth 0)")
    p.add_argument("--decimate", type=int, default=0, help="target face count (0 = no decimation)")
    p.add_argument("--glb", action="store_true", help="also write mesh.glb into each result folder")
    p.add_argument("--vertex-groups", action="store_true", help="parts as vertex groups instead of materials")
    p.add_argument("--weights", default="", help="weights name/path; {domain} is replaced (default: the domain)")
    p.add_argument("--device", default="", help="auto, cpu or cuda")
    p.add_argument("--python", default="", help="engine Python (default: $S3D_ENGINE_PYTHON or auto-detect)")
    p.add_argument("--engine-root", default="", help="folder holding s3d_engine/ if it is not installed")
    p.add_argument("--view", choices=("camera", "front"), default="camera",
                   help="projection of Grease Pencil strokes: the scene camera (front view if none) or front")
    p.add_argument("--save-blend", nargs="?", const="", default=None, metavar="PATH",
                   help="also save one .blend with every result (default PATH: OUT_DIR/s3d_results.blend)")
    p.add_argument("--overwrite", action="store_true", help="redo items that are already done")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed item")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per item")
    return p


def script_args(argv: list[str]) -> list[str]:
    """Arguments after Blender's `--` separator (all of argv when there is none)."""
    return argv[argv.index("--") + 1:] if "--" in argv else list(argv)


def seeds(args: argparse.Namespace) -> list[int]:
    return [args.seed + i for i in range(max(1, args.variations))]


def find_inputs(in_path: str, extra_blends: list[str]) -> tuple[list[str], list[str]]:
    """(images, blends), sorted; a single file is accepted in place of a folder."""
    p = Path(in_path)
    if not p.exists():
        raise FileNotFoundError(f"input not found: {in_path}")
    files = [p] if p.is_file() else sorted(f for f in p.iterdir() if f.is_file())
    images = [str(f) for f in files if f.suffix.lower() in IMAGE_EXTS]
    blends = [str(f) for f in files if f.suffix.lower() == ".blend"]
    for b in extra_blends:
        if not os.path.isfile(b):
            raise FileNotFoundError(f".blend not found: {b}")
        if os.path.abspath(b) not in {os.path.abspath(x) for x in blends}:
            blends.append(b)
    return images, blends


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 2
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    taken.add(name)
    return name


def image_items(images: list[str], seed_list: list[int], taken: Optional[set[str]] = None) -> list[Item]:
    taken = set() if taken is None else taken
    items = []
    for path in images:
        stem = clean(Path(path).stem)
        for s in seed_list:
            base = stem if len(seed_list) == 1 else f"{stem}_seed{s}"
            items.append(Item(_unique(base, taken), "image", os.path.abspath(path), s))
    return items


def gp_items(blend: str, object_names: list[str], seed_list: list[int], taken: Optional[set[str]] = None) -> list[Item]:
    taken = set() if taken is None else taken
    items = []
    for name in object_names:
        stem = f"{clean(Path(blend).stem)}__{clean(name)}"
        for s in seed_list:
            base = stem if len(seed_list) == 1 else f"{stem}_seed{s}"
            items.append(Item(_unique(base, taken), "gp", os.path.abspath(blend), s, name))
    return items


def engine_error_line(error: str) -> str:
    """The one line a batch prints when its engine cannot start: the cause (without the add-on's
    "preferences" advice, which means nothing here) and the batch's own flag, --python."""
    first = (str(error).strip().splitlines() or ["no answer"])[0]
    cause = "; ".join(p for p in first.split("; ") if "add-on preferences" not in p)
    return (f"error: the S3D engine cannot start: {cause}; "
            "pass the engine environment's interpreter with --python PATH (or set S3D_ENGINE_PYTHON)")


def marker_path(out_root: str, item: Item) -> str:
    return os.path.join(item.out_dir(out_root), MARKER)


def read_marker(out_root: str, item: Item) -> Optional[dict[str, Any]]:
    try:
        with open(marker_path(out_root, item), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def is_done(out_root: str, item: Item) -> bool:
    m = read_marker(out_root, item)
    if not m or m.get("status") != "done":
        return False
    ply = (m.get("files") or {}).get("ply")
    return bool(ply) and os.path.isfile(os.path.join(item.out_dir(out_root), ply))


def write_json_atomic(path: str, data: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def write_marker(out_root: str, item: Item, status: str, **data: Any) -> dict[str, Any]:
    record = {"status": status, "item": asdict(item), **data}
    if "files" in record:  # store paths relative to the item folder
        base = item.out_dir(out_root)
        record["files"] = {k: os.path.relpath(v, base) if os.path.isabs(v) else v for k, v in record["files"].items()}
    write_json_atomic(marker_path(out_root, item), record)
    return record


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def write(self, out_root: str, extra: Optional[dict[str, Any]] = None) -> str:
        path = os.path.join(out_root, SUMMARY)
        write_json_atomic(path, {"done": self.done, "skipped": self.skipped, "failed": self.failed, **(extra or {})})
        return path

    def line(self) -> str:
        return f"{len(self.done)} done, {len(self.skipped)} skipped (already done), {len(self.failed)} failed"
