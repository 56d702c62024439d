"""A restricted unpickler for StyleGAN-family checkpoints (pix2pix3D, EG3D).

The published pix2pix3D `.pkl` files are plain `pickle.dump`s of whole `nn.Module`s. Ordinary
unpickling imports and calls whatever globals the file names, and the `torch_utils.persistence`
records embed Python source (`module_src`) that the upstream loader executes. Here nothing of
the sort happens:

* `find_class` answers only from the fixed allow-list built here (`ALLOWED_GLOBALS`, used by
  `unpickler.RestrictedUnpickler`). Every other global (``os.system``, ``builtins.eval``,
  ``subprocess.Popen``, ...) raises `UnsafeCheckpointError` before anything is called.
* Allowed names resolve to inert stand-ins (`inert`): module classes become `InertModule`
  records that only hold their pickled ``__dict__``; `_reconstruct_persistent_obj(meta)` becomes
  a function that returns a `PersistentNode`. The embedded source is kept as text (its sha256 is
  recorded) and never compiled or executed; it is parsed with `ast` only to refuse files whose
  source would run dangerous calls at import time (defence in depth, see `source_scan`).
* Tensors (`tensors`, `torch_save`): with plain pickle a tensor pickles as
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

import collections
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import WeightsError
from ..io_utils import open_regular
from ..limits import MAX_CHECKPOINT_BYTES
from . import tensors
from .errors import CorruptCheckpointError, UnsafeCheckpointError
from .inert import InertEasyDict, InertObject, inert_class, reconstruct_persistent_obj
from .torch_save import load_from_bytes, load_zip, read_legacy_stream
from .unpickler import RestrictedUnpickler

MAX_NODE_DEPTH = 64


# ---------------------------------------------------------------------------------------------
# Pickle-protocol records
# ---------------------------------------------------------------------------------------------


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
        ("torch._utils", "_rebuild_tensor"): tensors.rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): tensors.rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): tensors.rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): tensors.rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): tensors.rebuild_from_type_v2,
        ("torch", "Tensor"): tensors.TENSOR_TYPE,
        ("torch.nn.parameter", "Parameter"): tensors.PARAMETER_TYPE,
        ("torch.storage", "_load_from_bytes"): load_from_bytes,
        ("torch", "Size"): tensors.torch_size,
        ("torch", "device"): tensors.torch_device,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): InertEasyDict,
        ("dnnlib", "EasyDict"): InertEasyDict,
        ("numpy", "dtype"): tensors.np_dtype,
        ("numpy", "ndarray"): np.ndarray,
    }
    for numpy_core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(numpy_core, "_reconstruct")] = tensors.np_reconstruct
        table[(numpy_core, "scalar")] = tensors.np_scalar
    for numpy_numeric in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(numpy_numeric, "_frombuffer")] = tensors.np_frombuffer
    for dtype_name in ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"):
        table[("torch", dtype_name)] = getattr(torch, dtype_name)
    table[("torch", "contiguous_format")] = torch.contiguous_format
    table[("torch", "channels_last")] = torch.channels_last
    table.update(tensors.STORAGE_GLOBALS)
    for path in KNOWN_MODULE_CLASSES:
        module, _, name = path.rpartition(".")
        table[(module, name)] = inert_class(path)
    return table


ALLOWED_GLOBALS = _build_allow_list()


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

_READ_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                struct.error, RecursionError, OverflowError, UnicodeDecodeError, zipfile.BadZipFile,
                RuntimeError, NotImplementedError)


def load_checkpoint_object(path: str | os.PathLike) -> Any:
    """Unpickle a checkpoint with the restricted unpickler. Handles plain pickles (pix2pix3D's
    `.pkl`), torch.save zip archives and legacy torch.save files. Raises `UnsafeCheckpointError`
    for anything outside the allow-list and `CorruptCheckpointError` for damaged files."""
    path = Path(path)
    with open_regular(path, "checkpoint", MAX_CHECKPOINT_BYTES, WeightsError) as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(16)
        if not head:
            raise CorruptCheckpointError(f"{path.name} is empty")
        handle.seek(0)
        try:
            return _load_from_handle(handle, head, path.name, size)
        except WeightsError:
            raise
        except MemoryError:
            raise CorruptCheckpointError(f"{path.name}: out of memory while reading (a corrupt length field?)") from None
        except _READ_ERRORS as exc:
            raise CorruptCheckpointError(
                f"{path.name} is truncated or corrupt and cannot be read as a checkpoint "
                f"({type(exc).__name__}: {str(exc)[:160]})") from None


def _load_from_handle(handle: Any, head: bytes, name: str, size: int) -> Any:
    if head.startswith(b"PK\x03\x04"):
        return load_zip(handle, ALLOWED_GLOBALS, name)
    if head[0] != 0x80 or len(head) < 2 or not 2 <= head[1] <= 5:
        raise CorruptCheckpointError(
            f"{name} is not a pickle or torch checkpoint (it starts with {head[:8]!r}); pix2pix3D's "
            "released generators are the .pkl files from its checkpoints/download_models.sh")
    # A legacy torch.save file starts with the pickled magic number (protocol 2, LONG1).
    if head.startswith(b"\x80\x02\x8a\x0a"):
        return read_legacy_stream(handle, name, ALLOWED_GLOBALS, max_bytes=size)
    obj = RestrictedUnpickler(handle, ALLOWED_GLOBALS).load()
    if handle.read(1):
        raise CorruptCheckpointError(f"{name} has trailing data after the pickle")
    return obj
