"""Model configurations: `paper` reproduces pix2pix3D seg2face / seg2cat (and S3D's U-Net)
exactly; `small` and `tiny` keep the same architecture at sizes a 2-core CPU can train and run.

Every configuration keeps pix2pix3D's 14 ws (7 geometry ws from the label-map encoder, 7
appearance ws from the z + camera mapping), which needs a 256^2 tri-plane synthesis."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .cameras import CAMERA_DEFAULTS
from .errors import ConfigError
from .labels import LABEL_SETS, label_set
from .limits import MAX_CHANNEL_BASE, MAX_CONFIG_LAYERS, MAX_CONFIG_RESOLUTION, MAX_CONFIG_WIDTH

GEOMETRY_WS = 7  # hard-coded in pix2pix3D's MaskMappingNetwork_disentangle


@dataclass(frozen=True)
class UNetConfig:
    """S3D `UNetStyleDistil`: len(channels) encoder levels, each halving the resolution, down to a
    4x4 bottleneck of `style_dim` channels that emits a (style_dim, 7) style code."""

    resolution: int = 512
    channels: tuple[int, ...] = (64, 128, 256, 512, 512, 512, 512)
    style_dim: int = 512
    repeat: int = 1  # extra conv-BN-ReLU per block (S3D default 1 -> 2 convs)

    def __post_init__(self) -> None:
        if self.resolution // 2 ** len(self.channels) != 4:
            raise ConfigError(f"U-Net: {len(self.channels)} levels from {self.resolution} must end at 4x4")


@dataclass(frozen=True)
class GeneratorConfig:
    """pix2pix3D `TriPlaneSemanticEntangleGenerator` sizes and EG3D rendering options."""

    mask_resolution: int = 512
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 25
    mapping_layers: int = 2
    encoder_channel_base: int = 32768
    encoder_channel_max: int = 512
    synthesis_resolution: int = 256
    synthesis_channel_base: int = 32768
    synthesis_channel_max: int = 512
    plane_channels: int = 32
    decoder_hidden: int = 64
    decoder_output_dim: int = 32
    neural_rendering_resolution: int = 128
    sr_channels: tuple[int, ...] = (256, 128)  # one SynthesisBlock per entry, each doubling resolution
    sr_input_resolution: int = 128
    sr_conv_clamp: float | None = 256.0  # pix2pix3D runs its SR blocks with fp16 settings
    sr_antialias: bool = True
    depth_resolution: int = 48
    depth_resolution_importance: int = 48
    clamp_mode: str = "softplus"
    white_back: bool = False

    @property
    def output_resolution(self) -> int:
        return self.sr_input_resolution * 2 ** len(self.sr_channels)


@dataclass(frozen=True)
class ModelConfig:
    name: str
    domain: str
    unet: UNetConfig = field(default_factory=UNetConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    mesh_level: float = 10.0  # raw-sigma iso-level (EG3D uses 10, pix2pix3D's mesh tool 50)

    @property
    def num_classes(self) -> int:
        return label_set(self.domain).num_classes

    @property
    def camera(self):
        return CAMERA_DEFAULTS[self.domain]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "ModelConfig":
        """Build from JSON data (a weights sidecar); types and ranges are checked first
        (`check_config_dict`), so an absurd size is refused before any model is built."""
        check_config_dict(data)
        try:
            unet = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["unet"].items()})
            gen = GeneratorConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["generator"].items()})
            return ModelConfig(name=data["name"], domain=data["domain"], unet=unet, generator=gen,
                               mesh_level=float(data.get("mesh_level", 10.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed model configuration: {exc}") from None


# The schema of a configuration in JSON: field -> (kind, low, high). Kinds: "int", "ints" (a list of
# ints, its length in 0..MAX_CONFIG_LAYERS), "pow2" (a power-of-two int), "float", "float?" (or
# null), "bool", "str". Fields left out take the dataclass defaults.
W, R = MAX_CONFIG_WIDTH, MAX_CONFIG_RESOLUTION
UNET_SCHEMA: dict[str, tuple[str, float, float]] = {
    "resolution": ("pow2", 8, R), "channels": ("ints", 1, W), "style_dim": ("int", 1, W), "repeat": ("int", 0, 8),
}
GENERATOR_SCHEMA: dict[str, tuple[str, float, float]] = {
    "mask_resolution": ("pow2", 8, R), "z_dim": ("int", 1, W), "w_dim": ("int", 1, W), "c_dim": ("int", 1, 64),
    "mapping_layers": ("int", 1, MAX_CONFIG_LAYERS), "encoder_channel_base": ("int", 1, MAX_CHANNEL_BASE),
    "encoder_channel_max": ("int", 1, W), "synthesis_resolution": ("pow2", 4, R),
    "synthesis_channel_base": ("int", 1, MAX_CHANNEL_BASE), "synthesis_channel_max": ("int", 1, W),
    "plane_channels": ("int", 1, W), "decoder_hidden": ("int", 1, W), "decoder_output_dim": ("int", 1, W),
    "neural_rendering_resolution": ("pow2", 4, R), "sr_channels": ("ints", 1, W), "sr_input_resolution": ("pow2", 4, R),
    "sr_conv_clamp": ("float?", 0, 1e6), "sr_antialias": ("bool", 0, 1), "depth_resolution": ("int", 1, 512),
    "depth_resolution_importance": ("int", 0, 512), "clamp_mode": ("str", 0, 0), "white_back": ("bool", 0, 1),
}
CLAMP_MODES = ("softplus",)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_field(where: str, value: Any, kind: str, low: float, high: float) -> None:
    if kind in ("int", "pow2"):
        ok = _is_int(value) and low <= value <= high and (kind == "int" or value & (value - 1) == 0)
        want = f"{'a power of two' if kind == 'pow2' else 'an integer'} in {low:g}..{high:g}"
    elif kind == "ints":
        ok = (isinstance(value, (list, tuple)) and len(value) <= MAX_CONFIG_LAYERS
              and all(_is_int(v) and low <= v <= high for v in value))
        want = f"a list of at most {MAX_CONFIG_LAYERS} integers in {low:g}..{high:g}"
    elif kind in ("float", "float?"):
        ok = (value is None and kind == "float?") or (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and low < value <= high)
        want = f"a number above {low:g} and at most {high:g}" + (" (or null)" if kind == "float?" else "")
    elif kind == "bool":
        ok, want = isinstance(value, bool), "true or false"
    else:
        ok, want = value in CLAMP_MODES, f"one of {', '.join(CLAMP_MODES)}"
    if not ok:
        raise ConfigError(f"model configuration: {where} must be {want}, got {value!r:.40}")


def check_config_dict(data: Any) -> None:
    """Types and ranges of a JSON configuration, before anything is built (ConfigError names the field)."""
    if not isinstance(data, dict):
        raise ConfigError(f"model configuration must be a JSON object, got {type(data).__name__}")
    for key in ("name", "domain", "unet", "generator"):
        if key not in data:
            raise ConfigError(f"model configuration: '{key}' is missing")
    extra = sorted(str(k) for k in data if k not in ("name", "domain", "unet", "generator", "mesh_level"))
    if extra:
        raise ConfigError(f"model configuration: unknown field '{extra[0]:.40}'")
    if not isinstance(data["name"], str) or not 0 < len(data["name"]) <= 64:
        raise ConfigError(f"model configuration: name must be a short string, got {data['name']!r:.40}")
    if not isinstance(data["domain"], str) or data["domain"] not in LABEL_SETS:
        raise ConfigError(f"model configuration: unknown domain {data['domain']!r:.40}; "
                          f"expected one of {', '.join(sorted(LABEL_SETS))}")
    mesh_level = data.get("mesh_level", 10.0)
    if not (isinstance(mesh_level, (int, float)) and not isinstance(mesh_level, bool) and math.isfinite(mesh_level)):
        raise ConfigError(f"model configuration: mesh_level must be a finite number, got {mesh_level!r:.40}")
    for part, schema in (("unet", UNET_SCHEMA), ("generator", GENERATOR_SCHEMA)):
        section = data[part]
        if not isinstance(section, dict):
            raise ConfigError(f"model configuration: '{part}' must be a JSON object, got {type(section).__name__}")
        for key, value in section.items():
            if key not in schema:
                raise ConfigError(f"model configuration: unknown field {part}.{str(key):.40}")
            _check_field(f"{part}.{key}", value, *schema[key])


def _paper(domain: str) -> ModelConfig:
    return ModelConfig(name="paper", domain=domain, mesh_level=10.0)


def _small(domain: str) -> ModelConfig:
    return ModelConfig(
        name="small",
        domain=domain,
        unet=UNetConfig(resolution=128, channels=(32, 64, 128, 128, 128), style_dim=128),
        generator=GeneratorConfig(
            mask_resolution=128, z_dim=128, w_dim=128,
            encoder_channel_base=4096, encoder_channel_max=128,
            synthesis_channel_base=4096, synthesis_channel_max=128,
            neural_rendering_resolution=64, sr_input_resolution=64, sr_channels=(64,),
            depth_resolution=24, depth_resolution_importance=24,
        ),
    )


def _tiny(domain: str) -> ModelConfig:
    """For unit tests: every module present, milliseconds per call."""
    return ModelConfig(
        name="tiny",
        domain=domain,
        unet=UNetConfig(resolution=32, channels=(8, 16, 16), style_dim=16),
        generator=GeneratorConfig(
            mask_resolution=32, z_dim=16, w_dim=16,
            encoder_channel_base=256, encoder_channel_max=16,
            synthesis_channel_base=256, synthesis_channel_max=16,
            plane_channels=8, decoder_hidden=16, decoder_output_dim=max(8, label_set(domain).num_classes),
            neural_rendering_resolution=16, sr_input_resolution=16, sr_channels=(8,),
            depth_resolution=8, depth_resolution_importance=8,
        ),
    )


CONFIGS = {"paper": _paper, "small": _small, "tiny": _tiny}


def get_config(name: str, domain: str = "face") -> ModelConfig:
    if name not in CONFIGS:
        raise ConfigError(f"unknown configuration {name!r}; expected one of {sorted(CONFIGS)}")
    label_set(domain)  # validates the domain
    return CONFIGS[name](domain)
