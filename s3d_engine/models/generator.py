"""pix2pix3D's `TriPlaneSemanticEntangleGenerator`: label map + z + camera -> tri-plane ->
volume-rendered RGB and semantic logits -> super-resolution. Attribute names follow the
published `G_ema` so official checkpoints map onto it key for key."""
from __future__ import annotations

import torch
from torch import nn

from ..config import GEOMETRY_WS, ModelConfig
from ..device import half_precision
from ..rendering.ray_sampler import sample_rays
from ..rendering.renderer import RenderOptions, query_field, render_rays
from .decoder import TriPlaneDecoder
from .mapping import MaskMappingNetwork
from .superresolution import SuperResolution
from ..nn.synthesis import SynthesisNetwork


class Backbone(nn.Module):
    """EG3D's StyleGAN2 backbone: `mapping` (pix2pix3D's mask mapping) + `synthesis` (tri-plane)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        g = config.generator
        self.synthesis = SynthesisNetwork(g.w_dim, g.synthesis_resolution, 3 * g.plane_channels,
                                          g.synthesis_channel_base, g.synthesis_channel_max)
        if self.synthesis.num_ws <= GEOMETRY_WS:
            raise ValueError("the synthesis network needs more than 7 ws")
        self.mapping = MaskMappingNetwork(
            g.z_dim, g.c_dim, g.w_dim, self.synthesis.num_ws, config.num_classes, g.mask_resolution,
            geometry_ws=GEOMETRY_WS, num_layers=g.mapping_layers,
            encoder_channel_base=g.encoder_channel_base, encoder_channel_max=g.encoder_channel_max)


class TriPlaneGenerator(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        g = config.generator
        self.config = config
        self.num_classes = config.num_classes
        if g.decoder_output_dim < self.num_classes:
            raise ValueError("decoder_output_dim must hold every semantic class")
        self.backbone = Backbone(config)
        self.decoder = TriPlaneDecoder(g.plane_channels, g.decoder_hidden, g.decoder_output_dim)
        self.superresolution = SuperResolution(g.decoder_output_dim, 3, g.w_dim, g.sr_input_resolution,
                                               g.sr_channels, g.sr_conv_clamp, g.sr_antialias)
        self.superresolution_semantic = SuperResolution(g.decoder_output_dim, self.num_classes, g.w_dim,
                                                        g.sr_input_resolution, g.sr_channels, g.sr_conv_clamp,
                                                        g.sr_antialias)
        cam = config.camera
        self.render_options = RenderOptions(
            ray_start=cam.ray_start, ray_end=cam.ray_end, box_warp=cam.box_warp,
            depth_resolution=g.depth_resolution, depth_resolution_importance=g.depth_resolution_importance,
            clamp_mode=g.clamp_mode, white_back=g.white_back)
        self.neural_rendering_resolution = g.neural_rendering_resolution

    @property
    def num_ws(self) -> int:
        return self.backbone.synthesis.num_ws

    def mapping(self, z: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None = None,
                geometry_ws: torch.Tensor | None = None, truncation_psi: float = 1.0,
                update_emas: bool = False) -> torch.Tensor:
        return self.backbone.mapping(z, c, mask=mask, geometry_ws=geometry_ws, truncation_psi=truncation_psi,
                                     update_emas=update_emas)

    def planes(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        p = self.backbone.synthesis(ws, noise_mode=noise_mode)
        return p.reshape(p.shape[0], 3, -1, p.shape[-2], p.shape[-1])

    def sample_mixed(self, points: torch.Tensor, ws: torch.Tensor | None = None, planes: torch.Tensor | None = None,
                     noise_mode: str = "const") -> dict[str, torch.Tensor]:
        """Decoder outputs at world points (N, M, 3): raw sigma and [colour | semantic] features."""
        if planes is None:
            planes = self.planes(ws, noise_mode)
        return query_field(planes, self.decoder, points, self.render_options.box_warp)

    def render(self, planes: torch.Tensor, ws: torch.Tensor, c: torch.Tensor, resolution: int | None = None,
               generator: torch.Generator | None = None, super_resolve: bool = True,
               half_sr: bool = False) -> dict[str, torch.Tensor]:
        """Render a tri-plane from cameras c (N, 25): raw and super-resolved RGB and semantics.
        The volume rendering always runs in fp32; `half_sr` runs the super-resolution convolutions
        in fp16 on CUDA (pix2pix3D trains its SR blocks in fp16 with conv_clamp 256)."""
        res = resolution or self.neural_rendering_resolution
        cam2world = c[:, :16].reshape(-1, 4, 4).float()
        intrinsics = c[:, 16:25].reshape(-1, 3, 3).float()
        origins, directions = sample_rays(cam2world, intrinsics, res)
        n = origins.shape[0]
        if planes.shape[0] != n:
            planes = planes.expand(n, *planes.shape[1:])
            ws = ws.expand(n, *ws.shape[1:])
        features, depth, opacity = render_rays(planes.float(), self.decoder, origins, directions,
                                               self.render_options, generator)
        feature_image = features.permute(0, 2, 1).reshape(n, features.shape[-1], res, res).contiguous()
        k = self.decoder.output_dim
        colour_features, semantic_features = feature_image[:, :k], feature_image[:, k:]
        out = {
            "image_raw": colour_features[:, :3],
            "semantic_raw": semantic_features[:, :self.num_classes],
            "image_depth": depth.permute(0, 2, 1).reshape(n, 1, res, res),
            "opacity": opacity.permute(0, 2, 1).reshape(n, 1, res, res),
        }
        if super_resolve:
            with half_precision(planes.device, half_sr):
                out["image"] = self.superresolution(out["image_raw"], colour_features, ws).float()
                out["semantic"] = self.superresolution_semantic(out["semantic_raw"], semantic_features, ws).float()
        return out

    def synthesis(self, ws: torch.Tensor, c: torch.Tensor, neural_rendering_resolution: int | None = None,
                  noise_mode: str = "const", generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        planes = self.planes(ws, noise_mode)
        out = self.render(planes, ws, c, neural_rendering_resolution, generator)
        out["planes"] = planes
        return out

    def forward(self, z: torch.Tensor, c: torch.Tensor, mask: torch.Tensor, c_render: torch.Tensor | None = None,
                truncation_psi: float = 1.0, **kwargs) -> dict[str, torch.Tensor]:
        """pix2pix3D convention: the mapping sees the conditioning pose c; rendering uses c_render (default c)."""
        ws = self.mapping(z, c, mask=mask, truncation_psi=truncation_psi)
        return self.synthesis(ws, c if c_render is None else c_render, **kwargs)

