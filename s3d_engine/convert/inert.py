"""Inert stand-ins for the objects a StyleGAN-family checkpoint names.

Allowed module classes become `InertModule` records that only hold their pickled ``__dict__``;
`torch_utils.persistence._reconstruct_persistent_obj(meta)` becomes `reconstruct_persistent_obj`,
which returns a `PersistentNode`. The embedded source is kept only as a sha256 and a length; it is
never compiled or executed, only scanned (`source_scan.scan_module_source`) so that a tampered
file is refused.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .errors import CorruptCheckpointError, UnsafeCheckpointError
from .source_scan import scan_module_source

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version in StyleGAN2-ADA/3, EG3D and pix2pix3D


class InertObject:
    """Base of every stand-in: remembers the class path the file named and its pickled state.

    It has no behaviour: no `__init__` is run, no attribute lookups are forwarded anywhere."""

    class_path = "<inert>"

    def __new__(cls, *args: Any, **kwargs: Any) -> "InertObject":
        obj = object.__new__(cls)
        object.__setattr__(obj, "state", {})
        object.__setattr__(obj, "new_args", (args, kwargs))
        return obj

    def __setstate__(self, state: Any) -> None:
        # pickle's BUILD: either a __dict__ or (dict, slot dict).
        if isinstance(state, tuple) and len(state) == 2:
            merged: dict = {}
            for part in state:
                if part is None:
                    continue
                if not isinstance(part, dict):
                    raise CorruptCheckpointError(f"{self.class_path}: unexpected pickled state {type(part).__name__}")
                merged.update(part)
            state = merged
        if state is None:
            state = {}
        if not isinstance(state, dict):
            raise CorruptCheckpointError(f"{self.class_path}: pickled state is a {type(state).__name__}, expected a dict")
        self.state.update(state)

    def __reduce__(self):  # never re-pickle a stand-in by accident
        raise TypeError("inert checkpoint stand-ins cannot be pickled")

    def __repr__(self) -> str:
        return f"<inert {self.class_path}>"


class InertModule(InertObject):
    """Stand-in for an `nn.Module` subclass pickled by import path (not persistent)."""


@dataclass(frozen=True)
class PersistentMeta:
    class_name: str
    version: int
    module_src_sha256: str
    module_src_chars: int


class PersistentNode(InertObject):
    """What `torch_utils.persistence._reconstruct_persistent_obj(meta)` becomes: the class name,
    the sha256 of the embedded source (never executed) and the object's state."""

    meta: PersistentMeta

    @property
    def class_path(self) -> str:  # type: ignore[override]
        return f"persistent:{self.meta.class_name}"


class InertEasyDict(dict):
    """`dnnlib.util.EasyDict` without attribute magic."""

    def __setstate__(self, state: Any) -> None:
        if state and not isinstance(state, dict):
            raise CorruptCheckpointError("EasyDict: unexpected pickled state")

    def __reduce__(self):
        raise TypeError("inert checkpoint stand-ins cannot be pickled")


_INERT_CLASSES: dict[str, type] = {}


def inert_class(path: str) -> type:
    """One stand-in subclass per class path, so `type(obj).class_path` names what the file said."""
    if path not in _INERT_CLASSES:
        name = path.rsplit(".", 1)[-1]
        _INERT_CLASSES[path] = type(f"Inert_{name}", (InertModule,), {"class_path": path, "__module__": __name__})
    return _INERT_CLASSES[path]


def is_node(obj: Any) -> bool:
    return isinstance(obj, InertObject)


def reconstruct_persistent_obj(meta: Any) -> PersistentNode:
    """Inert replacement for `torch_utils.persistence._reconstruct_persistent_obj`."""
    if not isinstance(meta, dict):
        raise CorruptCheckpointError(f"persistent object record is a {type(meta).__name__}, expected a dict")
    if meta.get("type") != "class":
        raise CorruptCheckpointError(f"unsupported persistent object type {meta.get('type')!r} (expected 'class')")
    version = meta.get("version")
    if version != PERSISTENCE_VERSION:
        raise CorruptCheckpointError(
            f"unsupported torch_utils.persistence version {version!r} (this converter reads version "
            f"{PERSISTENCE_VERSION}, as written by StyleGAN2-ADA, EG3D and pix2pix3D)")
    class_name = meta.get("class_name")
    source = meta.get("module_src")
    if not isinstance(class_name, str) or not class_name.isidentifier():
        raise CorruptCheckpointError(f"persistent object record has an invalid class name {class_name!r:.60}")
    if not isinstance(source, str):
        raise CorruptCheckpointError(f"persistent object {class_name}: module_src is not text")
    problem = scan_module_source(source)
    if problem:
        raise UnsafeCheckpointError(f"refusing persistent class {class_name}: {problem}. The source is never "
                                    "executed by this converter, but a file carrying it has been tampered with.")
    state = meta.get("state")
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise CorruptCheckpointError(f"persistent object {class_name}: state is a {type(state).__name__}")
    node = PersistentNode()
    node.meta = PersistentMeta(class_name=class_name, version=version,
                               module_src_sha256=hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest(),
                               module_src_chars=len(source))
    node.__setstate__(state)
    return node
