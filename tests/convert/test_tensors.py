"""Tensor, parameter and numpy records rebuilt from checked arguments (s3d_engine/convert/tensors.py)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from s3d_engine.convert.errors import CorruptCheckpointError
from s3d_engine.convert.safe_unpickle import load_checkpoint_object
from tests.convert.payloads import Payload


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_loader_round_trips_tensors(tmp_path, protocol, monkeypatch):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    obj = {"view": base[1:, 1:3], "param": torch.nn.Parameter(torch.randn(2, 3)), "half": torch.randn(5).half(),
           "int": torch.arange(4), "bool": torch.tensor([True, False]), "scalar": torch.tensor(2.5),
           "empty": torch.zeros(0, 3), "expanded": torch.randn(3).expand(4, 3), "np": np.float64(0.125),
           "arr": np.arange(3.0), "set": {1, 2}, "size": torch.Size([2, 2])}
    path = tmp_path / "t.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))

    def forbidden(*a, **k):
        raise AssertionError("an unrestricted loader was called")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(torch.storage, "_load_from_bytes", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    out = load_checkpoint_object(path)
    for key in ("view", "half", "int", "bool", "scalar", "empty", "expanded"):
        assert out[key].dtype == obj[key].dtype and torch.equal(out[key], obj[key]), key
    assert torch.equal(out["param"], obj["param"].data)
    assert out["np"] == 0.125 and out["arr"].tolist() == [0.0, 1.0, 2.0] and out["set"] == {1, 2}
    assert tuple(out["size"]) == (2, 2)


def test_tensor_past_its_storage(tmp_path):
    from torch._utils import _rebuild_tensor_v2

    storage = torch.zeros(4)._typed_storage()
    bad = Payload(_rebuild_tensor_v2, (storage, 2, (3,), (1,), False, {}))
    path = tmp_path / "oob.pkl"
    path.write_bytes(pickle.dumps({"x": bad}, protocol=4))
    with pytest.raises(CorruptCheckpointError, match="reaches element"):
        load_checkpoint_object(path)
