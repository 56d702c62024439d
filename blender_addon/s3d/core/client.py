"""Client for the engine worker (`python -m s3d_engine.worker`): pure Python, no bpy.

The worker runs in the engine's own Python (which has torch); Blender only talks JSON lines
to it. Three helper threads keep the caller's thread free: a writer (requests -> stdin), a
reader (stdout -> an inbox queue; it also runs an optional `on_result` hook, e.g. PLY
parsing, off the caller's thread) and a stderr drain (kept as a tail for error reports).
The caller's thread only ever calls `poll()` (non-blocking) or `wait()` (blocking, for batch
mode), so Blender's UI thread never waits on a pipe.
"""
from __future__ import annotations

import collections
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterable, Optional

TERMINAL_EVENTS = {"result", "error", "cancelled", "info", "pong", "ok", "bye"}


class WorkerError(RuntimeError):
    """The worker could not be started or stopped unexpectedly."""


class Request:
    """One request to the worker and everything it has reported so far."""

    def __init__(self, rid: str, cmd: str, payload: dict[str, Any], generation: int) -> None:
        self.id = rid
        self.cmd = cmd
        self.payload = payload
        self.generation = generation
        self.state = "pending"  # pending -> running -> done | error | cancelled
        self.stage = "queued"
        self.fraction = 0.0
        self.event: Optional[dict[str, Any]] = None  # the terminal event
        self.error: Optional[str] = None
        self.parsed: Any = None  # what the on_result hook returned
        self.created = time.monotonic()
        self.finished_at: Optional[float] = None
        self.cancel_requested = False
        self.stderr_mark = 0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "error", "cancelled")

    def __repr__(self) -> str:
        return f"<Request {self.id} {self.cmd} {self.state} {self.stage} {self.fraction:.2f}>"


