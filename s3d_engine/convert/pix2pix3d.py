"""Convert pix2pix3D's published generators (`pix2pix3d_seg2face.pkl`, `pix2pix3d_seg2cat.pkl`)
into our safetensors weights, without running anything from the file.

Steps (see docs/PARITY.md, "Converting the official seg2face / seg2cat files"):

1. `load_checkpoint_object` unpickles with an allow-list; persistent StyleGAN objects become
   inert `PersistentNode`s and their embedded source is never executed.
2. `g_ema_state_dict` walks `G_ema`'s `_parameters` / `_buffers` / `_modules` exactly as
   `nn.Module.state_dict()` would (skipping `None` entries and non-persistent buffers).
3. `infer_domain` reads the class count off the mask encoder's first layer and the semantic
   super-resolution output (19 -> face, 6 -> cat).
4. `check_layout` compares every name and shape with our `paper` configuration.
5. `convert_checkpoint` writes `<out>.safetensors` + `<out>.json` with `s3d_engine.weights`,
   recording the source file name, its sha256 and the domain.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from ..config import ModelConfig, get_config
from ..errors import WeightsError
from ..io_utils import sha256_file
from ..labels import LABEL_SETS
from ..limits import MAX_CHECKPOINT_BYTES
from .errors import CorruptCheckpointError
from .inert import InertEasyDict, PersistentNode, is_node
from .safe_unpickle import load_checkpoint_object
from .tensors import Storage

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1
G_EMA_CLASS = "TriPlaneSemanticEntangleGenerator"
ENCODER_INPUT = "backbone.mapping.embed_mask.b{res}.fromrgb.weight"
SEMANTIC_OUTPUT = "superresolution_semantic.block1.torgb.weight"
# Names in our configuration that differ from pix2pix3D's G_ema (none today: the engine uses
# pix2pix3D's attribute names). Kept as the one place to change if the engine ever renames.
KEY_RENAMES: dict[str, str] = {}


class LayoutMismatchError(WeightsError):
    """The checkpoint's tensors do not match our paper configuration."""


@dataclass
class Pix2Pix3DCheckpoint:
    """What was read from a checkpoint: G_ema's flat state dict plus provenance."""

    source: Path
    sha256: str
    state_dict: dict[str, torch.Tensor]
    domain: str
    num_classes: int
    class_name: str | None = None
    rendering_kwargs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Walking inert modules
# ---------------------------------------------------------------------------------------------


def _state_of(node: Any, where: str) -> dict[str, Any]:
    if not is_node(node):
        raise CorruptCheckpointError(f"{where or 'G_ema'}: expected a module, found a {type(node).__name__}")
    return node.state


