"""Tensor, storage and numpy records, rebuilt from checked arguments only.

With plain pickle a tensor pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks)``; a parameter wraps that in ``_rebuild_parameter``. The functions
here stand in for those rebuilds: each checks its arguments (a rebuilt tensor must lie inside its
storage) and returns a plain tensor. Storages arrive as `Storage`s from the torch.save readers
(`torch_save`). StyleGAN modules also keep numpy scalars (e.g. ``weight_gain = 1 / np.sqrt(fan_in)``),
rebuilt here for plain numeric dtypes only.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .errors import CorruptCheckpointError, UnsafeCheckpointError

# ---------------------------------------------------------------------------------------------
# Storages
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

# The storage type names as pickles spell them, each mapped to a `StorageType` marker.
STORAGE_GLOBALS: dict[tuple[str, str], Any] = {}
for _name, _dtype in _STORAGE_DTYPES.items():
    for _module in ("torch", "torch.cuda", "torch.storage"):
        STORAGE_GLOBALS[(_module, _name)] = StorageType(_name, _dtype)


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


def storage_from_bytes(raw: bytes | bytearray, dtype: torch.dtype, numel: int) -> torch.Tensor:
    elem = torch.empty((), dtype=dtype).element_size()
    if len(raw) != numel * elem:
        raise CorruptCheckpointError(f"storage holds {len(raw)} bytes, expected {numel} x {elem}")
    if numel == 0:
        return torch.empty(0, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Tensors and parameters
# ---------------------------------------------------------------------------------------------


def _check_int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise CorruptCheckpointError(f"malformed tensor record: {what} is {value!r}")
    return value


def rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
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


def rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                      backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    if backward_hooks and not isinstance(backward_hooks, dict):
        raise CorruptCheckpointError("malformed tensor record: backward hooks")
    return rebuild_tensor(storage, storage_offset, size, stride)


def rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise CorruptCheckpointError(f"malformed parameter record: data is a {type(data).__name__}")
    return data


def rebuild_parameter_with_state(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                                 state: Any = None) -> torch.Tensor:
    return rebuild_parameter(data, requires_grad, backward_hooks)


def rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> torch.Tensor:
    if func not in (rebuild_tensor_v2, rebuild_tensor, rebuild_parameter) or not isinstance(args, tuple):
        raise UnsafeCheckpointError("refusing a tensor subclass record that calls something other than a tensor rebuild")
    if new_type not in (TENSOR_TYPE, PARAMETER_TYPE):
        raise UnsafeCheckpointError(f"refusing tensor subclass {new_type!r:.60}")
    return func(*args)


class _TypeMarker:
    """Stands for a class the file may name but that must never be called."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<marker {self.path}>"


TENSOR_TYPE = _TypeMarker("torch.Tensor")
PARAMETER_TYPE = _TypeMarker("torch.nn.parameter.Parameter")


def torch_size(value: Any = ()) -> torch.Size:
    return torch.Size(_check_int_tuple(tuple(value) if isinstance(value, list) else value, "size"))


def torch_device(spec: Any, index: Any = None) -> str:
    if not isinstance(spec, str) or len(spec) > 32:
        raise UnsafeCheckpointError("refusing a malformed torch.device record")
    return spec if index is None else f"{spec}:{int(index)}"


# ---------------------------------------------------------------------------------------------
# numpy scalars and arrays
# ---------------------------------------------------------------------------------------------

_NUMPY_DTYPES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "c8", "c16"}


def np_dtype(obj: Any, align: Any = False, copy: Any = False) -> np.dtype:
    if not isinstance(obj, str) or obj not in _NUMPY_DTYPES or not isinstance(align, bool) or not isinstance(copy, bool):
        raise UnsafeCheckpointError(f"refusing numpy dtype {obj!r:.40}: only plain numeric dtypes are allowed")
    return np.dtype(obj, align=align, copy=True)  # a copy: BUILD must not touch numpy's singletons


def np_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray or not isinstance(shape, tuple) or not isinstance(dtype, (bytes, str)):
        raise UnsafeCheckpointError("refusing a numpy array record of an unexpected type")
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)  # shape, dtype and contents arrive through BUILD


def np_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> np.ndarray:
    """Protocol 5 array records."""
    if (not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)) or not isinstance(dtype, np.dtype)
            or dtype.hasobject or order not in ("C", "F")):
        raise UnsafeCheckpointError("refusing a numpy buffer record of an unexpected type")
    shape = _check_int_tuple(shape, "numpy shape")
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order).copy()


def np_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise UnsafeCheckpointError("refusing a numpy scalar record of an unexpected type")
    if len(data) != dtype.itemsize:
        raise CorruptCheckpointError("numpy scalar record has the wrong size")
    return np.frombuffer(data, dtype=dtype)[0]
