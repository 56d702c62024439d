"""A restricted unpickler for StyleGAN-family checkpoints (pix2pix3D, EG3D).

The published pix2pix3D `.pkl` files are plain `pickle.dump`s of whole `nn.Module`s. Ordinary
unpickling imports and calls whatever globals the file names, and the `torch_utils.persistence`
records embed Python source (`module_src`) that the upstream loader executes. Here nothing of
the sort happens:

* `find_class` answers only from a fixed allow-list. Every other global (``os.system``,
  ``builtins.eval``, ``subprocess.Popen``, ...) raises `UnsafeCheckpointError` before anything
  is called.
* Allowed names resolve to inert stand-ins written here: module classes become `InertModule`
  records that only hold their pickled ``__dict__``; `_reconstruct_persistent_obj(meta)` becomes
  a function that returns a `PersistentNode`. The embedded source is kept as text (its sha256 is
  recorded) and never compiled or executed; it is parsed with `ast` only to refuse files whose
  source would run dangerous calls at import time (defence in depth, see `scan_module_source`).
* Tensors: with plain pickle a tensor pickles as
  ``torch._utils._rebuild_tensor_v2(torch.storage._load_from_bytes(B), offset, size, stride,
  requires_grad, hooks)``, and `_load_from_bytes` would call an unrestricted `torch.load` on `B`.
  `B` is a small legacy (non-zip) torch.save stream: a magic number, a protocol number, a system
  info dict, the storage's persistent id, the list of storage keys, then for each key an int64
  element count followed by the raw little-endian bytes. We parse that stream ourselves with the
  same restricted unpickler (which allows only the storage type names) and copy the bytes into
  a fresh tensor. The torch.save zip format (``archive/data.pkl`` + ``archive/data/<key>``) and
  the legacy torch.save file format are read the same way.
"""
from __future__ import annotations

import _compat_pickle
import ast
import collections
import hashlib
import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np
import torch

from ..errors import WeightsError

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version in StyleGAN2-ADA/3, EG3D and pix2pix3D
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # torch.serialization.PROTOCOL_VERSION
MAX_NODE_DEPTH = 64


class UnsafeCheckpointError(WeightsError):
    """The checkpoint names a global outside the allow-list or embeds code we refuse."""


class CorruptCheckpointError(WeightsError):
    """The checkpoint is truncated, not a pickle, or structurally wrong."""


# ---------------------------------------------------------------------------------------------
# Inert stand-ins
# ---------------------------------------------------------------------------------------------


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


def _inert_class(path: str) -> type:
    """One stand-in subclass per class path, so `type(obj).class_path` names what the file said."""
    if path not in _INERT_CLASSES:
        name = path.rsplit(".", 1)[-1]
        _INERT_CLASSES[path] = type(f"Inert_{name}", (InertModule,), {"class_path": path, "__module__": __name__})
    return _INERT_CLASSES[path]


def is_node(obj: Any) -> bool:
    return isinstance(obj, InertObject)


# ---------------------------------------------------------------------------------------------
# Tensors and storages
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageType:
    """Marker for `torch.FloatStorage` & co.: only carries the element type."""

    name: str
    dtype: torch.dtype


_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "UntypedStorage": torch.uint8,
}


class Storage:
    """A flat tensor standing in for a torch storage; filled in place for the legacy format."""

    __slots__ = ("data",)

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data

    @property
    def dtype(self) -> torch.dtype:
        return self.data.dtype

    def __reduce__(self):
        raise TypeError("inert checkpoint stand-ins cannot be pickled")


