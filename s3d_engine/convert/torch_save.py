"""Readers for torch.save's two layouts, with restricted unpicklers throughout.

* The legacy (non-zip) stream: a magic number, a protocol number, a system info dict, the
  pickled object (storages as persistent ids), the list of storage keys, then for each key an
  int64 element count followed by the raw little-endian bytes. A whole legacy torch.save file has
  this layout, and so does the blob `B` in ``torch.storage._load_from_bytes(B)``, which is how a
  tensor's storage pickles with plain pickle; `load_from_bytes` replaces that function (which
  would call an unrestricted `torch.load`).
* The zip archive: ``<prefix>/data.pkl`` plus one ``<prefix>/data/<key>`` entry per storage.

The caller passes the allow-list for the pickled object; headers and key lists only ever see the
storage type names.
"""
from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

from ..limits import MAX_CHECKPOINT_BYTES, MAX_ZIP_ENTRIES, MAX_ZIP_RATIO, MAX_ZIP_SLACK_BYTES
from .errors import CorruptCheckpointError, UnsafeCheckpointError
from .tensors import STORAGE_GLOBALS, Storage, StorageType, storage_from_bytes
from .unpickler import RestrictedUnpickler

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # torch.serialization.PROTOCOL_VERSION

Allow = dict[tuple[str, str], Any]


# ---------------------------------------------------------------------------------------------
# The legacy stream
# ---------------------------------------------------------------------------------------------


def _read_exact(stream: BinaryIO, count: int, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise CorruptCheckpointError(f"{what} is truncated: expected {count} bytes, found {len(data)}")
    return data


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
                target.copy_(storage_from_bytes(raw, target.dtype, numel))


def read_legacy_stream(stream: BinaryIO, what: str, allow: Allow, max_bytes: int) -> Any:
    """The legacy torch.save layout; `allow` resolves the globals of the pickled object."""
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
    obj = RestrictedUnpickler(stream, allow=allow, persistent_load=records).load()
    keys = RestrictedUnpickler(stream, allow=STORAGE_GLOBALS).load()
    records.fill(stream, keys, what)
    return obj


def load_from_bytes(data: Any) -> Storage:
    """Safe replacement for `torch.storage._load_from_bytes` (which calls an unrestricted torch.load)."""
    if not isinstance(data, (bytes, bytearray)):
        raise CorruptCheckpointError(f"storage record holds a {type(data).__name__}, expected bytes")
    what = "an embedded tensor storage"
    obj = read_legacy_stream(io.BytesIO(data), what, STORAGE_GLOBALS, max_bytes=len(data))
    if not isinstance(obj, Storage):
        raise CorruptCheckpointError(f"{what}: expected a storage, found a {type(obj).__name__}")
    return obj


# ---------------------------------------------------------------------------------------------
# The zip archive
# ---------------------------------------------------------------------------------------------


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
            raw = read_entry(archive, info, what)
            if storage_type.name == "UntypedStorage":
                numel = len(raw) // elem
            cache[key] = Storage(storage_from_bytes(raw, storage_type.dtype, numel))
        return cache[key]

    return load


def check_zip_sizes(archive: zipfile.ZipFile, archive_bytes: int, what: str) -> None:
    """Refuse a zip bomb from the central directory alone: too many entries, or declared
    uncompressed sizes far beyond what the archive holds (torch.save stores without compression,
    ratio 1). Reads are then bounded too: zipfile never returns more than an entry's declared size."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise CorruptCheckpointError(f"{what}: the archive lists {len(infos):,} entries, over the limit of {MAX_ZIP_ENTRIES:,}")
    declared = sum(info.file_size for info in infos)
    allowed = min(MAX_CHECKPOINT_BYTES, MAX_ZIP_RATIO * archive_bytes + MAX_ZIP_SLACK_BYTES)
    if declared > allowed:
        raise CorruptCheckpointError(
            f"{what}: the archive would expand from {archive_bytes:,} to {declared:,} bytes (limit {allowed:,}); "
            "refusing a likely zip bomb")


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, limit: int | None = None) -> bytes:
    """An entry's bytes, inflated chunk by chunk and never past its declared size (zipfile's own
    read() inflates a whole compressed block at once, which a lying size turns into a bomb)."""
    size = info.file_size if limit is None else min(info.file_size, limit)
    out = bytearray()
    with archive.open(info) as stream:
        while len(out) < size:
            block = stream.read(min(1 << 20, size - len(out)))
            if not block:
                break
            out += block
    if len(out) != size:
        raise CorruptCheckpointError(f"{what}: {info.filename} is truncated ({len(out)} of {size} bytes)")
    return bytes(out)


def load_zip(source: Path | BinaryIO, allow: Allow, name: str | None = None) -> Any:
    """A torch.save zip archive (a path, or an open seekable file); `allow` resolves the globals
    of `data.pkl`. Declared sizes are checked before anything is decompressed."""
    what = name or Path(getattr(source, "name", str(source))).name
    if isinstance(source, (str, Path)):
        archive_bytes = Path(source).stat().st_size
    else:
        archive_bytes = source.seek(0, io.SEEK_END)
        source.seek(0)
    with zipfile.ZipFile(source) as archive:
        check_zip_sizes(archive, archive_bytes, what)
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CorruptCheckpointError(f"{what} is a zip file but not a torch.save archive (no single */data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        order = f"{prefix}byteorder"
        if order in names and read_entry(archive, archive.getinfo(order), what, limit=64).strip() not in (b"little", b""):
            raise CorruptCheckpointError(f"{what}: only little-endian archives are supported")
        with archive.open(pickles[0]) as stream:
            unpickler = RestrictedUnpickler(io.BufferedReader(stream), allow,
                                            persistent_load=_zip_records(archive, prefix, what))
            return unpickler.load()
