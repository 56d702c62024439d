"""The allow-list and the file loader (s3d_engine/convert/safe_unpickle.py): malicious globals
are refused and nothing runs; damaged files and non-checkpoints are refused with a clear message."""
from __future__ import annotations

import pickle

import pytest
import torch

from s3d_engine.config import get_config
from s3d_engine.convert import pix2pix3d as conv
from s3d_engine.convert.errors import CorruptCheckpointError, UnsafeCheckpointError
from tests.convert import p2p3d_fixture as fx
from tests.convert.payloads import payloads, snapshot_bytes


# ------------------------------------------------------------------------------------------------
# Malicious files: refused, and nothing runs
# ------------------------------------------------------------------------------------------------


def test_payloads_are_live_with_stock_pickle(tmp_path):
    """Control: the os.system payload really creates the sentinel when unpickled normally."""
    sentinel = tmp_path / "control"
    pickle.loads(pickle.dumps(payloads(sentinel)["os.system"]))
    assert sentinel.exists()


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "builtins.exec", "subprocess.Popen",
                                  "builtins.getattr", "pathlib.Path.touch"])
@pytest.mark.parametrize("where", ["top", "state"])
def test_malicious_globals_are_refused(tmp_path, name, where):
    sentinel = tmp_path / "pwned"
    payload = payloads(sentinel)[name]
    if where == "top":
        data = snapshot_bytes({"training_set_kwargs": payload})
    else:  # hidden inside a persistent object's state, deep in G_ema
        g = fx.build_g_ema({"decoder.net.0.weight": torch.zeros(2, 2)})
        g.attrs["rendering_kwargs"] = {"ray_start": payload}
        data = snapshot_bytes(g_ema=g)
    path = tmp_path / "evil.pkl"
    path.write_bytes(data)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load global") as err:
        conv.convert_checkpoint(path, tmp_path / "out.safetensors")
    assert "nothing in it was run" in str(err.value)
    assert not sentinel.exists()
    assert not (tmp_path / "out.safetensors").exists()


# ------------------------------------------------------------------------------------------------
# Damaged and unsupported files
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.999])
def test_truncated_file(tmp_path, tiny_state, fraction):
    data = fx.dumps(fx.snapshot(fx.build_g_ema(tiny_state)))
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CorruptCheckpointError, match="truncated or corrupt"):
        conv.read_checkpoint(path, get_config("tiny", "face"))


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"hello, I am a text file\n", "not a pickle"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "not a pickle"),
    (b"\x80\x04\x95" + bytes(5), "truncated or corrupt"),
])
def test_not_a_checkpoint(tmp_path, content, message):
    path = tmp_path / "x.pkl"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError, match=message):
        conv.read_checkpoint(path)