def _check_int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise CorruptCheckpointError(f"malformed tensor record: {what} is {value!r}")
    return value


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
    if not isinstance(storage, Storage):
        raise CorruptCheckpointError(f"malformed tensor record: storage is a {type(storage).__name__}")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise CorruptCheckpointError(f"malformed tensor record: offset {storage_offset!r}")
    size = _check_int_tuple(size, "size")
    stride = _check_int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise CorruptCheckpointError("malformed tensor record: size and stride differ in length")
    numel = 1
    for s in size:
        numel *= s
    if numel:
        last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= storage.data.numel():
            raise CorruptCheckpointError(
                f"malformed tensor record: a {list(size)} tensor reaches element {last} of a storage of "
                f"{storage.data.numel()}")
    return torch.as_strided(storage.data, size, stride, storage_offset)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    if backward_hooks and not isinstance(backward_hooks, dict):
        raise CorruptCheckpointError("malformed tensor record: backward hooks")
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise CorruptCheckpointError(f"malformed parameter record: data is a {type(data).__name__}")
    return data


def _rebuild_parameter_with_state(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                                  state: Any = None) -> torch.Tensor:
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> torch.Tensor:
    if func not in (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter) or not isinstance(args, tuple):
        raise UnsafeCheckpointError("refusing a tensor subclass record that calls something other than a tensor rebuild")
    if new_type not in (_TENSOR_TYPE, _PARAMETER_TYPE):
        raise UnsafeCheckpointError(f"refusing tensor subclass {new_type!r:.60}")
    return func(*args)


