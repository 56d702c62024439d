"""The add-on's one persistent worker, and where its settings come from. No bpy.

Settings precedence: the add-on preferences when set, else environment variables
(S3D_ENGINE_PYTHON, S3D_ENGINE_ROOT, S3D_WEIGHTS, S3D_DEVICE), else defaults: the engine that
"Install engine" put in the add-on's user folder, else a checkout's .venv; weights named after
the domain; device "auto". The user's own weights folder (prefs "Add Weights File") reaches the
worker as S3D_WEIGHTS_DIR, which the engine searches first.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Optional

from . import detect, plyio
from .client import WorkerClient


@dataclass(frozen=True)
class EngineSettings:
    python: str
    engine_root: Optional[str]
    weights: str  # may contain "{domain}"
    device: str
    weights_dir: Optional[str] = None  # the user's own .safetensors files

    def weights_for(self, domain: str) -> str:
        w = (self.weights or "{domain}").strip()
        return w.replace("{domain}", domain)


def resolve_settings(python: str = "", weights: str = "", device: str = "", engine_root: str = "",
                     installed_python: str = "", weights_dir: str = "") -> EngineSettings:
    """`installed_python`: the private engine's interpreter, when "Install engine" completed."""
    python = ((python or "").strip() or os.environ.get(detect.ENV_PYTHON, "") or installed_python
              or detect.quick_guess())
    if python:
        python = os.path.abspath(os.path.expanduser(python))
    root = (engine_root or "").strip() or os.environ.get(detect.ENV_ROOT, "")
    if root:
        root = os.path.abspath(os.path.expanduser(root))
    elif python:
        root = detect.engine_root_for(python) or ""
    weights = (weights or "").strip() or os.environ.get("S3D_WEIGHTS", "") or "{domain}"
    device = (device or "").strip().lower() or os.environ.get("S3D_DEVICE", "") or "auto"
    return EngineSettings(python, root or None, weights, device, weights_dir or None)


def parse_result(event: dict) -> Optional[plyio.PlyMesh]:
    """Runs on the client's reader thread: read the PLY while Blender's UI thread is free."""
    path = (event.get("files") or {}).get("ply")
    if not path:
        return None
    mesh = plyio.read_ply(path)
    topo = plyio.edge_topology(mesh.faces, mesh.num_vertices)
    if topo is not None:
        mesh.extra["edges"], mesh.extra["corner_edge"] = topo
    return mesh


WORKER_NICE = int(os.environ.get("S3D_WORKER_NICE", "10"))

_client: Optional[WorkerClient] = None
_key: Optional[tuple] = None
_info: Optional[dict] = None  # the last `info` reply (prefs Check), for the panel's domain gating
_lock = threading.Lock()


def get_client(settings: EngineSettings) -> WorkerClient:
    """The shared worker client for these settings (a change of interpreter restarts it)."""
    global _client, _key, _info
    key = (settings.python, settings.engine_root, settings.weights_dir)
    with _lock:
        if _client is not None and _key != key:
            _client.shutdown()
            _client = None
            _info = None  # another engine: what the old one found says nothing
        if _client is None:
            # the worker runs at a lower CPU priority: on a machine with few cores, Blender's UI
            # thread would otherwise wait for CPU time while torch uses every core
            _client = WorkerClient(settings.python, pythonpath=[settings.engine_root] if settings.engine_root else [],
                                   worker_args=["--nice", str(WORKER_NICE)], on_result=parse_result,
                                   env={"S3D_WEIGHTS_DIR": settings.weights_dir} if settings.weights_dir else None)
            _key = key
        return _client


def remember_info(info: Optional[dict]) -> None:
    global _info
    _info = dict(info) if info is not None else None


def known_weights() -> Optional[list[str]]:
    """The weights files the engine reported in its last `info` reply; None before any."""
    if _info is None:
        return None
    return [str(f) for f in _info.get("weights_found") or []]


def current_client() -> Optional[WorkerClient]:
    return _client


def shutdown() -> None:
    global _client, _key
    with _lock:
        if _client is not None:
            _client.shutdown()
        _client, _key = None, None
