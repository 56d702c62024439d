"""Hostile checkpoints for `s3d convert-pix2pix3d` (issue 11, part C): zip bombs are refused from
the central directory, reads are bounded by declared sizes, special files are never read, and
nothing is unpickled outside the restricted unpickler."""
from __future__ import annotations

import io
import os
import struct
import time
import tracemalloc
import zipfile

import pytest
import torch

from s3d_engine.convert.errors import CorruptCheckpointError, UnsafeCheckpointError
from s3d_engine.convert.pix2pix3d import convert_checkpoint
from s3d_engine.convert.safe_unpickle import load_checkpoint_object
from s3d_engine.errors import WeightsError


def torch_zip_entries(tensor: torch.Tensor) -> list[tuple[str, bytes]]:
    buf = io.BytesIO()
    torch.save({"G_ema": {"w": tensor}}, buf)
    with zipfile.ZipFile(buf) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def rezip(path, entries, compression=zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)


def refused(path, message: str, exc=WeightsError) -> None:
    with pytest.raises(exc) as info:
        load_checkpoint_object(path)
    assert str(info.value) == message


def test_a_zip_bomb_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb.pt"
    rezip(path, torch_zip_entries(torch.zeros(4 * 1024 * 1024)))  # 16 MiB of zeros deflate to ~16 KiB
    archive_bytes = path.stat().st_size
    assert archive_bytes < 100_000
    with zipfile.ZipFile(path) as archive:
        declared = sum(i.file_size for i in archive.infolist())
    allowed = 10 * archive_bytes + 1024 * 1024
    tracemalloc.start()
    try:
        refused(path, f"bomb.pt: the archive would expand from {archive_bytes:,} to {declared:,} bytes "
                      f"(limit {allowed:,}); refusing a likely zip bomb", CorruptCheckpointError)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak {peak:,} bytes"  # the 16 MiB entry was never inflated


def test_a_stored_torch_archive_of_the_same_size_still_loads(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"G_ema": {"w": torch.zeros(4 * 1024 * 1024)}}, path)  # stored: ratio 1
    obj = load_checkpoint_object(path)
    assert tuple(obj["G_ema"]["w"].shape) == (4 * 1024 * 1024,)


def test_a_central_directory_that_understates_a_size_reads_no_more_than_it_declares(tmp_path):
    entries = torch_zip_entries(torch.zeros(1024))
    path = tmp_path / "liar.pt"
    rezip(path, [(n, b"\0" * (8 * 1024 * 1024) if n.endswith("data/0") else d) for n, d in entries])
    raw = bytearray(path.read_bytes())
    # Central directory header of data/0: uncompressed size at offset 24; make it claim 4096 bytes
    # (1024 float32s, as the pickle expects) while its deflate stream inflates to 8 MiB.
    name = next(n for n, _ in entries if n.endswith("data/0")).encode()
    at = raw.index(b"PK\x01\x02")
    while raw[at + 46:at + 46 + len(name)] != name:
        at = raw.index(b"PK\x01\x02", at + 4)
    raw[at + 24:at + 28] = struct.pack("<I", 4096)
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        with pytest.raises(CorruptCheckpointError, match=r"^liar\.pt is truncated or corrupt and cannot be read"):
            load_checkpoint_object(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak {peak:,} bytes"


def test_too_many_entries_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("s3d_engine.convert.torch_save.MAX_ZIP_ENTRIES", 5)
    path = tmp_path / "many.pt"
    rezip(path, torch_zip_entries(torch.zeros(4)) + [(f"pad/{i}", b"") for i in range(3)], zipfile.ZIP_STORED)
    refused(path, "many.pt: the archive lists 10 entries, over the limit of 5", CorruptCheckpointError)


def test_special_files_are_never_read(tmp_path):
    link = tmp_path / "zero.pkl"
    link.symlink_to("/dev/zero")
    start = time.perf_counter()
    refused(link, f"checkpoint is not a regular file (a device, pipe or socket): {link}")
    fifo = tmp_path / "pipe.pkl"
    os.mkfifo(fifo)
    refused(fifo, f"checkpoint is not a regular file (a device, pipe or socket): {fifo}")
    refused(tmp_path, f"checkpoint is a folder, not a file: {tmp_path}")
    refused(tmp_path / "none.pkl", f"checkpoint not found: {tmp_path / 'none.pkl'}")
    assert time.perf_counter() - start < 10
    with pytest.raises(WeightsError, match="^checkpoint is not a regular file"):
        convert_checkpoint(link, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_a_checkpoint_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("s3d_engine.convert.safe_unpickle.MAX_CHECKPOINT_BYTES", 100)
    path = tmp_path / "big.pkl"
    path.write_bytes(b"\x80\x04" + b"\0" * 200)
    refused(path, f"checkpoint is too large: 202 bytes, the limit is 100: {path}")


def test_a_zip_whose_pickle_names_os_system_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    payload = (b"\x80\x02cposix\nsystem\nq\x00X" + struct.pack("<I", len(f"touch {marker}"))
               + f"touch {marker}".encode() + b"q\x01\x85q\x02Rq\x03.")
    path = tmp_path / "evil.pt"
    rezip(path, [("archive/data.pkl", payload), ("archive/byteorder", b"little")], zipfile.ZIP_STORED)
    with pytest.raises(UnsafeCheckpointError, match=r"^refusing to load global 'posix\.system'"):
        load_checkpoint_object(path)
    assert not marker.exists()
