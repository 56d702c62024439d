"""Shared setup for the parity tests (and tests/parity/paper_gpu_check.py): randomised engine
modules, state dicts under pix2pix3D's names, and a scale-relative closeness check."""
from __future__ import annotations

import torch

from s3d_engine.config import get_config

PAPER = get_config("paper", "face").generator


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values for every tensor except the fixed FIR filters, at the scale of the init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            noise = torch.randn(t.shape, generator=g)
            if leaf == "resample_filter" or leaf == "alpha":
                continue
            if leaf == "noise_strength":
                t.copy_(0.3 + 0.1 * noise)
            elif name.endswith("affine.bias"):
                t.copy_(1 + 0.2 * noise)
            elif leaf == "bias":
                t.copy_(0.1 * noise)
            elif leaf == "w_avg":
                t.copy_(0.3 * noise)
            elif leaf in ("noise_const", "const") or t.numel() == 1:
                t.copy_(noise)
            else:
                t.copy_(noise * t.std())
    return module.eval()


def sd_of(module: torch.nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v for k, v in module.state_dict().items()}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, tol: float = 1e-4, what: str = "") -> None:
    actual = actual.detach().to(torch.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    scale = max(float(expected.abs().max()), 1e-3)
    err = float((actual - expected).abs().max())
    assert err <= tol * scale, f"{what}: max |error| {err:.3g} > {tol} x {scale:.3g}"


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
