"""The typed result of one generation, and how it is written to disk.

Output safety (docs/ERRORS.md): every file is written atomically with the umask's mode; nothing
is ever written over an input (`protect`); formats and the folder are checked before anything is
written (`parse_formats`, `check_outputs`, which callers also run before any compute); the old
manifest is invalidated before the first write, so a killed run never looks complete; files of
an earlier run that the new one does not write are removed (when that run's manifest listed
them) or listed as stale; and `result.json` is written last, with every file's size and sha256
and the options used, so `is_complete(folder, options)` tells a complete result from a partial
or a differing one.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from PIL import Image

from .errors import OutputError, S3DError
from .io_utils import TMP_SUFFIX, make_folder, read_bounded, write_bytes_atomic
from .labels import LabelSet
from .limits import MAX_MANIFEST_BYTES, MESH_FORMATS, STALE_TMP_AGE_S
from .mesh.export import WRITERS
from .mesh.types import LabelledMesh
from .options import GenerateOptions, parse_formats  # noqa: F401 - parse_formats is part of this API

MANIFEST = "result.json"
MANIFEST_VERSION = 1
IMAGE_OUTPUTS = ("mask.png", "mask_rgb.png", "front.png", "sketch.png", "turntable.gif", "turntable_strip.png")
# mkstemp's temporary names in atomic_path: ".<target>.<8 random chars>.tmp"
_TMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}" + re.escape(TMP_SUFFIX) + "$")


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], duration_ms: int = 80) -> bytes:
    buf = io.BytesIO()
    imgs = [Image.fromarray(f) for f in frames]
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Checks before any compute
# ---------------------------------------------------------------------------------------------


def output_names(stem: str = "") -> tuple[str, ...]:
    """Every file name `S3DResult.save` may write into a folder for `stem`."""
    prefix = f"{stem}_" if stem else ""
    return tuple(prefix + n for n in (*(f"mesh.{f}" for f in MESH_FORMATS), *IMAGE_OUTPUTS, MANIFEST))


def _same_file(a: Path, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(out_dir: str | os.PathLike, names: Iterable[str] | None = None, stem: str = "",
                  protect: Iterable[str | os.PathLike] = ()) -> Path:
    """Before any compute: the output folder is (or can become) a folder we may write in, and
    none of the files to be written (default: every output name) is one of the inputs."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"the output folder {out} is an existing file; give a folder path")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise OutputError(f"cannot create the output folder {out}: {existing} is an existing file")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"permission denied writing in {existing}; choose an output folder you can write to")
    inputs = [p for p in protect if p is not None]
    for name in names if names is not None else output_names(stem):
        target = out / name
        for source in inputs:
            if _same_file(target, source):
                raise OutputError(f"refusing to write {target} over the input {source}; choose another output folder")
    return out


# ---------------------------------------------------------------------------------------------
# Manifest, stale files
# ---------------------------------------------------------------------------------------------


def _safe_name(name: Any) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "\0" not in name
            and Path(name).name == name and "/" not in name and "\\" not in name)


def _options_json(options: GenerateOptions | Mapping[str, Any]) -> Any:
    plain = options.to_dict() if isinstance(options, GenerateOptions) else dict(options)
    return json.loads(json.dumps(plain, default=str))


