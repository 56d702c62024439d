"""Generate, as a controller object that both operator paths drive (bpy glue).

* UI: `start()` in invoke, then `step()` on every modal TIMER event. `step()` never blocks: it
  polls the worker client and runs import slices for at most a few milliseconds.
* Background (`blender -b`, tests, batch): `run_blocking()`; Blender's timers never fire there.
Tests drive `start()`/`step()` directly to exercise the modal path without an event loop.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import bpy

from . import capture
from .core import messages, placement, worker_link
from .core.request import SMOOTH_DEFAULT, generate_request
from .core.session import GenerateSession
from .importer import MeshImport
from .prefs import settings_from_context
from .view import CapturedSketch, project_sketch

ACTIVE: Optional["GenerateController"] = None  # the running UI job, if any (for the Cancel button)


class GenerateError(RuntimeError):
    pass


def set_error(context: Any, text: str) -> None:
    """The full text of the last failure, for the panel's error box and Copy Error ("" clears it)."""
    state = getattr(context.window_manager, "s3d_state", None)
    if state is not None:
        state.last_error = text


@dataclass
class _Pending:
    job: Any
    importer: MeshImport
    steps: Any


@dataclass
class GenerateController:
    seeds: list[int]
    domain: str = "face"
    mesh_resolution: int = 128
    smooth: int = SMOOTH_DEFAULT  # iterations, 0 = off
    decimate_faces: int = 0
    parts_as_materials: bool = True
    source: str = "AUTO"
    view_mode: str = "VIEW"
    settings: Optional[worker_link.EngineSettings] = None
    session: Optional[GenerateSession] = None
    sketch: Optional[CapturedSketch] = None
    world: Optional[capture.WorldSketch] = None  # the strokes in world space (placement)
    objects: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    imports: list = field(default_factory=list)
    state: str = "idle"  # idle -> running -> finished | cancelled | failed
    started: float = 0.0
    finished_at: float = 0.0
    step_times: list = field(default_factory=list)  # seconds spent in each start()/step() call
    step_notes: list = field(default_factory=list)  # what each of those calls did
    location: tuple = (0.0, 0.0, 0.0)
    out_root: str = ""
    _ui_key: tuple = ()
    step_budget: float = 0.004  # seconds of import work per step (the UI target is <= 50 ms per step)

    @classmethod
    def from_scene(cls, context: Any, count: int = 1) -> "GenerateController":
        s = context.scene.s3d
        seeds = [int(s.seed) + i for i in range(max(1, int(count)))]
        return cls(seeds=seeds, domain=s.domain.lower(), mesh_resolution=int(s.mesh_resolution), smooth=int(s.smooth_iterations) if s.smooth else 0,
                   decimate_faces=int(s.decimate_faces) if s.decimate else 0, parts_as_materials=bool(s.parts_as_materials),
                   source=s.source, view_mode=s.projection)

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self, context: Any) -> None:
        t0 = time.perf_counter()
        self.started = time.monotonic()
        set_error(context, "")
        scene = context.scene
        world = capture.capture(scene, context.view_layer.objects.active, scene.frame_current, self.source,
                                scene.objects)
        self.world = world
        self.sketch = project_sketch(context, world, self.view_mode)
        self.settings = self.settings or settings_from_context(context)
        client = worker_link.get_client(self.settings)
        self.out_root = tempfile.mkdtemp(prefix="s3d_")
        self.location = tuple(scene.cursor.location)
        params = generate_request(self.settings, self.domain, {"strokes": self.sketch.strokes},
                                  mesh_resolution=self.mesh_resolution, smooth=self.smooth,
                                  decimate_faces=self.decimate_faces)
        self.session = GenerateSession(client, params, self.seeds, self.out_root, self.sketch.name)
        self.session.start()  # raises WorkerError with a readable message if the Python is wrong
        self.state = "running"
        self._update_ui(context)
        self.step_times.append(time.perf_counter() - t0)
        self.step_notes.append("start")

    def step(self, context: Any) -> str:
        """One non-blocking polling step; returns the state."""
        t0 = time.perf_counter()
        did = []
        try:
            if self.state != "running":
                return self.state
            for job in self.session.step():
                self._job_finished(context, job)
                did.append(f"result seed {job.seed}")
            # import slices until the step's time budget is spent: short steps, few timer ticks
            while self.imports:  # at least one slice per step, more while within the budget
                pending = self.imports[0]
                try:
                    did.append(next(pending.steps))
                except StopIteration:
                    self.imports.pop(0)
                    self.objects.append(pending.importer.object)
                    self._remember(context, pending.importer)
                if time.perf_counter() - t0 >= self.step_budget:
                    break
            if self.session.finished and not self.imports:
                self.state = "cancelled" if self.session.cancelled and not self.objects else (
                    "finished" if self.objects else ("cancelled" if self.session.cancelled else "failed"))
                self.finished_at = time.monotonic()
                self._cleanup()
            self._update_ui(context)
            return self.state
        finally:
            self.step_times.append(time.perf_counter() - t0)
            self.step_notes.append(",".join(did) or "poll")

    def run_blocking(self, context: Any, timeout: Optional[float] = None, on_update=None) -> str:
        """Synchronous Generate (background mode, batch, tests)."""
        if self.state == "idle":
            self.start(context)
        self.session.wait_all(timeout, on_update)
        while self.step(context) == "running":
            pass
        return self.state

    def cancel(self, context: Any = None) -> None:
        if self.session is not None and self.state == "running":
            self.session.cancel()
            for pending in self.imports:  # imports that had started but not finished
                pending.importer.discard()
            self.imports.clear()
            self._cleanup()
            self.state = "finished" if self.objects else "cancelled"
            self.finished_at = time.monotonic()
            if context is not None:
                self._update_ui(context)

    # ---- internals ----------------------------------------------------------------------------
    def _cleanup(self) -> None:
        """The engine's files are temporary: meshes are in the scene, images are packed."""
        if self.out_root and not os.environ.get("S3D_KEEP_FILES"):
            shutil.rmtree(self.out_root, ignore_errors=True)

    def _job_finished(self, context: Any, job: Any) -> None:
        req = job.request
        if req.state == "error":
            error = messages.for_blender(str(req.error))
            self.errors.append(f"seed {job.seed}: {error}" if len(self.seeds) > 1 else error)
            set_error(context, "\n".join(self.errors))
            return
        if req.state != "done" or req.parsed is None:
            return
        ev = req.event
        sk = self.sketch
        index = self.seeds.index(job.seed)
        matrix = self._placement(req.parsed, index)
        name = f"{sk.name}_s3d" + (f"_seed{job.seed}" if len(self.seeds) > 1 else "")
        collection = getattr(context, "collection", None) or context.scene.collection
        imp = MeshImport.from_result(
            req.parsed, ev, name, collection, parts_as_materials=self.parts_as_materials,
            matrix_world=matrix,
            props={"s3d_seed": int(job.seed), "s3d_domain": ev.get("domain") or self.domain, "s3d_sketch": sk.name,
                   "s3d_view": sk.view, "s3d_weights": self.settings.weights_for(self.domain)},
            view_layer=context.view_layer)
        self.imports.append(_Pending(job, imp, imp.steps()))

    def _placement(self, mesh: Any, index: int) -> list:
        """Beside the sketch object at its scale, facing the view (core/placement.py); at the 3D
        cursor when the strokes have no object (annotations)."""
        lo, hi = placement.mesh_bounds(mesh.vertices)
        anchor = None if self.world.source == "grease_pencil" else self.location
        return placement.place_result(self.world.strokes, self.sketch.basis, lo, hi, index, anchor)

    def _remember(self, context: Any, imp: MeshImport) -> None:
        state = getattr(context.window_manager, "s3d_state", None)
        if state is not None:
            state.last_object = imp.object.name
            state.last_mask = imp.image_names.get("mask_rgb", "")
            state.last_front = imp.image_names.get("front", "")

    def status_text(self) -> str:
        if self.state == "running" and self.session is not None:
            if self.imports:
                return "importing mesh"
            return self.session.status_text()
        if self.state == "finished":
            took = (self.finished_at or time.monotonic()) - self.started
            text = f"done: {len(self.objects)} object(s) in {took:.1f} s"
            return text + (f", {len(self.errors)} failed" if self.errors else "")
        if self.state == "cancelled":
            return "cancelled"
        if self.state == "failed":
            return "failed: " + (self.errors[0] if self.errors else "unknown error")
        return ""

    @property
    def importing(self) -> bool:
        """True while import slices are pending: the caller should step again soon (a few ms), since
        each slice is short and Blender handles events between them."""
        return bool(self.imports)

    @property
    def progress(self) -> float:
        return self.session.progress if self.session is not None else 0.0

    def _update_ui(self, context: Any) -> None:
        """Push status and progress to the panel and the status bar, only when they changed, and
        redraw only the sidebar (redrawing the whole 3D view every tick is what costs)."""
        text = self.status_text()
        key = (self.state, text, int(self.progress * 100))
        if key == self._ui_key:
            return
        self._ui_key = key
        wm = context.window_manager
        state = getattr(wm, "s3d_state", None)
        if state is not None:
            state.running = self.state == "running"
            state.progress = self.progress
            state.status = text
        if bpy.app.background:
            return
        workspace = getattr(context, "workspace", None)
        if workspace is not None:
            try:
                workspace.status_text_set(f"S3D: {text}  (Esc to cancel)" if self.state == "running" else None)
            except (AttributeError, TypeError, RuntimeError):
                pass
        for window in wm.windows:
            for area in window.screen.areas:
                if area.type == "VIEW_3D":
                    for region in area.regions:
                        if region.type == "UI":
                            region.tag_redraw()
