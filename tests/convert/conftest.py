"""Fixtures shared by the converter tests."""
from __future__ import annotations

import pytest
import torch

from s3d_engine.config import get_config
from s3d_engine.models.generator import TriPlaneGenerator


@pytest.fixture(scope="module")
def tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    gen = TriPlaneGenerator(get_config("tiny", "face"))
    state = {}
    g = torch.Generator().manual_seed(2)
    for k, v in gen.state_dict().items():  # random everything, so a mix-up of any two tensors shows
        state[k] = torch.randn(v.shape, generator=g) * (0.5 if v.ndim else 0.1)
    return state
