"""Weights files: `NAME.safetensors` (tensors, named `<component>.<state-dict key>`) plus a
`NAME.json` sidecar holding the model configuration, label set, provenance and the sha256 of
the tensor file. Loading verifies the hash before reading, and checks every name and shape, so
a tampered, truncated or mismatched file is refused with a message naming the problem.
Nothing here unpickles: safetensors cannot execute code."""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ._version import __version__
from .config import ModelConfig
from .errors import ConfigError, WeightsError
from .io_utils import atomic_path, sha256_file, write_text_atomic
from .labels import label_set

FORMAT = "s3d-weights/1"
COMPONENTS = ("unet", "generator")


@dataclass
class Weights:
    path: Path
    config: ModelConfig
    metadata: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    @property
    def components(self) -> list[str]:
        return sorted(self.tensors)

    def state_dict(self, component: str) -> dict[str, torch.Tensor]:
        if component not in self.tensors:
            raise WeightsError(f"{self.path.name} has no '{component}' weights (it has: {', '.join(self.components) or 'none'})")
        return self.tensors[component]


def metadata_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def save_weights(path: str | os.PathLike, components: Mapping[str, nn.Module | Mapping[str, torch.Tensor]],
                 config: ModelConfig, **metadata: Any) -> Path:
    """Write the tensors and the sidecar atomically; returns the .safetensors path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise WeightsError(f"weights files end in .safetensors, got {path.name}")
    flat: dict[str, torch.Tensor] = {}
    for name, obj in components.items():
        if name not in COMPONENTS:
            raise WeightsError(f"unknown component {name!r}; expected one of {COMPONENTS}")
        state = obj.state_dict() if isinstance(obj, nn.Module) else obj
        for key, tensor in state.items():
            flat[f"{name}.{key}"] = tensor.detach().to("cpu").contiguous()
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata={"format": FORMAT, "config": json.dumps(config.to_dict())})
    meta = {
        "format": FORMAT,
        "sha256": sha256_file(path),
        "file": path.name,
        "engine_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "domain": config.domain,
        "label_names": list(label_set(config.domain).names),
        "components": sorted(components),
        "parameters": int(sum(t.numel() for t in flat.values())),
        "python": platform.python_version(),
        "torch": torch.__version__,
        **metadata,
    }
    write_text_atomic(metadata_path(path), json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    meta_file = metadata_path(path)
    if not meta_file.exists():
        raise WeightsError(f"metadata file missing for {Path(path).name}: expected {meta_file.name} beside it")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"metadata file {meta_file.name} is not valid JSON: {exc}") from None
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{meta_file.name}: unsupported format {meta.get('format')!r} (expected {FORMAT})")
    return meta


def load_weights(path: str | os.PathLike, verify_hash: bool = True) -> Weights:
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weights file not found: {path}")
    meta = read_metadata(path)
    if verify_hash:
        actual = sha256_file(path)
        if actual != meta.get("sha256"):
            raise WeightsError(
                f"{path.name} failed its integrity check: sha256 is {actual[:16]}..., the metadata says "
                f"{str(meta.get('sha256'))[:16]}... (the file was modified, truncated or replaced)")
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (KeyError, ConfigError) as exc:
        raise WeightsError(f"{path.name}: metadata has no usable model configuration ({exc})") from None
    try:
        flat = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path.name} is not a readable safetensors file: {exc}") from None
    tensors: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in flat.items():
        component, _, name = key.partition(".")
        if component not in COMPONENTS or not name:
            raise WeightsError(f"{path.name}: unexpected tensor name {key!r}")
        tensors.setdefault(component, {})[name] = tensor
    return Weights(path=path, config=config, metadata=meta, tensors=tensors)


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Strict load that names the first missing, unexpected or mis-shaped key."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        raise WeightsError(f"{source}: missing tensor '{missing[0]}'" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    if unexpected:
        raise WeightsError(f"{source}: unexpected tensor '{unexpected[0]}'" + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""))
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise WeightsError(f"{source}: tensor '{key}' has shape {tuple(tensor.shape)}, "
                               f"the configuration needs {tuple(expected[key].shape)}")
        if not torch.isfinite(tensor).all() if tensor.is_floating_point() else False:
            raise WeightsError(f"{source}: tensor '{key}' contains NaN or infinite values")
    module.load_state_dict(dict(state), strict=True)
