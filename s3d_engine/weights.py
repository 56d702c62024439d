"""Weights files: `NAME.safetensors` (tensors, named `<component>.<state-dict key>`) plus a
`NAME.json` sidecar holding the model configuration, label set, provenance and the sha256 of
the tensor file. Loading validates the sidecar by a schema (`parse_metadata`), checks the
configuration's size on the meta device, verifies the hash and the header's dtypes before
reading, and checks every name and shape, so a tampered, truncated or mismatched file is refused
with a message naming the problem.
Nothing here unpickles: safetensors cannot execute code."""
from __future__ import annotations

import json
import os
import platform
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ._version import __version__
from .config import ModelConfig
from .errors import ConfigError, WeightsError
from .io_utils import atomic_path, open_regular, read_bounded, sha256_file, write_text_atomic
from .labels import LABEL_SETS, label_set
from .limits import MAX_MODEL_PARAMETERS, MAX_SIDECAR_BYTES, MAX_SIDECAR_DEPTH, MAX_WEIGHTS_BYTES

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
    """Write the tensors and the sidecar atomically; returns the .safetensors path.

    The file's bytes depend only on the tensors and the configuration: the header metadata is
    written in key order, and a file that already holds the same content is kept as it is, so
    re-packaging with new sidecar metadata (metrics, commands) adds no new weights blob."""
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
    header = {"format": FORMAT, "config": json.dumps(config.to_dict())}
    if not _holds(path, flat, header):  # the same content keeps its bytes: only the sidecar changes
        with atomic_path(path) as tmp:
            save_file(flat, str(tmp), metadata=header)
            _sort_header_metadata(tmp)
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


def _holds(path: Path, tensors: Mapping[str, torch.Tensor], header: Mapping[str, str]) -> bool:
    """Whether the file at `path` already stores exactly these tensors and header metadata."""
    if not path.is_file():
        return False
    try:
        with safe_open(str(path), framework="pt") as f:
            if f.metadata() != dict(header) or set(f.keys()) != set(tensors):
                return False
            for key, tensor in tensors.items():
                stored = f.get_tensor(key)
                if stored.dtype != tensor.dtype or not torch.equal(stored, tensor):
                    return False
    except (OSError, SafetensorError):
        return False
    return True


def _sort_header_metadata(path: Path) -> None:
    """Rewrite the safetensors header's `__metadata__` in key order, in place.

    The library keeps that map in a hash map whose order changes from process to process, so
    the same tensors and config gave different bytes (and a new 31 MB blob in git history for a
    sidecar-only change). The header is compact JSON, so reordering keys keeps its length; the
    tensor entries keep the library's order (by data offset)."""
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        raw = f.read(n)
        header = json.loads(raw, object_pairs_hook=dict)
        if "__metadata__" in header:
            header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(text) != len(raw.rstrip(b" ")):  # compact JSON padded with spaces, as written
            raise WeightsError(f"{path.name}: unexpected safetensors header layout")
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def _depth(value: Any) -> int:
    """Nesting depth of JSON containers, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_SIDECAR_DEPTH:
                stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _require(meta: dict[str, Any], key: str, ok: bool, want: str, name: str) -> None:
    if not ok:
        shown = repr(meta.get(key)) if key in meta else "missing"
        raise WeightsError(f"{name}: '{key}' must be {want}, got {shown:.60}")


def parse_metadata(data: bytes | str, name: str = "metadata") -> dict[str, Any]:
    """Parse and validate a sidecar before anything is allocated: JSON types, the format, the
    sha256, a known domain, the label names and the configuration's types and ranges."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        meta = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"metadata file {name} is not valid JSON: {exc}") from None
    except RecursionError:
        raise WeightsError(f"metadata file {name} is nested over {MAX_SIDECAR_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. an integer of over 4,300 digits
        raise WeightsError(f"metadata file {name} is not valid JSON: {str(exc).split(';')[0][:100]}") from None
    if not isinstance(meta, dict):
        raise WeightsError(f"metadata file {name} must hold a JSON object, got {type(meta).__name__}")
    if _depth(meta) > MAX_SIDECAR_DEPTH:
        raise WeightsError(f"metadata file {name} is nested over {MAX_SIDECAR_DEPTH} levels deep")
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{name}: unsupported format {meta.get('format')!r:.40} (expected {FORMAT})")
    sha = meta.get("sha256")
    _require(meta, "sha256", isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha),
             "64 lowercase hex digits", name)
    _require(meta, "domain", isinstance(meta.get("domain"), str) and meta["domain"] in LABEL_SETS,
             f"one of {', '.join(sorted(LABEL_SETS))}", name)
    for key in ("file", "created", "engine_version", "training_command"):
        if key in meta:
            _require(meta, key, isinstance(meta[key], str), "a string", name)
    if "components" in meta:
        comps = meta["components"]
        _require(meta, "components", isinstance(comps, list) and all(c in COMPONENTS for c in comps),
                 f"a list of {', '.join(COMPONENTS)}", name)
    if "parameters" in meta:
        params = meta["parameters"]
        _require(meta, "parameters", isinstance(params, int) and not isinstance(params, bool) and params >= 0,
                 "a count", name)
    if "label_names" in meta:
        _require(meta, "label_names", meta["label_names"] == list(label_set(meta["domain"]).names),
                 f"the {meta['domain']} label names", name)
    try:
        config = ModelConfig.from_dict(meta.get("config"))
    except ConfigError as exc:
        raise WeightsError(f"{name}: {exc}") from None
    if config.domain != meta["domain"]:
        raise WeightsError(f"{name}: the configuration is for {config.domain} but 'domain' says {meta['domain']}")
    return meta


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    meta_file = metadata_path(path)
    if not meta_file.exists():
        raise WeightsError(f"metadata file missing for {Path(path).name}: expected {meta_file.name} beside it")
    data = read_bounded(meta_file, f"metadata file {meta_file.name}", MAX_SIDECAR_BYTES, WeightsError)
    return parse_metadata(data, meta_file.name)