def worker_env(pythonpath: Iterable[str] = (), extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """Environment for the worker: Blender's own Python settings must not leak into the
    engine's interpreter, the engine source folder (if given) goes on PYTHONPATH."""
    env = dict(os.environ)
    for key in ("PYTHONHOME", "PYTHONEXECUTABLE", "PYTHONNOUSERSITE", "__PYVENV_LAUNCHER__"):
        env.pop(key, None)
    paths = [p for p in pythonpath if p]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    if extra:
        env.update(extra)
    return env


class WorkerClient:
    """Starts the worker on demand, restarts it after it dies, routes events to requests."""

    def __init__(self, python: str, pythonpath: Iterable[str] = (), worker_args: Iterable[str] = (),
                 env: Optional[dict[str, str]] = None, on_result: Optional[Callable[[dict], Any]] = None,
                 hard_cancel_after: float = 8.0, log: Optional[Callable[[str], None]] = None,
                 cwd: Optional[str] = None) -> None:
        self.python = python
        self.pythonpath = list(pythonpath)
        self.worker_args = list(worker_args)
        self.extra_env = dict(env or {})
        self.on_result = on_result
        self.hard_cancel_after = hard_cancel_after
        self.log = log or (lambda line: sys.stderr.write(f"[s3d worker] {line}\n"))
        self.cwd = cwd
        self.proc: Optional[subprocess.Popen] = None
        self.generation = 0
        self.starts = 0
        self.ready_event: Optional[dict] = None
        self.requests: dict[str, Request] = {}
        self.stderr_tail: collections.deque[tuple[int, str]] = collections.deque(maxlen=60)
        self._stderr_count = 0
        self._stderr_thread: Optional[threading.Thread] = None
        self._inbox: "queue.Queue[tuple[int, dict]]" = queue.Queue()
        self._outbox: "queue.Queue[Optional[str]]" = queue.Queue()
        self._ids = itertools.count(1)
        self._kill_deadlines: dict[str, float] = {}
        self._lock = threading.Lock()
        self.last_exit: Optional[str] = None

    # ---- process management -------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def command(self) -> list[str]:
        return [self.python, "-u", "-m", "s3d_engine.worker", *self.worker_args]

    def start(self) -> None:
        if self.alive:
            return
        if not self.python:
            raise WorkerError("no engine Python is set: choose the engine's interpreter in the add-on preferences "
                              "(or set S3D_ENGINE_PYTHON)")
        if not os.path.isfile(self.python):
            raise WorkerError(f"engine Python not found: {self.python!r}; fix it in the add-on preferences")
        self.generation += 1
        self.starts += 1
        self.ready_event = None
        self._outbox = queue.Queue()
        kwargs: dict[str, Any] = {}
        if os.name == "nt":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, encoding="utf-8", errors="replace", bufsize=1, cwd=self.cwd,
                env=worker_env(self.pythonpath, self.extra_env), **kwargs)
        except OSError as exc:
            self.proc = None
            raise WorkerError(f"cannot start the engine worker with {self.python!r}: {exc}") from None
        gen, proc, outbox = self.generation, self.proc, self._outbox
        threading.Thread(target=self._read_stdout, args=(proc, gen), daemon=True, name="s3d-read").start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, args=(proc,), daemon=True, name="s3d-stderr")
        self._stderr_thread.start()
        threading.Thread(target=self._write_stdin, args=(proc, outbox), daemon=True, name="s3d-write").start()

    def _write_stdin(self, proc: subprocess.Popen, outbox: "queue.Queue[Optional[str]]") -> None:
        while True:
            line = outbox.get()
            if line is None:
                break
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                break
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass

    def _read_stdout(self, proc: subprocess.Popen, gen: int) -> None:
        for line in proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                self.log(f"(not a protocol line) {line}")
                continue
            if event.get("event") == "result" and self.on_result is not None:
                try:
                    event["_parsed"] = self.on_result(event)
                except Exception as exc:  # noqa: BLE001 - becomes the request's error
                    event = {"id": event.get("id"), "event": "error", "kind": type(exc).__name__,
                             "message": f"cannot read the engine's result: {exc}"}
            self._inbox.put((gen, event))
        rc = proc.wait()
        self._inbox.put((gen, {"id": None, "event": "exit", "returncode": rc}))

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            line = line.rstrip("\n")
            self._stderr_count += 1
            self.stderr_tail.append((self._stderr_count, line))
            self.log(line)

    def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def shutdown(self, timeout: float = 3.0) -> None:
        """Ask the worker to exit, kill it if it does not; pending requests end as cancelled."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            self._outbox.put(json.dumps({"id": "shutdown", "cmd": "shutdown"}) + "\n")
            self._outbox.put(None)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
        for req in self.requests.values():
            if not req.finished:
                self._finish(req, "cancelled", None, "the engine worker was shut down")
        self.requests.clear()
        self.proc = None

    # ---- requests -----------------------------------------------------------------------------
    def submit(self, cmd: str, **payload: Any) -> Request:
        """Send a request (starting or restarting the worker if needed); never blocks on the pipe."""
        if not self.alive:
            if self.proc is not None:
                self._reap()
            self.start()
        rid = f"r{next(self._ids)}"
        req = Request(rid, cmd, payload, self.generation)
        req.stderr_mark = self._stderr_count
        self.requests[rid] = req
        self._outbox.put(json.dumps({"id": rid, "cmd": cmd, **payload}) + "\n")
        return req

    def cancel(self, req: Request) -> None:
        """Cancel at once on our side; the worker stops at its next stage boundary. If it has not
        confirmed within `hard_cancel_after` seconds the process is killed (and restarted lazily)."""
        if req.finished:
            return
        req.cancel_requested = True
        if self.alive and req.generation == self.generation:
            self._outbox.put(json.dumps({"id": f"c{next(self._ids)}", "cmd": "cancel", "target": req.id}) + "\n")
            if req.state == "running" and self.hard_cancel_after is not None:
                self._kill_deadlines[req.id] = time.monotonic() + self.hard_cancel_after
        self._finish(req, "cancelled", None, None)

    def poll(self) -> list[Request]:
        """Apply every event received so far; returns the requests that changed. Non-blocking."""
        changed: list[Request] = []
        while True:
            try:
                gen, event = self._inbox.get_nowait()
            except queue.Empty:
                break
            req = self._apply(gen, event)
            if req is not None and req not in changed:
                changed.append(req)
        self._check_kill_deadlines()
        return changed

    def wait(self, req: Request, timeout: Optional[float] = None,
             on_update: Optional[Callable[[Request], None]] = None) -> Request:
        """Block until `req` finishes (batch mode and tests). Raises TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not req.finished:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"the engine did not answer {req.cmd} within {timeout} s")
            try:
                gen, event = self._inbox.get(timeout=0.2 if remaining is None else max(0.001, min(0.2, remaining)))
            except queue.Empty:
                self._check_kill_deadlines()
                if self.proc is not None and self.proc.poll() is not None and self._inbox.empty():
                    time.sleep(0.05)  # the reader thread is about to post the exit event
                continue
            changed = self._apply(gen, event)
            if changed is not None and on_update is not None:
                on_update(changed)
        return req

    def request(self, cmd: str, timeout: Optional[float] = None, **payload: Any) -> Request:
        """Submit and wait (blocking convenience)."""
        return self.wait(self.submit(cmd, **payload), timeout)

    # ---- internals ----------------------------------------------------------------------------
    def _apply(self, gen: int, event: dict) -> Optional[Request]:
        kind = event.get("event")
        if kind == "exit":
            if gen == self.generation:
                self._on_exit(event.get("returncode"))
            return None
        if gen != self.generation:
            return None  # a late line from a worker we already replaced
        if kind == "ready":
            self.ready_event = event
            return None
        rid = event.get("id")
        req = self.requests.get(rid) if rid is not None else None
        if req is None:
            if kind == "error":
                self.log(f"error: {event.get('message')}")
            return None
        if req.finished:  # cancelled on our side; drop late events, forget the request
            if kind in TERMINAL_EVENTS:
                self.requests.pop(rid, None)
                self._kill_deadlines.pop(rid, None)
            return None
        if kind == "progress":
            req.state = "running"
            req.stage = str(event.get("stage", ""))
            req.fraction = max(req.fraction, float(event.get("fraction", 0.0)))
        elif kind == "error":
            self._finish(req, "error", event, event.get("message") or "unknown engine error")
        elif kind == "cancelled":
            self._finish(req, "cancelled", event, None)
        elif kind in TERMINAL_EVENTS:
            req.parsed = event.pop("_parsed", None)
            self._finish(req, "done", event, None)
        return req

    def _finish(self, req: Request, state: str, event: Optional[dict], error: Optional[str]) -> None:
        req.state = state
        req.event = event
        req.error = error
        req.finished_at = time.monotonic()
        if state == "done":
            req.stage, req.fraction = "done", 1.0
        if event is not None or state != "cancelled":
            self.requests.pop(req.id, None)

    def stderr_since(self, mark: int = 0, limit: int = 6) -> list[str]:
        return [line for n, line in list(self.stderr_tail) if n > mark and line.strip()][-limit:]

    def _on_exit(self, returncode: Any) -> None:
        base = f"the engine worker stopped unexpectedly (exit code {returncode})"
        if self._stderr_thread is not None:
            self._stderr_thread.join(1.0)  # the last lines of a crash: EOF is imminent, the process has exited
        self.last_exit = base
        for req in list(self.requests.values()):
            if not req.finished:
                tail = self.stderr_since(req.stderr_mark)
                self._finish(req, "error", None, base + (": " + " | ".join(tail) if tail else ""))
        self.requests.clear()
        self._kill_deadlines.clear()
        self._reap()

    def _reap(self) -> None:
        proc = self.proc
        if proc is not None:
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
            self._outbox.put(None)
        self.proc = None

    def _check_kill_deadlines(self) -> None:
        if not self._kill_deadlines:
            return
        now = time.monotonic()
        for rid, deadline in list(self._kill_deadlines.items()):
            if now >= deadline:
                self._kill_deadlines.clear()
                self.log(f"job {rid} did not stop after cancel; restarting the engine worker")
                self.kill()
                self.generation += 1  # ignore whatever the old process still says
                for req in list(self.requests.values()):
                    if not req.finished:
                        self._finish(req, "error", None, "the engine worker was restarted after a cancel")
                self.requests.clear()
                self._reap()
                break