class _TypeMarker:
    """Stands for a class the file may name but that must never be called."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<marker {self.path}>"


_TENSOR_TYPE = _TypeMarker("torch.Tensor")
_PARAMETER_TYPE = _TypeMarker("torch.nn.parameter.Parameter")


def _read_exact(stream: BinaryIO, count: int, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise CorruptCheckpointError(f"{what} is truncated: expected {count} bytes, found {len(data)}")
    return data


def _storage_from_bytes(raw: bytes | bytearray, dtype: torch.dtype, numel: int) -> torch.Tensor:
    elem = torch.empty((), dtype=dtype).element_size()
    if len(raw) != numel * elem:
        raise CorruptCheckpointError(f"storage holds {len(raw)} bytes, expected {numel} x {elem}")
    if numel == 0:
        return torch.empty(0, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=dtype)


class _LegacyRecords:
    """persistent_load for the legacy (non-zip) torch.save format: storages are allocated when
    referenced and filled from the data section that follows the pickles."""

    def __init__(self, max_bytes: int) -> None:
        self.roots: dict[str, Storage] = {}
        self.max_bytes = max_bytes  # what the stream can hold: bounds allocations from bogus counts
        self.allocated = 0

    def __call__(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise UnsafeCheckpointError(f"refusing persistent record {pid!r:.80}: only tensor storages are allowed")
        if len(pid) not in (5, 6):
            raise CorruptCheckpointError(f"malformed storage record {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, StorageType) or not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise CorruptCheckpointError(f"malformed storage record {pid!r:.80}")
        root = self.roots.get(key)
        if root is None:
            self.allocated += numel * torch.empty((), dtype=storage_type.dtype).element_size()
            if self.allocated > self.max_bytes:
                raise CorruptCheckpointError(f"storage {key!r:.20} claims more data than the file holds")
            root = self.roots[key] = Storage(torch.empty(numel, dtype=storage_type.dtype))
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, int) for v in view[1:])):
            raise CorruptCheckpointError(f"malformed storage view {view!r:.80}")
        _view_key, offset, view_size = view
        if offset < 0 or view_size < 0 or offset + view_size > numel:
            raise CorruptCheckpointError("storage view outside its storage")
        return Storage(root.data[offset:offset + view_size])

    def fill(self, stream: BinaryIO, keys: Any, what: str) -> None:
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise CorruptCheckpointError(f"{what}: malformed storage key list")
        for key in keys:
            if key not in self.roots:
                raise CorruptCheckpointError(f"{what}: data for unknown storage {key!r}")
            target = self.roots[key].data
            (numel,) = struct.unpack("<q", _read_exact(stream, 8, what))
            if numel != target.numel():
                raise CorruptCheckpointError(f"{what}: storage {key} has {numel} elements, expected {target.numel()}")
            raw = _read_exact(stream, numel * target.element_size(), what)
            if numel:
                target.copy_(_storage_from_bytes(raw, target.dtype, numel))


def _read_legacy_stream(stream: BinaryIO, what: str, expect_storage: bool, max_bytes: int) -> Any:
    """The legacy torch.save layout, read with restricted unpicklers throughout."""
    magic = RestrictedUnpickler(stream, allow=STORAGE_GLOBALS).load()
    if magic != LEGACY_MAGIC:
        raise CorruptCheckpointError(f"{what}: not a torch serialisation stream (bad magic number)")
    protocol = RestrictedUnpickler(stream, allow=STORAGE_GLOBALS).load()
    if protocol != LEGACY_PROTOCOL:
        raise CorruptCheckpointError(f"{what}: unsupported torch serialisation protocol {protocol!r}")
    sys_info = RestrictedUnpickler(stream, allow=STORAGE_GLOBALS).load()
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise CorruptCheckpointError(f"{what}: only little-endian torch streams are supported")
    records = _LegacyRecords(max_bytes)
    allow = STORAGE_GLOBALS if expect_storage else ALLOWED_GLOBALS
    obj = RestrictedUnpickler(stream, allow=allow, persistent_load=records).load()
    keys = RestrictedUnpickler(stream, allow=STORAGE_GLOBALS).load()
    records.fill(stream, keys, what)
    if expect_storage and not isinstance(obj, Storage):
        raise CorruptCheckpointError(f"{what}: expected a storage, found a {type(obj).__name__}")
    return obj


def _load_from_bytes(data: Any) -> Storage:
    """Safe replacement for `torch.storage._load_from_bytes` (which calls an unrestricted torch.load)."""
    if not isinstance(data, (bytes, bytearray)):
        raise CorruptCheckpointError(f"storage record holds a {type(data).__name__}, expected bytes")
    return _read_legacy_stream(io.BytesIO(data), "an embedded tensor storage", expect_storage=True,
                               max_bytes=len(data))


# ---------------------------------------------------------------------------------------------
# numpy scalars and arrays (StyleGAN modules keep e.g. `weight_gain = 1 / np.sqrt(fan_in)`)
# ---------------------------------------------------------------------------------------------

_NUMPY_DTYPES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "c8", "c16"}


def _np_dtype(obj: Any, align: Any = False, copy: Any = False) -> np.dtype:
    if not isinstance(obj, str) or obj not in _NUMPY_DTYPES or not isinstance(align, bool) or not isinstance(copy, bool):
        raise UnsafeCheckpointError(f"refusing numpy dtype {obj!r:.40}: only plain numeric dtypes are allowed")
    return np.dtype(obj, align=align, copy=True)  # a copy: BUILD must not touch numpy's singletons


def _np_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray or not isinstance(shape, tuple) or not isinstance(dtype, (bytes, str)):
        raise UnsafeCheckpointError("refusing a numpy array record of an unexpected type")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)  # shape, dtype and contents arrive through BUILD


def _np_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
    """Protocol 5 array records."""
    if (not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)) or not isinstance(dtype, np.dtype)
            or dtype.hasobject or order not in ("C", "F")):
        raise UnsafeCheckpointError("refusing a numpy buffer record of an unexpected type")
    shape = _check_int_tuple(shape, "numpy shape")
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order).copy()


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise UnsafeCheckpointError("refusing a numpy scalar record of an unexpected type")
    if len(data) != dtype.itemsize:
        raise CorruptCheckpointError("numpy scalar record has the wrong size")
    return np.frombuffer(data, dtype=dtype)[0]


# ---------------------------------------------------------------------------------------------
# Persistent records
# ---------------------------------------------------------------------------------------------

# Calls that have no business running when a network-definition module is imported.
_DANGEROUS_BUILTINS = frozenset({  # called by bare name
    "exec", "eval", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "breakpoint", "input",
})
_DANGEROUS_ATTRIBUTES = frozenset({  # called as module.attr(...) or obj.attr(...)
    "system", "popen", "Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput",
    "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp", "execv", "execve", "execl", "execle", "execlp",
    "execvp", "execvpe", "fork", "forkpty", "startfile", "open", "import_module", "__import__", "remove",
    "unlink", "rmdir", "removedirs", "rmtree", "rename", "renames", "mkdir", "makedirs", "write_text",
    "write_bytes", "touch", "urlopen", "urlretrieve", "create_connection", "kill", "killpg", "putenv",
    "chmod", "chown", "load", "loads", "symlink", "link", "truncate",
})
_DANGEROUS_NAMES_ANYWHERE = frozenset({"__builtins__", "__import__", "exec", "eval", "breakpoint"})
_SOURCE_CACHE: dict[str, str | None] = {}


def _call_target(func: ast.expr) -> list[str]:
    names: list[str] = []
    while isinstance(func, ast.Attribute):
        names.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        names.append(func.id)
    return names


class _ImportTimeScanner(ast.NodeVisitor):
    """Visits only what runs when the module is imported: module and class bodies, decorators,
    default values, base classes. Function and lambda bodies are skipped (they run only if called),
    as is an `if __name__ == "__main__":` block."""

    def __init__(self) -> None:
        self.findings: list[str] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]:
            self.visit(expr)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in [*node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]]:
            self.visit(expr)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
                and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value == "__main__"):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            bad = func.id in _DANGEROUS_BUILTINS
        elif isinstance(func, ast.Attribute):
            bad = func.attr in _DANGEROUS_ATTRIBUTES
        else:  # calling the result of a call or subscript: f(x)(y), table[k](y)
            bad = True
        if bad:
            names = _call_target(func)
            self.findings.append(f"line {node.lineno}: {'.'.join(reversed(names)) or 'a computed function'}(...)")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in _DANGEROUS_NAMES_ANYWHERE:
            self.findings.append(f"line {node.lineno}: {node.id}")


def scan_module_source(source: str) -> str | None:
    """Return a description of import-time code we refuse, or None. The source is parsed, never run."""
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    if digest in _SOURCE_CACHE:
        return _SOURCE_CACHE[digest]
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        result: str | None = f"the embedded source does not parse ({type(exc).__name__})"
    else:
        scanner = _ImportTimeScanner()
        for stmt in tree.body:
            scanner.visit(stmt)
        result = ("the embedded source would run " + ", ".join(scanner.findings[:3])
                  + (" ..." if len(scanner.findings) > 3 else "") + " when imported") if scanner.findings else None
    _SOURCE_CACHE[digest] = result
    return result


def _reconstruct_persistent_obj(meta: Any) -> PersistentNode:
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


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """Protocol 0/1 object records: only our own stand-ins may be instantiated this way."""
    if not (isinstance(cls, type) and issubclass(cls, (InertObject, InertEasyDict))) or base not in (object, dict):
        raise UnsafeCheckpointError(f"refusing copyreg reconstruction of {cls!r:.60}")
    if state is not None:
        raise UnsafeCheckpointError("refusing copyreg reconstruction with a base state")
    return cls.__new__(cls)


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """Protocol 2 pickles store bytes as `_codecs.encode(str, 'latin1')`."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError("refusing an unexpected _codecs.encode record")
    return text.encode("latin1")