def read_manifest(folder: str | os.PathLike, stem: str = "") -> dict[str, Any] | None:
    """The parsed result.json of a result folder, or None when there is none or it is unreadable."""
    path = Path(folder) / ((f"{stem}_" if stem else "") + MANIFEST)
    if not path.exists():
        return None
    try:
        data = json.loads(read_bounded(path, "result manifest", MAX_MANIFEST_BYTES, OutputError))
    except (S3DError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(folder: str | os.PathLike, options: GenerateOptions | Mapping[str, Any] | None = None, stem: str = "",
                verify_hash: bool = False) -> bool:
    """True only when the manifest says complete, every file it lists exists with its size (and
    sha256 with `verify_hash`), and, when `options` is given, it was written with those options."""
    data = read_manifest(folder, stem)
    record = data.get("manifest") if data else None
    if not data or data.get("complete") is not True or not isinstance(record, dict):
        return False
    files = record.get("files")
    if not isinstance(files, dict) or (options is not None and data.get("options") != _options_json(options)):
        return False
    for name, entry in files.items():
        path = Path(folder) / str(name)
        if not (_safe_name(name) and isinstance(entry, dict) and path.is_file() and not path.is_symlink()):
            return False
        if path.stat().st_size != entry.get("size"):
            return False
        if verify_hash and hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256"):
            return False
    return True


def clean_stale_tmp(folder: str | os.PathLike, min_age_s: float = 0.0, names: Iterable[str] | None = None) -> list[Path]:
    """Remove temporary files that atomic writes left behind (kill -9), older than `min_age_s`;
    with `names`, only those for these target names. Returns what was removed."""
    folder, wanted = Path(folder), set(names) if names is not None else None
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in os.scandir(folder):
        match = _TMP_NAME.match(entry.name)
        if not match or (wanted is not None and match.group("target") not in wanted):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= min_age_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _previous_files(data: dict[str, Any] | None) -> dict[str, int | None]:
    """File names an earlier run's manifest (or pre-manifest summary) says it wrote, with their
    sizes where recorded."""
    found: dict[str, int | None] = {}
    if not data:
        return found
    if isinstance(data.get("files"), dict):
        found.update((n, None) for n in data["files"].values() if _safe_name(n))
    record = data.get("manifest")
    if isinstance(record, dict) and isinstance(record.get("files"), dict):
        for name, entry in record["files"].items():
            size = entry.get("size") if isinstance(entry, dict) else None
            if _safe_name(name):
                found[name] = size if isinstance(size, int) else None
    return found


@dataclass
class S3DResult:
    sketch: np.ndarray | None  # (R, R) float32 normalised sketch, None when a mask was given
    mask: np.ndarray  # (R, R) uint8 predicted part labels
    mask_rgb: np.ndarray  # (R, R, 3) uint8 palette colours
    front: np.ndarray | None  # (H, W, 3) uint8 super-resolved front view (None: not rendered)
    front_labels: np.ndarray | None  # (H, W) uint8 rendered semantic argmax at the front view
    views: list[np.ndarray]  # turntable frames (H, W, 3) uint8
    mesh: LabelledMesh | None
    seed: int
    labels: LabelSet
    timings: dict[str, float] = field(default_factory=dict)
    mesh_level: float | None = None
    auto_level: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    options: GenerateOptions | None = None  # what produced it (formats default from here)
    inputs: tuple[str, ...] = ()  # files the result was made from; save() never writes over them
    # what save() wrote: file name -> (the array or mesh it came from, its manifest entry)
    saved: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _source(self, kind: str) -> Any:
        """The object a file of this kind is made from (mesh formats: the mesh)."""
        named = {"mask": self.mask, "mask_rgb": self.mask_rgb, "front": self.front, "sketch": self.sketch,
                 "turntable": self.views, "strip": self.views}
        return named[kind] if kind in named else self.mesh

    def _outputs(self, formats: tuple[str, ...], prefix: str) -> dict[str, tuple[str, Callable[[], bytes]]]:
        """kind -> (file name, bytes producer), in writing order (the manifest comes last, apart)."""
        plan: dict[str, tuple[str, Callable[[], bytes]]] = {}
        if self.mesh is not None:
            for fmt in formats:
                plan[fmt] = (f"{prefix}mesh.{fmt}", lambda fmt=fmt: WRITERS[fmt](self.mesh))
        plan["mask"] = (f"{prefix}mask.png", lambda: png_bytes(self.mask))
        plan["mask_rgb"] = (f"{prefix}mask_rgb.png", lambda: png_bytes(self.mask_rgb))
        if self.front is not None:
            front = self.front
            plan["front"] = (f"{prefix}front.png", lambda: png_bytes(front))
        if self.sketch is not None:
            sk = self.sketch
            plan["sketch"] = (f"{prefix}sketch.png", lambda: png_bytes((np.clip(sk, 0, 1) * 255 + 0.5).astype(np.uint8)))
        if self.views:
            plan["turntable"] = (f"{prefix}turntable.gif", lambda: gif_bytes(self.views))
            plan["strip"] = (f"{prefix}turntable_strip.png", lambda: png_bytes(np.concatenate(self.views, axis=1)))
        return plan

    def save(self, out_dir: str | Path, formats: str | Iterable[str] | None = None, stem: str = "",
             protect: Iterable[str | os.PathLike] = (), reuse: "S3DResult | None" = None) -> dict[str, Path]:
        """Write mesh files, mask PNGs, the front view, a turntable GIF + strip and the manifest
        `result.json`; returns {kind: path}. `formats` defaults to the options' formats; `protect`
        (with `self.inputs`) names input files that must never be written over; the options are
        recorded for `is_complete`. `reuse`: an earlier result of the same run (the worker's
        mesh-first partial) whose files made from the *same objects* are kept, not exported
        again, while they still have the size it wrote. Raises S3DError (OutputError) with one
        line, leaving no partial file and no manifest that says complete."""
        out, prefix = Path(out_dir), f"{stem}_" if stem else ""
        formats = formats or (self.options or GenerateOptions()).formats
        formats = parse_formats(formats) if self.mesh is not None else ()
        plan = self._outputs(formats, prefix)
        manifest_path = out / f"{prefix}{MANIFEST}"
        inputs = [*protect, *self.inputs]
        check_outputs(out, [name for name, _ in plan.values()] + [manifest_path.name], protect=inputs)
        make_folder(out)
        clean_stale_tmp(out, STALE_TMP_AGE_S, output_names(stem))
        previous = _previous_files(read_manifest(out, stem))
        if manifest_path.exists():  # invalidate first: a run killed from here on never looks complete
            record = {n: {"size": size} for n, size in sorted(previous.items())}
            write_bytes_atomic(manifest_path, json.dumps({"complete": False, "manifest": {
                "version": MANIFEST_VERSION, "files": record}}).encode() + b"\n")
        files: dict[str, Path] = {}
        entries: dict[str, dict[str, Any]] = {}
        try:
            for kind, (name, produce) in plan.items():
                source = self._source(kind)
                prior = reuse.saved.get(name) if reuse is not None and reuse is not self else None
                if prior is not None and prior[0] is source and _is_regular_file(out / name, prior[1]["size"]):
                    files[kind], entries[name] = out / name, prior[1]
                    self.saved[name] = prior
                    continue
                data = produce()
                files[kind] = write_bytes_atomic(out / name, data)
                entries[name] = {"kind": kind, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                self.saved[name] = (source, entries[name])
        except BaseException:
            for path in files.values():
                path.unlink(missing_ok=True)
            raise
        written = set(entries) | {manifest_path.name}
        removed = [n for n in sorted(set(previous) - written) if self._remove_stale(out / n, previous[n], inputs)]
        stale = [n for n in output_names(stem) if n not in written and n not in removed and (out / n).exists()]
        summary = {
            "seed": self.seed, "domain": self.labels.domain, "timings": self.timings,
            "mesh": None if self.mesh is None else {
                "vertices": int(len(self.mesh.vertices)), "faces": int(len(self.mesh.faces)),
                "level": self.mesh_level, "auto_level": self.auto_level, "parts": self.mesh.label_counts()},
            "options": None if self.options is None else self.options.to_dict(),
            "engine": self.info, "files": {k: v.name for k, v in files.items()}, "complete": True,
            "manifest": {"version": MANIFEST_VERSION, "files": entries, "removed_stale": removed, "stale": stale},
        }
        files["summary"] = write_bytes_atomic(manifest_path, (json.dumps(summary, indent=2) + "\n").encode("utf-8"))
        return files

    @staticmethod
    def _remove_stale(path: Path, size: int | None, inputs: list) -> bool:
        """Remove a file an earlier run wrote, if it still has the size that run recorded (never
        an input, a link, a folder, or a file someone has since replaced)."""
        if not _is_regular_file(path, size):
            return False
        try:
            if any(_same_file(path, p) for p in inputs):
                return False
            path.unlink()
        except OSError:
            return False
        return True


def _is_regular_file(path: Path, size: int | None = None) -> bool:
    """A regular file (not a link or a folder) of `size` bytes, when a size is given."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (size is None or info.st_size == size)
