"""What a worker request means: the adapter between the JSON-lines protocol (`worker.py`, the
transport) and `S3DPipeline`. No threads and no stdin/stdout here, so all of it is testable
with plain function calls.

Protocol 2 (`PROTOCOL_VERSION`): a generate request is
    {"id", "cmd": "generate", "protocol": 2, "weights"?, "options": GenerateOptions.to_dict(),
     "sketch": {"strokes": [[[x, y, p], ...], ...]} | {"image": path}, "out_dir"}
and answers `progress`* -> `mesh` (mesh + mask files, as soon as the mesh exists) -> `result`
(every file, after the renders), or `error` / `cancelled`. The domain travels in the options,
is checked against the weights' configuration, and is echoed in `mesh` and `result`.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from ._version import __version__
from .cameras import frame_extent
from .errors import S3DError, SketchError
from .labels import label_set
from .options import GenerateOptions
from .results import check_outputs

PROTOCOL_VERSION = 2
MAX_CACHED_PIPELINES = 2
MAX_LINE_BYTES = 4 << 20  # a 4 MB request holds ~100k stroke points
MAX_DEPTH = 8  # strokes are the deepest part: request > sketch > strokes > stroke > point
Emit = Callable[[dict[str, Any]], None]
Progress = Callable[[str, float], None]


class ProtocolError(S3DError):
    """A request the worker cannot read: bad JSON, wrong types, or another protocol version."""


def check_protocol(msg: dict) -> None:
    version = msg.get("protocol")
    if version != PROTOCOL_VERSION:
        said = "no protocol version" if version is None else f"protocol {version!r}"
        raise ProtocolError(f"the request has {said} but this engine speaks protocol {PROTOCOL_VERSION}: "
                            f"update the add-on or the engine so that they match")


def parse_sketch(sketch: Any):
    """Protocol sketch -> what S3DPipeline accepts (an image path or a list of stroke arrays)."""
    if not isinstance(sketch, dict):
        raise SketchError("the request has no 'sketch' (expected {'strokes': [...]} or {'image': path})")
    if "image" in sketch:
        if not isinstance(sketch["image"], str) or not sketch["image"]:
            raise SketchError("'sketch.image' must be a file path")
        return sketch["image"]
    strokes = sketch.get("strokes")
    if not isinstance(strokes, list):
        raise SketchError("'sketch' must hold 'strokes' (a list of polylines) or 'image' (a file path)")
    from .sketch import parse_strokes

    return parse_strokes(strokes)


def parse_request(raw: str) -> dict:
    """A request line -> its object, or ProtocolError naming what is wrong with it."""
    if len(raw) > MAX_LINE_BYTES:
        raise ProtocolError(f"request line of {len(raw)} bytes is over the {MAX_LINE_BYTES}-byte limit")
    depth = peak = 0
    for ch in raw:  # bracket depth before json.loads, whose recursion a hostile line could exhaust
        if ch in "[{":
            depth += 1
            peak = max(peak, depth)
            if peak > MAX_DEPTH:
                raise ProtocolError(f"request nested deeper than {MAX_DEPTH} levels")
        elif ch in "]}":
            depth -= 1
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"bad request line: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a request must be a JSON object")
    rid = msg.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (str, int, float))):
        raise ProtocolError(f"a request id must be a string or a number, got {type(rid).__name__}")
    return msg


def pipeline_factory(spec: str | None):
    """S3DPipeline, or the class named by a "module:attr" spec (the worker's test hook)."""
    if not spec:
        from .pipeline import S3DPipeline

        return S3DPipeline
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr or "S3DPipeline")


class PipelineCache:
    """Loaded pipelines keyed by (weights, device), least recently used dropped first."""

    def __init__(self, factory: Callable[[], Any], default_weights: str | None = None,
                 default_device: str = "auto") -> None:
        self._factory, self._pipes = factory, {}
        self.default_weights, self.default_device = default_weights, default_device

    def get(self, weights: str | None, device: str | None, domain: str | None = None,
            progress: Progress | None = None):
        weights = weights or self.default_weights or domain or "face"
        if not isinstance(weights, str):
            raise ProtocolError(f"'weights' must be a name or a path, got {weights!r}")
        device = device if device and device != "auto" else (self.default_device or "auto")
        key = (weights, device)
        pipe = self._pipes.pop(key, None)
        if pipe is None:
            if progress:
                progress("load", 0.0)
            pipe = self._factory().from_pretrained(weights, device=device)
            while len(self._pipes) >= MAX_CACHED_PIPELINES:
                self._pipes.pop(next(iter(self._pipes)))
        self._pipes[key] = pipe  # most recently used last
        return pipe

    def loaded(self) -> list[str]:
        return [f"{w} ({d})" for (w, d) in self._pipes]