def _torch_size(value: Any = ()) -> torch.Size:
    return torch.Size(_check_int_tuple(tuple(value) if isinstance(value, list) else value, "size"))


def _torch_device(spec: Any, index: Any = None) -> str:
    if not isinstance(spec, str) or len(spec) > 32:
        raise UnsafeCheckpointError("refusing a malformed torch.device record")
    return spec if index is None else f"{spec}:{int(index)}"


# ---------------------------------------------------------------------------------------------
# The allow-list
# ---------------------------------------------------------------------------------------------

# Module classes pickled by import path in pix2pix3D / EG3D checkpoints (not persistent classes).
KNOWN_MODULE_CLASSES = (
    "training.triplane_cond.OSGDecoder_semantic_lateSeparate",
    "training.triplane_cond.OSGDecoder_semantic",
    "training.triplane_cond.OSGDecoder",
    "training.triplane.OSGDecoder",
    "training.volumetric_rendering.renderer.ImportanceRenderer",
    "training.volumetric_rendering.renderer.ImportanceSemanticRenderer",
    "training.volumetric_rendering.ray_marcher.MipRayMarcher2",
    "training.volumetric_rendering.ray_marcher.MipRayMarcher2Semantic",
    "training.volumetric_rendering.ray_sampler.RaySampler",
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.ModuleDict",
    "torch.nn.modules.container.ParameterList",
    "torch.nn.modules.container.ParameterDict",
    "torch.nn.modules.activation.Softplus",
    "torch.nn.modules.activation.ReLU",
    "torch.nn.modules.activation.LeakyReLU",
    "torch.nn.modules.activation.Sigmoid",
    "torch.nn.modules.activation.Tanh",
    "torch.nn.modules.linear.Identity",
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.conv.Conv2d",
    "torch.nn.modules.pooling.AvgPool2d",
    "torch.nn.modules.pooling.MaxPool2d",
    "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.dropout.Dropout",
    "torch.nn.modules.upsampling.Upsample",
    "torch.nn.modules.flatten.Flatten",
)


