"""Persistent JSON-lines worker for the Blender add-on (and any other front end).

    python -m s3d_engine.worker [--weights NAME] [--device auto|cpu|cuda]

One JSON object per line on stdin, one per line on stdout. Nothing else is ever written to
stdout: at start-up file descriptor 1 is duplicated for the protocol and then pointed at
stderr, so stray prints (from Python or from C extensions) land on stderr.

Requests (every request carries a client-chosen "id"):
    {"id", "cmd": "ping"}                                   -> {"id", "event": "pong", "pid"}
    {"id", "cmd": "info", "weights"?, "device"?}            -> {"id", "event": "info", "info": {...}}
    {"id", "cmd": "generate", "weights", "device", "sketch": {"strokes": [[[x, y, p], ...], ...]} | {"image": path},
     "seed", "mesh_resolution", "smooth", "decimate_faces", "out_dir"}
        -> {"id", "event": "progress", "stage", "fraction"}*  then one of
           {"id", "event": "result", "files": {name: path}, "timings", "label_names", "palette", "domain", ...}
           {"id", "event": "error", "message", "kind"}
           {"id", "event": "cancelled"}
    {"id", "cmd": "cancel", "target": job_id}               -> {"id", "event": "ok"}  (the job then ends "cancelled")
    {"id", "cmd": "shutdown"}                               -> {"id", "event": "bye"}, exit 0
At start-up the worker announces itself with {"id": null, "event": "ready", "version", "pid"}.

Jobs run one at a time on the main thread; a reader thread handles stdin so that "cancel" takes
effect mid-job (the pipeline's progress callback raises between stages). Loaded pipelines are
cached per (weights, device), so warm requests skip model loading. End of stdin (the client
went away) cancels the current job and exits.

Test hook: S3D_WORKER_PIPELINE="module:attr" replaces S3DPipeline with any object that has
`from_pretrained(name, device=...)` (tests use it to inject a fake or a deliberately slow pipeline).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import queue
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

PROTOCOL_VERSION = 1
MAX_CACHED_PIPELINES = 2


class Cancelled(Exception):
    """Raised from the progress callback when the client cancelled the job."""


class ProtocolOut:
    """Thread-safe writer of protocol lines on a private duplicate of the original stdout."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":"), default=_json_default) + "\n"
        with self._lock:
            if self.closed:
                return
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.closed = True  # the client is gone; the reader thread will see EOF too


def _json_default(obj: Any):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def claim_stdout():
    """Keep fd 1 for the protocol only: returns a text stream on a duplicate of fd 1 and
    points fd 1 (and sys.stdout) at stderr."""
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)


def _load_factory(spec: str | None):
    if not spec:
        from . import S3DPipeline

        return S3DPipeline
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr or "S3DPipeline")


def no_grad():
    """Inference never needs autograd: run every job under torch.no_grad() (when torch exists)."""
    try:
        import torch
    except ImportError:
        return contextlib.nullcontext()
    return torch.no_grad()


def resolve_device(device: str) -> str:
    if device and device != "auto":
        return device
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
    except Exception:  # noqa: BLE001 - torch missing is reported by the pipeline itself
        pass
    return "cpu"


def find_weights() -> list[str]:
    """Names and files the worker can load: shipped weights/*.safetensors next to the package
    (and in $S3D_WEIGHTS_DIR), plus the random-init names that need no file."""
    found: list[str] = []
    dirs = [Path(__file__).resolve().parent.parent / "weights"]
    extra = os.environ.get("S3D_WEIGHTS_DIR")
    if extra:
        dirs.insert(0, Path(extra))
    for d in dirs:
        if d.is_dir():
            for f in sorted(d.glob("*.safetensors")):
                found.append(str(f))
    return found


def frame_extent(domain: str) -> float:
    """World size (EG3D units) that the sketch frame covers at the head, so a front end can
    scale the mesh to the size of the drawing."""
    try:
        from .cameras import CAMERA_DEFAULTS

        cam = CAMERA_DEFAULTS[domain]
        distance = cam.radius - cam.pivot[2]
        return float(2.0 * distance * math.tan(math.radians(cam.fov_degrees) / 2.0))
    except Exception:  # noqa: BLE001
        return 1.0


def _palette(domain: str, n: int) -> list[list[int]]:
    try:
        from .labels import CAT_LABELS, FACE_LABELS

        labels = {"face": FACE_LABELS, "cat": CAT_LABELS}.get(domain)
        if labels is not None:
            return [list(c) for c in labels.palette]
    except Exception:  # noqa: BLE001
        pass
    return [[200, 200, 200]] * n