def _mapping_field(state: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = state.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CorruptCheckpointError(f"{where or 'G_ema'}: {name} is a {type(value).__name__}, expected a dict")
    return value


def module_state_dict(node: Any, prefix: str = "", _depth: int = 0, _path: tuple[int, ...] = ()) -> dict[str, torch.Tensor]:
    """`nn.Module.state_dict()` for an inert module tree: parameters, then persistent buffers,
    then children, with dotted prefixes. `None` entries are skipped, as torch does."""
    where = prefix[:-1]
    if _depth > 64 or id(node) in _path:
        raise CorruptCheckpointError(f"{where}: the module tree is cyclic or absurdly deep")
    state = _state_of(node, where)
    out: dict[str, torch.Tensor] = {}
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    if not isinstance(non_persistent, (set, frozenset)):
        raise CorruptCheckpointError(f"{where}: _non_persistent_buffers_set is not a set")
    for group in ("_parameters", "_buffers"):
        for name, tensor in _mapping_field(state, group, where).items():
            if tensor is None or (group == "_buffers" and name in non_persistent):
                continue
            if not isinstance(name, str) or not name or "." in name:
                raise CorruptCheckpointError(f"{where}: invalid tensor name {name!r:.40}")
            if not isinstance(tensor, torch.Tensor):
                raise CorruptCheckpointError(f"{prefix}{name}: expected a tensor, found a {type(tensor).__name__}")
            out[prefix + name] = tensor
    for name, child in _mapping_field(state, "_modules", where).items():
        if child is None:
            continue
        if not isinstance(name, str) or not name or "." in name:
            raise CorruptCheckpointError(f"{where}: invalid submodule name {name!r:.40}")
        out.update(module_state_dict(child, f"{prefix}{name}.", _depth + 1, _path + (id(node),)))
    return out


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def find_g_ema(obj: Any, name: str) -> tuple[dict[str, torch.Tensor], Any]:
    """G_ema's state dict from what the file holds: pix2pix3D's snapshot dict (`G_ema` key), a
    bare module, or an already flat state dict (e.g. re-saved with torch.save)."""
    if isinstance(obj, dict) and not _is_state_dict(obj):
        if "G_ema" not in obj:
            keys = ", ".join(sorted(str(k) for k in obj)[:8])
            raise WeightsError(f"{name} holds no 'G_ema' generator (keys: {keys or 'none'}); "
                               "is this a pix2pix3D training snapshot?")
        obj = obj["G_ema"]
    if _is_state_dict(obj):
        return dict(obj), None
    if is_node(obj):
        return module_state_dict(obj), obj
    raise WeightsError(f"{name}: G_ema is a {type(obj).__name__}, not a generator")


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def infer_domain(state_dict: Mapping[str, torch.Tensor], name: str = "checkpoint") -> tuple[str, int]:
    """(domain, class count) from the mask encoder's input channels and the semantic SR output."""
    encoder_inputs = sorted(
        (int(k.split(".")[3][1:]), k) for k in state_dict
        if k.startswith("backbone.mapping.embed_mask.b") and k.endswith(".fromrgb.weight") and k.split(".")[3][1:].isdigit())
    if not encoder_inputs:
        raise LayoutMismatchError(f"{name}: no mask encoder input layer ({ENCODER_INPUT.format(res='<res>')}); "
                                  "this is not a pix2pix3D semantic generator")
    counts = {int(state_dict[encoder_inputs[-1][1]].shape[1])}
    if SEMANTIC_OUTPUT in state_dict:
        counts.add(int(state_dict[SEMANTIC_OUTPUT].shape[0]))
    if len(counts) != 1:
        raise LayoutMismatchError(f"{name}: the mask encoder takes {sorted(counts)[0]} classes but the semantic "
                                  f"output has {sorted(counts)[-1]}; the file is inconsistent")
    classes = counts.pop()
    for domain, labels in LABEL_SETS.items():
        if labels.num_classes == classes:
            return domain, classes
    if classes == 1:
        raise LayoutMismatchError(f"{name} is an edge-conditioned model (edge2cat / edge2car, 1 input channel); "
                                  "only the seg2face (19 classes) and seg2cat (6 classes) generators are supported")
    supported = ", ".join(f"{d} ({ls.num_classes})" for d, ls in LABEL_SETS.items())
    raise LayoutMismatchError(f"{name} has {classes} semantic classes; supported: {supported}")


def expected_layout(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of our generator for `config`, built on the meta device (no memory)."""
    from ..models.generator import TriPlaneGenerator

    with torch.device("meta"):
        model = TriPlaneGenerator(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def map_to_engine(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pix2pix3D G_ema names -> our generator's names (identity but for `KEY_RENAMES`)."""
    return {KEY_RENAMES.get(k, k): v for k, v in state_dict.items()}


def _list(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" (and {len(names) - limit} more)" if len(names) > limit else "")


def check_layout(state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]], name: str,
                 config_label: str) -> None:
    """Every expected name present with the same shape; nothing unexpected."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [f"{k} {tuple(state_dict[k].shape)} (expected {expected[k]})"
             for k in expected if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k])]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {_list(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {_list(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} with the wrong shape: {_list(wrong, 4)}")
    if problems:
        raise LayoutMismatchError(f"{name} does not match the {config_label} configuration: " + "; ".join(problems))
    for key, tensor in state_dict.items():
        if not tensor.is_floating_point():
            raise LayoutMismatchError(f"{name}: tensor {key} is {tensor.dtype}, expected floating point")


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON-safe copy of simple checkpoint values (rendering options)."""
    if depth > 6:
        return None
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 and not isinstance(value, (torch.Tensor, Storage)):
        return _plain(value.item(), depth + 1)
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, (dict, InertEasyDict)):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    return repr(value)[:80]


def _compare_rendering(kwargs: Mapping[str, Any], config: ModelConfig) -> list[str]:
    """Upstream rendering options that differ from our configuration (reported, not fatal)."""
    g, cam = config.generator, config.camera
    ours = {
        "depth_resolution": g.depth_resolution, "depth_resolution_importance": g.depth_resolution_importance,
        "ray_start": cam.ray_start, "ray_end": cam.ray_end, "box_warp": cam.box_warp,
        "avg_camera_radius": cam.radius, "avg_camera_pivot": list(cam.pivot), "white_back": g.white_back,
        "clamp_mode": g.clamp_mode, "sr_antialias": g.sr_antialias, "disparity_space_sampling": False,
        "c_gen_conditioning_zero": False, "c_scale": 1, "superresolution_noise_mode": "none",
    }
    notes = []
    for key, value in ours.items():
        if key not in kwargs:
            continue
        theirs = kwargs[key]
        same = (all(abs(float(a) - float(b)) < 1e-6 for a, b in zip(theirs, value)) and len(theirs) == len(value)
                if isinstance(value, list) and isinstance(theirs, list)
                else (abs(float(theirs) - float(value)) < 1e-6 if isinstance(value, (int, float)) and not isinstance(value, bool)
                      and isinstance(theirs, (int, float)) else theirs == value))
        if not same:
            notes.append(f"rendering option {key}: checkpoint {theirs!r}, our configuration {value!r}")
    return notes


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    return sha256_file(path, what="checkpoint", max_bytes=MAX_CHECKPOINT_BYTES, error=WeightsError)