def _build_allow_list() -> dict[tuple[str, str], Any]:
    table: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "object"): object,
        ("builtins", "dict"): dict,
        ("copyreg", "_reconstructor"): _copyreg_reconstructor,
        ("_codecs", "encode"): _codecs_encode,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Tensor"): _TENSOR_TYPE,
        ("torch.nn.parameter", "Parameter"): _PARAMETER_TYPE,
        ("torch.storage", "_load_from_bytes"): _load_from_bytes,
        ("torch", "Size"): _torch_size,
        ("torch", "device"): _torch_device,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): InertEasyDict,
        ("dnnlib", "EasyDict"): InertEasyDict,
        ("numpy", "dtype"): _np_dtype,
        ("numpy", "ndarray"): np.ndarray,
    }
    for numpy_core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(numpy_core, "_reconstruct")] = _np_reconstruct
        table[(numpy_core, "scalar")] = _np_scalar
    for numpy_numeric in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(numpy_numeric, "_frombuffer")] = _np_frombuffer
    for dtype_name in ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"):
        table[("torch", dtype_name)] = getattr(torch, dtype_name)
    table[("torch", "contiguous_format")] = torch.contiguous_format
    table[("torch", "channels_last")] = torch.channels_last
    table.update(STORAGE_GLOBALS)
    for path in KNOWN_MODULE_CLASSES:
        module, _, name = path.rpartition(".")
        table[(module, name)] = _inert_class(path)
    return table


STORAGE_GLOBALS: dict[tuple[str, str], Any] = {}
for _name, _dtype in _STORAGE_DTYPES.items():
    for _module in ("torch", "torch.cuda", "torch.storage"):
        STORAGE_GLOBALS[(_module, _name)] = StorageType(_name, _dtype)
