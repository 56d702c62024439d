"""S3D for Blender: Grease Pencil sketch -> labelled 3D head mesh.

The engine (torch) runs out of process in its own Python; see docs/BLENDER.md. Importing this
package does not import bpy: the pure-Python parts (projection, capture, client, session,
plyio, batch planning) are usable and testable without Blender.
"""

bl_info = {
    "name": "S3D: Sketch to 3D",
    "author": "S3D for Blender contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > S3D",
    "description": "Turn Grease Pencil face and cat sketches into labelled 3D meshes",
    "doc_url": "",
    "category": "3D View",
}

__version__ = "0.1.0"

_MODULES = ("props", "install_ops", "prefs", "operators", "ui")


def _modules():
    import importlib

    return [importlib.import_module(f".{name}", __package__) for name in _MODULES]


def register():
    for mod in _modules():
        mod.register()


def unregister():
    from .core import worker_link

    worker_link.shutdown()
    for mod in reversed(_modules()):
        try:
            mod.unregister()
        except (RuntimeError, ValueError, AttributeError) as exc:  # keep unregistering the rest
            print(f"S3D: unregister {mod.__name__}: {exc}")