def read_checkpoint(src: str | os.PathLike, config: ModelConfig | None = None) -> Pix2Pix3DCheckpoint:
    """Read, walk and check a pix2pix3D checkpoint (nothing in it runs). `config` defaults to our
    `paper` configuration for the inferred domain; tests pass scaled-down ones."""
    src = Path(src)
    obj = load_checkpoint_object(src)
    state_dict, node = find_g_ema(obj, src.name)
    domain, classes = infer_domain(state_dict, src.name)
    if config is None:
        config = get_config("paper", domain)
    elif config.domain != domain:
        raise LayoutMismatchError(f"{src.name} is a {domain} model ({classes} classes) but the target configuration "
                                  f"is for {config.domain}")
    state_dict = map_to_engine(state_dict)
    check_layout(state_dict, expected_layout(config), src.name, f"'{config.name}' {domain}")
    class_name = node.meta.class_name if isinstance(node, PersistentNode) else None
    notes = []
    if class_name is not None and class_name != G_EMA_CLASS:
        notes.append(f"G_ema is a {class_name}, expected {G_EMA_CLASS}")
    rendering = {}
    if node is not None:
        raw = node.state.get("rendering_kwargs")
        if isinstance(raw, dict):
            rendering = _plain(raw)
            notes += _compare_rendering(rendering, config)
        nrr = node.state.get("neural_rendering_resolution")
        if isinstance(nrr, int) and not isinstance(nrr, bool):
            rendering["neural_rendering_resolution"] = nrr
            if nrr != config.generator.neural_rendering_resolution:
                notes.append(f"neural rendering resolution: checkpoint {nrr}, our configuration "
                             f"{config.generator.neural_rendering_resolution}")
    for note in notes:
        log.warning("%s: %s", src.name, note)
    return Pix2Pix3DCheckpoint(source=src, sha256=sha256_of(src), state_dict=state_dict, domain=domain,
                               num_classes=classes, class_name=class_name, rendering_kwargs=rendering, notes=notes)


def _output_path(src: Path, out: Path) -> Path:
    if out.is_dir() or str(out).endswith(("/", os.sep)):
        return out / f"{src.stem}.safetensors"
    if out.suffix == "":
        return out.with_suffix(".safetensors")
    if out.suffix != ".safetensors":
        raise WeightsError(f"the output must be a .safetensors path (or a folder), got {out.name}")
    return out


def convert_checkpoint(src: str | os.PathLike, out: str | os.PathLike, *, config: ModelConfig | None = None) -> Path:
    """Convert an official pix2pix3D generator checkpoint into our weights format.

    `src` is a pix2pix3D training snapshot (`pix2pix3d_seg2face.pkl` or `pix2pix3d_seg2cat.pkl`; a
    torch.save archive holding G_ema or its state dict also works). It is read with a restricted
    unpickler: nothing in the file is imported, called or executed. The domain (face: 19 classes,
    cat: 6) is inferred, every tensor name and shape is checked against our `paper` configuration,
    and `out` (a `.safetensors` path, or a folder to write `<src stem>.safetensors` into) is written
    with a `.json` sidecar recording the source file name, its sha256 and the domain. The result
    loads with `S3DPipeline.from_pretrained(path)`.

    `config` is for tests only (a scaled-down configuration of the same architecture).

    Returns the path of the written `.safetensors` file. Raises `WeightsError` (or a subclass:
    `UnsafeCheckpointError`, `CorruptCheckpointError`, `LayoutMismatchError`) with a readable
    message for a file that is unsafe, damaged, or not a supported pix2pix3D generator."""
    from ..weights import save_weights

    src = Path(src)
    target = _output_path(src, Path(out))
    ckpt = read_checkpoint(src, config)
    config = config or get_config("paper", ckpt.domain)
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in ckpt.state_dict.items()}
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise WeightsError(f"{src.name}: tensor {key} contains NaN or infinite values")
    return save_weights(
        target, {"generator": tensors}, config,
        source="pix2pix3D", source_file=src.name, source_sha256=ckpt.sha256, source_class=ckpt.class_name,
        source_rendering_kwargs=ckpt.rendering_kwargs, source_num_classes=ckpt.num_classes,
        conversion_notes=ckpt.notes, converter=f"s3d_engine.convert.pix2pix3d/{CONVERTER_VERSION}",
    )
