"""Persistent records become inert nodes, for the one persistence format we read
(s3d_engine/convert/inert.py)."""
from __future__ import annotations

import pytest

from s3d_engine.config import get_config
from s3d_engine.convert import pix2pix3d as conv
from s3d_engine.convert.errors import CorruptCheckpointError
from s3d_engine.convert.safe_unpickle import load_checkpoint_object
from tests.convert import p2p3d_fixture as fx
from tests.convert.payloads import Payload


@pytest.mark.parametrize("version", [5, 7, "6", None])
def test_wrong_persistence_version(tmp_path, tiny_state, version):
    g = fx.build_g_ema(tiny_state)
    g.version = version
    path = tmp_path / "v.pkl"
    path.write_bytes(fx.dumps(fx.snapshot(g)))
    with pytest.raises(CorruptCheckpointError, match=f"persistence version {version!r}"):
        conv.read_checkpoint(path, get_config("tiny", "face"))


def test_wrong_persistent_record_type(tmp_path):
    path = tmp_path / "t.pkl"
    bad = Payload(fx._stub_reconstruct, ({"type": "function", "version": 6, "module_src": "", "class_name": "f"},))
    path.write_bytes(fx.dumps({"G_ema": bad}))
    with pytest.raises(CorruptCheckpointError, match="type 'function'"):
        load_checkpoint_object(path)
