"""Persistent JSON-lines worker for the Blender add-on (and any other front end): the transport.

    python -m s3d_engine.worker [--weights NAME] [--device auto|cpu|cuda] [--nice N]

One JSON object per line on stdin, one per line on stdout. Nothing else is ever written to
stdout: at start-up file descriptor 1 is duplicated for the protocol and then pointed at
stderr, so stray prints (from Python or from C extensions) land on stderr. What a generate
request means is `service.py`'s business (protocol 2 is described there); this module only
reads lines, runs jobs one at a time, and handles cancel:

    {"id", "cmd": "ping"}              -> {"id", "event": "pong", "pid", "busy"}
    {"id", "cmd": "info", ...}         -> {"id", "event": "info", "info": {...}}
    {"id", "cmd": "generate", ...}     -> progress* , mesh, result | error | cancelled
    {"id", "cmd": "cancel", "target"}  -> {"id", "event": "ok"}  (the job then ends "cancelled")
    {"id", "cmd": "shutdown"}          -> {"id", "event": "bye"}, exit 0
At start-up: {"id": null, "event": "ready", "version", "protocol", "pid"}.

Any line that is not a request (bad JSON, too long, too deeply nested, an id that is not a
string or number) answers one `error` event and the worker goes on. End of stdin (the client
went away) cancels the current job and ends the process, whatever the reader thread met.

Test hook: S3D_WORKER_PIPELINE="module:attr" replaces S3DPipeline with any object that has
`from_pretrained(name, device=...)`.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
from typing import Any

from . import service
from ._version import __version__
from .errors import Cancelled

class ProtocolOut:
    """Thread-safe writer of protocol lines on a private duplicate of the original stdout."""

    def __init__(self, stream) -> None:
        self._stream, self._lock, self.closed = stream, threading.Lock(), False

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            if self.closed:
                return
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):
                self.closed = True  # the client is gone; the reader thread will see EOF too


def claim_stdout():
    """Keep fd 1 for the protocol only: a text stream on a duplicate of fd 1; fd 1 -> stderr."""
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)


class Worker:
    def __init__(self, out: ProtocolOut, factory_spec: str | None = None, default_weights: str | None = None,
                 default_device: str = "auto") -> None:
        self.out = out
        self.cache = service.PipelineCache(lambda: service.pipeline_factory(factory_spec), default_weights,
                                             default_device)
        self.jobs: "queue.Queue[dict | None]" = queue.Queue()
        self.current_id: Any = None
        self.current_cancel = threading.Event()
        self.cancelled_ids: set = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # ---- stdin side (reader thread) -----------------------------------------------------------
    def read_loop(self, stream) -> None:
        try:
            for raw in stream:
                raw = raw.strip()
                if raw:
                    msg: dict = {}
                    try:
                        msg = service.parse_request(raw)
                        self.handle_async(msg)
                    except Exception as exc:  # noqa: BLE001 - no line may kill the reader
                        self.out.send(service.error_event(msg.get("id"), exc))
                if self.stopping.is_set():
                    break
        finally:  # EOF, a shutdown, or a broken stream: stop whatever runs, end the main loop
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
                elif isinstance(target, (str, int, float)):
                    self.cancelled_ids.add(target)
            self.out.send({"id": rid, "event": "ok", "target": target})
        elif cmd == "shutdown":
            self.stopping.set()
            self.cancel_all()
            self.out.send({"id": rid, "event": "bye"})
        elif cmd in ("generate", "info"):
            self.jobs.put(msg)
        else:
            raise service.ProtocolError(f"unknown command {cmd!r}")

    def cancel_all(self) -> None:
        with self.lock:
            self.current_cancel.set()

    # ---- main thread ---------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            msg = self.jobs.get()
            if msg is None:
                return 0
            rid = msg.get("id")
            with self.lock:
                skip = self.stopping.is_set() or rid in self.cancelled_ids
                self.cancelled_ids.discard(rid)
                if not skip:
                    self.current_id, self.current_cancel = rid, threading.Event()
            if skip:
                self.out.send({"id": rid, "event": "cancelled"})
                continue
            try:
                if msg.get("cmd") == "info":
                    self.out.send({"id": rid, "event": "info", "info": service.info_payload(self.cache, msg)})
                else:
                    service.generate(self.cache, msg, self._progress(rid, self.current_cancel), self.out.send)
            except Cancelled:
                self.out.send({"id": rid, "event": "cancelled"})
            except Exception as exc:  # noqa: BLE001 - every failure becomes a readable error event
                self.out.send(service.error_event(rid, exc))
            finally:
                with self.lock:
                    self.current_id = None

    def _progress(self, rid: Any, cancel: threading.Event):
        best = [0.0]

        def progress(stage: str, fraction: float) -> None:
            if cancel.is_set():
                raise Cancelled("cancelled by the client")
            # the pipeline's own 0..1 maps to 0..0.95; saving the files is the rest
            scaled = float(fraction) if stage == "save" else 0.95 * float(fraction)
            best[0] = max(best[0], min(1.0, scaled))  # never goes backwards
            self.out.send({"id": rid, "event": "progress", "stage": "finishing" if stage == "done" else str(stage),
                           "fraction": best[0]})
        return progress


def lower_priority(n: int) -> None:
    try:
        os.nice(n)
    except (OSError, AttributeError):  # Windows has no nice(); the worker then runs at normal priority
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3d_engine.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="weights to preload (face, cat, a .safetensors path, random:tiny:face)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--nice", type=int, default=0, help="lower this process' CPU priority by N")
    args = parser.parse_args(argv)
    if args.nice > 0:
        lower_priority(args.nice)
    out = ProtocolOut(claim_stdout())
    worker = Worker(out, os.environ.get("S3D_WORKER_PIPELINE"), args.weights, args.device)
    out.send({"id": None, "event": "ready", "version": __version__, "protocol": service.PROTOCOL_VERSION,
              "pid": os.getpid()})
    threading.Thread(target=worker.read_loop, args=(sys.stdin,), name="s3d-stdin", daemon=True).start()
    if args.weights:
        try:
            worker.cache.get(args.weights, args.device)
        except Exception as exc:  # noqa: BLE001 - report, keep serving (a later request may fix the weights)
            out.send(service.error_event(None, exc))
    code = worker.run()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
