"""The one place the add-on builds a generate request, for the panel and the batch alike. No bpy.

It speaks the engine's worker protocol 2: every generation option travels in "options", with
the names of the engine's `GenerateOptions` (s3d_engine/options.py; a test walks each one from
here to the pipeline), and the domain is always sent so the engine can check it against the
weights. The add-on reads the mesh from the PLY, so that is the one format it asks for.
"""
from __future__ import annotations

from typing import Any

PROTOCOL_VERSION = 2
SMOOTH_DEFAULT = 10  # Taubin iterations when the panel's Smoothing box is ticked


def generate_request(settings: Any, domain: str, sketch: dict, *, mesh_resolution: int, smooth: int,
                     decimate_faces: int, render: bool = True, glb: bool = False) -> dict[str, Any]:
    """A request without seed and output folder (`for_seed` adds them per job).

    Args:
        settings: the engine settings (`weights_for(domain)` and `device`).
        domain: 'face' or 'cat'.
        sketch: {"strokes": [...]} or {"image": path}.
        smooth: smoothing iterations (0 = off), kept as a number all the way to the mesh.
        glb: also write a GLB beside the PLY the add-on imports (the batch's --glb).
    """
    return {
        "protocol": PROTOCOL_VERSION, "weights": settings.weights_for(domain), "sketch": sketch,
        "options": {"mesh_resolution": int(mesh_resolution), "smooth": int(smooth),
                    "decimate_faces": int(decimate_faces), "formats": ["ply", "glb"] if glb else ["ply"],
                    "render": bool(render),
                    "device": settings.device, "domain": domain},
    }


def for_seed(request: dict[str, Any], seed: int, out_dir: str) -> dict[str, Any]:
    """The request for one seed, written into `out_dir`."""
    return {**request, "options": {**request["options"], "seed": int(seed)}, "out_dir": out_dir}