ALLOWED_GLOBALS = _build_allow_list()


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose globals come only from `allow`; persistent ids only via `persistent_load`."""

    def __init__(self, stream: BinaryIO, allow: dict[tuple[str, str], Any] | None = None,
                 persistent_load: Callable[[Any], Any] | None = None) -> None:
        super().__init__(stream)
        self._allow = ALLOWED_GLOBALS if allow is None else allow
        self._persistent = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles use Python 2 names (__builtin__.set, copy_reg._reconstructor).
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        try:
            return self._allow[(module, name)]
        except (KeyError, TypeError):
            raise UnsafeCheckpointError(
                f"refusing to load global '{module}.{name}': it is not on the allow-list of things a "
                "pix2pix3D checkpoint may contain, so the file was not loaded and nothing in it was run") from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise UnsafeCheckpointError(f"refusing unexpected persistent record {pid!r:.80}")
        return self._persistent(pid)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

_READ_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                struct.error, RecursionError, OverflowError, UnicodeDecodeError, zipfile.BadZipFile,
                RuntimeError, NotImplementedError)


def _zip_records(archive: zipfile.ZipFile, prefix: str, what: str) -> Callable[[Any], Any]:
    cache: dict[str, Storage] = {}

    def load(pid: Any) -> Storage:
        if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
            raise UnsafeCheckpointError(f"refusing persistent record {pid!r:.80}: only tensor storages are allowed")
        storage_type, key, _location, numel = pid[1:]
        if not isinstance(storage_type, StorageType) or not isinstance(key, str) or not isinstance(numel, int):
            raise CorruptCheckpointError(f"{what}: malformed storage record {pid!r:.80}")
        if key not in cache:
            name = f"{prefix}data/{key}"
            try:
                info = archive.getinfo(name)
            except KeyError:
                raise CorruptCheckpointError(f"{what}: the archive has no {name}") from None
            elem = torch.empty((), dtype=storage_type.dtype).element_size()
            if storage_type.name != "UntypedStorage" and info.file_size != numel * elem:
                raise CorruptCheckpointError(f"{what}: {name} holds {info.file_size} bytes, expected {numel} x {elem}")
            raw = archive.read(name)
            if storage_type.name == "UntypedStorage":
                numel = len(raw) // elem
            cache[key] = Storage(_storage_from_bytes(raw, storage_type.dtype, numel))
        return cache[key]

    return load


def _load_zip(path: Path) -> Any:
    what = path.name
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CorruptCheckpointError(f"{what} is a zip file but not a torch.save archive (no single */data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() not in (b"little", b""):
            raise CorruptCheckpointError(f"{what}: only little-endian archives are supported")
        with archive.open(pickles[0]) as stream:
            return RestrictedUnpickler(io.BufferedReader(stream), persistent_load=_zip_records(archive, prefix, what)).load()


def load_checkpoint_object(path: str | os.PathLike) -> Any:
    """Unpickle a checkpoint with the restricted unpickler. Handles plain pickles (pix2pix3D's
    `.pkl`), torch.save zip archives and legacy torch.save files. Raises `UnsafeCheckpointError`
    for anything outside the allow-list and `CorruptCheckpointError` for damaged files."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"checkpoint not found: {path}")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head:
        raise CorruptCheckpointError(f"{path.name} is empty")
    try:
        if head.startswith(b"PK\x03\x04"):
            return _load_zip(path)
        if head[0] != 0x80 or len(head) < 2 or not 2 <= head[1] <= 5:
            raise CorruptCheckpointError(
                f"{path.name} is not a pickle or torch checkpoint (it starts with {head[:8]!r}); pix2pix3D's "
                "released generators are the .pkl files from its checkpoints/download_models.sh")
        with open(path, "rb") as handle:
            # A legacy torch.save file starts with the pickled magic number (protocol 2, LONG1).
            if head.startswith(b"\x80\x02\x8a\x0a"):
                return _read_legacy_stream(handle, path.name, expect_storage=False, max_bytes=path.stat().st_size)
            obj = RestrictedUnpickler(handle).load()
            if handle.read(1):
                raise CorruptCheckpointError(f"{path.name} has trailing data after the pickle")
            return obj
    except WeightsError:
        raise
    except MemoryError:
        raise CorruptCheckpointError(f"{path.name}: out of memory while reading (a corrupt length field?)") from None
    except _READ_ERRORS as exc:
        raise CorruptCheckpointError(
            f"{path.name} is truncated or corrupt and cannot be read as a checkpoint "
            f"({type(exc).__name__}: {str(exc)[:160]})") from None