class Worker:
    def __init__(self, out: ProtocolOut, factory_spec: str | None = None, default_weights: str | None = None,
                 default_device: str = "auto") -> None:
        self.out = out
        self.factory_spec = factory_spec
        self._factory = None
        self.default_weights = default_weights
        self.default_device = default_device
        self.jobs: "queue.Queue[dict | None]" = queue.Queue()
        self.pipelines: dict[tuple[str, str], Any] = {}
        self.current_id: str | None = None
        self.current_cancel = threading.Event()
        self.cancelled_ids: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # ---- stdin side (reader thread) -----------------------------------------------------------
    def read_loop(self, stream) -> None:
        for raw in stream:
            raw = raw.strip()
            if not raw:
                continue
            try:
                msg = json.loads(raw)
                if not isinstance(msg, dict):
                    raise ValueError("a request must be a JSON object")
            except ValueError as exc:
                self.out.send({"id": None, "event": "error", "kind": "ProtocolError",
                               "message": f"bad request line: {exc}"})
                continue
            self.handle_async(msg)
            if self.stopping.is_set():
                break
        else:
            # EOF: the client went away -> stop whatever runs and exit.
            self.stopping.set()
            self.cancel_all()
        self.jobs.put(None)

    def handle_async(self, msg: dict) -> None:
        cmd, rid = msg.get("cmd"), msg.get("id")
        if cmd == "ping":
            self.out.send({"id": rid, "event": "pong", "pid": os.getpid(), "busy": self.current_id})
        elif cmd == "cancel":
            target = msg.get("target")
            with self.lock:
                if target is not None and target == self.current_id:
                    self.current_cancel.set()
                elif target is not None:
                    self.cancelled_ids.add(str(target))
            self.out.send({"id": rid, "event": "ok", "target": target})
        elif cmd == "shutdown":
            self.stopping.set()
            self.cancel_all()
            self.out.send({"id": rid, "event": "bye"})
        elif cmd in ("generate", "info"):
            self.jobs.put(msg)
        else:
            self.out.send({"id": rid, "event": "error", "kind": "ProtocolError", "message": f"unknown command {cmd!r}"})

    def cancel_all(self) -> None:
        with self.lock:
            self.current_cancel.set()

    # ---- main thread ---------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            msg = self.jobs.get()
            if msg is None or self.stopping.is_set():
                if msg is not None:
                    self.out.send({"id": msg.get("id"), "event": "cancelled"})
                    continue
                return 0
            rid = msg.get("id")
            with self.lock:
                if rid in self.cancelled_ids:
                    self.cancelled_ids.discard(rid)
                    skip = True
                else:
                    skip = False
                    self.current_id = rid
                    self.current_cancel = threading.Event()
            if skip:
                self.out.send({"id": rid, "event": "cancelled"})
                continue
            try:
                if msg.get("cmd") == "info":
                    self.do_info(msg)
                else:
                    self.do_generate(msg)
            except Cancelled:
                self.out.send({"id": rid, "event": "cancelled"})
            except Exception as exc:  # noqa: BLE001 - every failure becomes a readable error event
                self.out.send(error_event(rid, exc))
            finally:
                with self.lock:
                    self.current_id = None

    def factory(self):
        if self._factory is None:
            self._factory = _load_factory(self.factory_spec)
        return self._factory

    def pipeline(self, weights: str | None, device: str | None, progress: Callable | None = None):
        weights = weights or self.default_weights or "face"
        device = device or self.default_device or "auto"
        key = (weights, device)
        pipe = self.pipelines.pop(key, None)
        if pipe is None:
            if progress:
                progress("load", 0.0)
            pipe = self.factory().from_pretrained(weights, device=device)
            while len(self.pipelines) >= MAX_CACHED_PIPELINES:
                self.pipelines.pop(next(iter(self.pipelines)))
        self.pipelines[key] = pipe  # most recently used last
        return pipe

    def do_info(self, msg: dict) -> None:
        from . import __version__

        info: dict[str, Any] = {
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "python": sys.executable,
            "python_version": sys.version.split()[0],
            "pid": os.getpid(),
            "device": resolve_device(msg.get("device") or self.default_device),
            "weights_found": find_weights(),
            "loaded": [f"{w} ({d})" for (w, d) in self.pipelines],
        }
        try:
            import torch

            info["torch"] = torch.__version__
            info["cuda"] = bool(torch.cuda.is_available())
        except Exception as exc:  # noqa: BLE001
            info["torch"] = f"unavailable: {exc}"
        if msg.get("weights"):
            pipe = self.pipeline(msg.get("weights"), msg.get("device"))
            info["pipeline"] = pipe.info()
        self.out.send({"id": msg.get("id"), "event": "info", "info": info})

    def do_generate(self, msg: dict) -> None:
        rid = msg.get("id")
        cancel = self.current_cancel
        best = [0.0]

        def progress(stage: str, fraction: float, scale: float = 0.95) -> None:
            if cancel.is_set():
                raise Cancelled()
            # the pipeline's own 0..1 maps to 0..0.95; saving the files is the rest
            best[0] = max(best[0], min(1.0, float(fraction) * scale))  # never goes backwards
            self.out.send({"id": rid, "event": "progress", "stage": "finishing" if stage == "done" else str(stage),
                           "fraction": best[0]})

        sketch = parse_sketch(msg.get("sketch"))
        out_dir = msg.get("out_dir")
        if not out_dir:
            raise ValueError("generate needs an 'out_dir'")
        t0 = time.perf_counter()
        pipe = self.pipeline(msg.get("weights"), msg.get("device"), progress)
        t_load = time.perf_counter() - t0
        progress("start", 0.0)
        with no_grad():
            result = pipe(
                sketch,
                seed=int(msg.get("seed", 0)),
                mesh_resolution=int(msg.get("mesh_resolution", 128)),
                smooth=bool(msg.get("smooth", True)),
                decimate_faces=int(msg.get("decimate_faces", 0)),
                progress=progress,
            )
        if cancel.is_set():
            raise Cancelled()
        progress("save", 0.95, scale=1.0)
        t1 = time.perf_counter()
        files = save_outputs(result, Path(out_dir), msg.get("formats") or ["ply"])
        t_save = time.perf_counter() - t1
        mesh = result.mesh
        label_names = list(getattr(mesh, "label_names", []) or [])
        domain = _pipe_domain(pipe, msg.get("weights") or "")
        timings = {k: float(v) for k, v in dict(getattr(result, "timings", {}) or {}).items()}
        timings["worker_load"] = t_load
        timings["worker_save"] = t_save
        timings["worker_total"] = time.perf_counter() - t0
        self.out.send({
            "id": rid, "event": "result", "files": {k: str(v) for k, v in files.items()},
            "timings": timings, "label_names": label_names, "palette": _palette(domain, len(label_names)),
            "domain": domain, "seed": int(msg.get("seed", 0)), "frame_extent": frame_extent(domain),
            "vertices": int(len(mesh.vertices)), "faces": int(len(mesh.faces)),
        })


