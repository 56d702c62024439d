"""Model configurations: `paper` reproduces pix2pix3D seg2face / seg2cat (and S3D's U-Net)
exactly; `small` and `tiny` keep the same architecture at sizes a 2-core CPU can train and run.

Every configuration keeps pix2pix3D's 14 ws (7 geometry ws from the label-map encoder, 7
appearance ws from the z + camera mapping), which needs a 256^2 tri-plane synthesis."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .cameras import CAMERA_DEFAULTS
from .errors import ConfigError
from .labels import label_set

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
        try:
            unet = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["unet"].items()})
            gen = GeneratorConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["generator"].items()})
            return ModelConfig(name=data["name"], domain=data["domain"], unet=unet, generator=gen,
                               mesh_level=float(data.get("mesh_level", 10.0)))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed model configuration: {exc}") from None


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
