"""torch.save's layouts read without torch.load (s3d_engine/convert/torch_save.py): the legacy
stream inside `_load_from_bytes(B)`, whole legacy files and zip archives, and damaged storages."""
from __future__ import annotations

import io
import pickle
import pickletools
import zipfile

import pytest
import torch

from s3d_engine.config import get_config
from s3d_engine.convert import pix2pix3d as conv
from s3d_engine.convert.errors import CorruptCheckpointError, UnsafeCheckpointError
from s3d_engine.convert.safe_unpickle import load_checkpoint_object
from s3d_engine.convert.torch_save import LEGACY_MAGIC
from tests.convert.payloads import Payload, legacy_stream, payloads, snapshot_bytes


def test_plain_pickle_tensor_format_is_what_we_parse():
    """With plain pickle a tensor is `_rebuild_tensor_v2(_load_from_bytes(B), ...)`, B a legacy
    torch.save stream starting with the magic number; a Parameter wraps that in `_rebuild_parameter`."""
    data = pickle.dumps(torch.nn.Parameter(torch.zeros(3)), protocol=4)
    strings = [arg for op, arg, _ in pickletools.genops(data) if op.name == "SHORT_BINUNICODE"]
    assert {"torch._utils", "_rebuild_parameter", "_rebuild_tensor_v2", "torch.storage", "_load_from_bytes"} <= set(strings)
    blob = next(arg for op, arg, _ in pickletools.genops(data) if op.name in ("BINBYTES", "SHORT_BINBYTES"))
    stream = io.BytesIO(blob)
    assert pickle.load(stream) == LEGACY_MAGIC  # a plain int: harmless to read with stock pickle
    assert pickle.load(stream) == 1001


def test_torch_save_zip_and_legacy_formats(tmp_path, tiny_state):
    cfg = get_config("tiny", "face")
    zip_path, legacy_path = tmp_path / "g.pt", tmp_path / "legacy.pt"
    torch.save({"G_ema": tiny_state}, zip_path)
    torch.save(tiny_state, legacy_path, _use_new_zipfile_serialization=False)
    for path in (zip_path, legacy_path):
        ck = conv.read_checkpoint(path, cfg)
        assert ck.domain == "face" and all(torch.equal(ck.state_dict[k], v) for k, v in tiny_state.items())


def test_malicious_global_inside_storage_bytes(tmp_path):
    """`_load_from_bytes(B)`: B is parsed by us, so a global smuggled into B is refused too."""
    sentinel = tmp_path / "pwned"
    inner = legacy_stream(pickle.dumps(payloads(sentinel)["os.system"], protocol=2), [])
    path = tmp_path / "evil_storage.pkl"
    path.write_bytes(snapshot_bytes({"augment_pipe": Payload(torch.storage._load_from_bytes, (inner,))}))
    with pytest.raises(UnsafeCheckpointError, match="system"):
        load_checkpoint_object(path)
    assert not sentinel.exists()


def test_zip_that_is_not_a_torch_archive(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(CorruptCheckpointError, match="not a torch.save archive"):
        conv.read_checkpoint(path)


def test_storage_bytes_too_short(tmp_path):
    blob = io.BytesIO()
    torch.save(torch.zeros(4)._typed_storage(), blob, _use_new_zipfile_serialization=False)
    raw = blob.getvalue()[:-3]
    path = tmp_path / "short.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Payload(torch.storage._load_from_bytes, (raw,))}, protocol=4))
    with pytest.raises(CorruptCheckpointError, match="truncated"):
        load_checkpoint_object(path)


def test_bogus_storage_size_is_refused_before_allocating(tmp_path):
    """A legacy storage record claiming 10^12 floats in a few bytes is refused, not allocated."""

    class _Marker:
        pass

    class _Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", 10 ** 12, None) if isinstance(obj, _Marker) else None

    body = io.BytesIO()
    _Writer(body, protocol=2).dump(_Marker())
    inner = legacy_stream(body.getvalue(), ["0"])
    path = tmp_path / "bogus.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Payload(torch.storage._load_from_bytes, (inner,))}, protocol=4))
    with pytest.raises(CorruptCheckpointError, match="claims more data"):
        load_checkpoint_object(path)