def expected_tensors(config: ModelConfig, name: str) -> dict[str, torch.dtype]:
    """`<component>.<key>` -> dtype of the models `config` builds, made on the meta device (no
    memory); a configuration over MAX_MODEL_PARAMETERS is refused here, before any allocation."""
    from .models.generator import TriPlaneGenerator
    from .models.unet import UNetStyleDistil

    try:
        with torch.device("meta"):
            models = {"generator": TriPlaneGenerator(config), "unet": UNetStyleDistil(config.unet, config.num_classes)}
    except Exception as exc:  # noqa: BLE001 - a configuration the model code cannot build
        raise WeightsError(f"{name}: the model configuration cannot be built ({type(exc).__name__}: {str(exc)[:80]})") from None
    slots = {f"{c}.{k}": t for c, model in models.items() for k, t in model.state_dict().items()}
    count = sum(t.numel() for t in slots.values())
    if count > MAX_MODEL_PARAMETERS:
        raise WeightsError(f"{name}: the configuration needs {count:,} parameters, over the limit of "
                           f"{MAX_MODEL_PARAMETERS:,}; the sidecar is wrong or not for this engine")
    return {k: t.dtype for k, t in slots.items()}


_DTYPE_KINDS = {"F16": "float", "BF16": "float", "F32": "float", "F64": "float", "F8_E4M3": "float",
                "F8_E5M2": "float", "I8": "int", "I16": "int", "I32": "int", "I64": "int", "U8": "int",
                "U16": "int", "U32": "int", "U64": "int", "BOOL": "bool"}


def check_tensor_dtypes(path: Path, expected: Mapping[str, torch.dtype]) -> None:
    """From the safetensors header alone: every tensor in a model slot has that slot's kind of
    dtype (an int64 tensor in a float slot is refused, naming the key)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = {key: handle.get_slice(key).get_dtype() for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path.name} is not a readable safetensors file: {exc}") from None
    for key, dtype in header.items():
        if key not in expected:
            continue  # unknown names are reported by load_into with the component's context
        want = "float" if expected[key].is_floating_point else ("bool" if expected[key] == torch.bool else "int")
        if _DTYPE_KINDS.get(dtype) != want:
            raise WeightsError(f"{path.name}: tensor '{key}' is {dtype}, its slot needs a{'n' if want == 'int' else ''} "
                               f"{want} tensor (the file was altered or is not for this model)")


def load_weights(path: str | os.PathLike, verify_hash: bool = True) -> Weights:
    """Sidecar first (schema, ranges, parameter budget), then the tensor file: a regular file of
    at most MAX_WEIGHTS_BYTES, its sha256, its header's dtypes, and only then its tensors."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weights file not found: {path}")
    meta = read_metadata(path)
    config = ModelConfig.from_dict(meta["config"])
    expected = expected_tensors(config, metadata_path(path).name)
    what = "weights file"
    if verify_hash:
        actual = sha256_file(path, what=what, max_bytes=MAX_WEIGHTS_BYTES, error=WeightsError)
        if actual != meta["sha256"]:
            raise WeightsError(
                f"{path.name} failed its integrity check: sha256 is {actual[:16]}..., the metadata says "
                f"{meta['sha256'][:16]}... (the file was modified, truncated or replaced)")
    else:
        open_regular(path, what, MAX_WEIGHTS_BYTES, WeightsError).close()
    check_tensor_dtypes(path, expected)
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