def info_payload(cache: PipelineCache, msg: dict) -> dict[str, Any]:
    from .catalog import available_weights

    info: dict[str, Any] = {"version": __version__, "protocol": PROTOCOL_VERSION, "python": sys.executable,
                            "python_version": sys.version.split()[0], "pid": os.getpid(),
                            "weights_found": [str(p) for p in available_weights()], "loaded": cache.loaded()}
    try:
        import torch

        from .device import resolve_device

        info["torch"] = torch.__version__
        info["cuda"] = bool(torch.cuda.is_available())
        info["device"] = str(resolve_device(msg.get("device") or cache.default_device))
    except Exception as exc:  # noqa: BLE001 - a broken torch is what info is asked to report
        info["torch"] = f"unavailable: {exc}"
    if msg.get("weights"):
        info["pipeline"] = cache.get(msg.get("weights"), msg.get("device")).info()
    return info


def _describe(pipe, result, files: dict, opts: GenerateOptions) -> dict[str, Any]:
    """The fields `mesh` and `result` events share: files, parts, palette, domain, framing."""
    domain = pipe.config.domain
    mesh = result.mesh
    return {"files": {k: str(v) for k, v in files.items()}, "domain": domain, "seed": opts.seed,
            "label_names": list(pipe.labels.names), "palette": [list(c) for c in label_set(domain).palette],
            "frame_extent": frame_extent(domain), "options": opts.to_dict(),
            "vertices": 0 if mesh is None else int(len(mesh.vertices)),
            "faces": 0 if mesh is None else int(len(mesh.faces))}


def generate(cache: PipelineCache, msg: dict, progress: Progress, emit: Emit) -> None:
    """Run one generate request: validate everything, load, generate; emit `mesh` then `result`."""
    check_protocol(msg)
    rid = msg.get("id")
    opts = GenerateOptions.from_dict(msg.get("options"))
    sketch = parse_sketch(msg.get("sketch"))
    out_dir = msg.get("out_dir")
    if not isinstance(out_dir, str) or not out_dir:
        raise ProtocolError("generate needs an 'out_dir' (a folder path)")
    check_outputs(out_dir, protect=[sketch] if isinstance(sketch, str) else [])
    t0 = time.perf_counter()
    pipe = cache.get(msg.get("weights"), opts.device, opts.domain, progress)
    pipe.options(opts)  # the domain check, before any compute
    t_load = time.perf_counter() - t0
    progress("start", 0.0)

    early: list = []

    def on_mesh(partial) -> None:
        files = partial.save(Path(out_dir))
        early.append(partial)
        emit({"id": rid, "event": "mesh", **_describe(pipe, partial, files, opts)})

    result = pipe(sketch, opts, progress=progress, on_mesh=on_mesh)
    progress("save", 0.95)
    t1 = time.perf_counter()
    files = result.save(Path(out_dir), reuse=early[-1] if early else None)  # the mesh is not exported twice
    timings = {k: float(v) for k, v in result.timings.items()}
    timings.update(worker_load=t_load, worker_save=time.perf_counter() - t1, worker_total=time.perf_counter() - t0)
    emit({"id": rid, "event": "result", **_describe(pipe, result, files, opts), "timings": timings})


def error_event(rid: Any, exc: BaseException) -> dict[str, Any]:
    """One readable error event: the message of an S3DError as it is; anything else (a bug)
    with its type, and its traceback on stderr and in the event."""
    event: dict[str, Any] = {"id": rid, "event": "error", "kind": type(exc).__name__}
    if isinstance(exc, S3DError):
        event["message"] = str(exc)
    elif isinstance(exc, MemoryError):
        event["message"] = "out of memory while generating; try a lower mesh resolution"
    else:
        event["message"] = f"{type(exc).__name__}: {str(exc) or type(exc).__name__}"
        event["traceback"] = "".join(traceback.format_exception(exc, limit=20))
        print(event["traceback"], file=sys.stderr)
    return event