def _pipe_domain(pipe, weights: str) -> str:
    try:
        domain = pipe.info().get("domain")
        if domain:
            return str(domain)
    except Exception:  # noqa: BLE001
        pass
    low = weights.lower()
    return "cat" if "cat" in low else "face"


def parse_sketch(sketch: Any):
    """Protocol sketch -> what S3DPipeline accepts (an image path or a list of stroke arrays)."""
    from .errors import SketchError

    if not isinstance(sketch, dict):
        raise SketchError("the request has no 'sketch' (expected {'strokes': [...]} or {'image': path})")
    if "image" in sketch:
        return str(sketch["image"])
    strokes = sketch.get("strokes")
    if not isinstance(strokes, list):
        raise SketchError("'sketch' must hold 'strokes' (a list of polylines) or 'image' (a file path)")
    import numpy as np

    out = []
    for i, s in enumerate(strokes):
        a = np.asarray(s, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] not in (2, 3) or len(a) == 0:
            raise SketchError(f"stroke {i} must be a list of [x, y] or [x, y, pressure] points")
        out.append(a)
    if not out:
        raise SketchError("sketch is empty: no strokes given")
    return out


def save_outputs(result, out_dir: Path, formats) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = result.save(out_dir, formats=tuple(formats))
    return {str(k): Path(v) for k, v in dict(files).items()}


def error_event(rid, exc: BaseException) -> dict[str, Any]:
    try:
        from .errors import S3DError
    except Exception:  # noqa: BLE001
        S3DError = ()  # type: ignore[assignment]
    event: dict[str, Any] = {"id": rid, "event": "error", "kind": type(exc).__name__}
    if S3DError and isinstance(exc, S3DError):
        event["message"] = str(exc)
    elif isinstance(exc, MemoryError):
        event["message"] = "out of memory while generating; try a lower mesh resolution"
    else:
        text = str(exc) or type(exc).__name__
        event["message"] = f"{type(exc).__name__}: {text}"
        event["traceback"] = traceback.format_exc(limit=20)
        traceback.print_exc(file=sys.stderr)
    return event


def lower_priority(n: int) -> None:
    try:
        if hasattr(os, "nice"):
            os.nice(n)
        elif sys.platform == "win32":  # pragma: no cover
            import ctypes

            below_normal = 0x4000
            ctypes.windll.kernel32.SetPriorityClass(ctypes.windll.kernel32.GetCurrentProcess(), below_normal)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3d_engine.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="weights to preload (face, cat, a .safetensors path, random:tiny:face)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--nice", type=int, default=0,
                        help="lower this process' CPU priority by N (a front end's UI thread stays responsive)")
    args = parser.parse_args(argv)
    if args.nice > 0:
        lower_priority(args.nice)
    out = ProtocolOut(claim_stdout())
    from . import __version__

    worker = Worker(out, os.environ.get("S3D_WORKER_PIPELINE"), args.weights, args.device)
    out.send({"id": None, "event": "ready", "version": __version__, "protocol": PROTOCOL_VERSION, "pid": os.getpid()})
    reader = threading.Thread(target=worker.read_loop, args=(sys.stdin,), name="s3d-stdin", daemon=True)
    reader.start()
    if args.weights:
        try:
            worker.pipeline(args.weights, args.device)
        except Exception as exc:  # noqa: BLE001 - report, keep serving (a later request may fix the weights)
            out.send(error_event(None, exc))
    code = worker.run()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
