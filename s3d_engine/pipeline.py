"""`S3DPipeline`: sketch -> mask (S3D U-Net) -> ws (pix2pix3D mapping) -> tri-plane -> a
labelled mesh, then renders. One object that owns the models and runs them, diffusers-style:

    pipe = S3DPipeline.from_pretrained("face")          # or a path, or "random:small:cat"
    result = pipe("sketch.png", seed=3)                 # or pipe(sketch, GenerateOptions(...))
    result.save("out/")

`resolve_weights` and `Cancelled` are re-exported here for callers of the pipeline API.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable

import numpy as np
import torch

from ._version import __version__
from .cameras import domain_camera, orbit_cameras
from .config import ModelConfig, get_config
from .device import half_precision, resolve_device
from .catalog import resolve_weights
from .errors import Cancelled, OptionsError, S3DError, WeightsError  # noqa: F401 - Cancelled is part of this API
from .labels import LabelSet, label_set
from .mesh.extract import MeshOptions, extract_mesh
from .options import GenerateOptions
from .models.generator import TriPlaneGenerator
from .models.unet import UNetStyleDistil
from .results import S3DResult
from .sketch import SketchInput, label_map_array, normalize_sketch
from .weights import Weights, load_into, load_weights

ProgressFn = Callable[[str, float], None]
MeshFn = Callable[[S3DResult], None]


class S3DPipeline:
    """Sketch-to-3D: the S3D U-Net and the pix2pix3D generator, on one device, in eval mode.

    Build it with `from_pretrained` (a shipped name, a .safetensors path or random weights),
    then call it with a sketch and `GenerateOptions` (or their fields as keywords).

    Example:
        >>> pipe = S3DPipeline.from_pretrained("random:tiny:face", device="cpu")
        >>> pipe.config.domain, pipe.labels.num_classes
        ('face', 19)
    """

    def __init__(self, config: ModelConfig, unet: UNetStyleDistil, generator: TriPlaneGenerator,
                 device: torch.device, source: str, has_trained_unet: bool = True, half: bool = True) -> None:
        self.config, self.unet, self.generator, self.device = config, unet.eval(), generator.eval(), device
        self.source, self.has_trained_unet, self.half = source, has_trained_unet, half
        self.labels: LabelSet = label_set(config.domain)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, config: ModelConfig, device: str | torch.device = "auto", seed: int = 0) -> "S3DPipeline":
        """Randomly initialised models (deterministic by seed): every code path runs before training."""
        dev = resolve_device(device)
        torch.manual_seed(seed)
        unet = UNetStyleDistil(config.unet, config.num_classes)
        gen = TriPlaneGenerator(config)
        return cls(config, unet.to(dev), gen.to(dev), dev, source=f"random:{config.name}:{config.domain}")

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, device: str | torch.device = "auto") -> "S3DPipeline":
        """Load weights, their hash checked against the sidecar, onto a device.

        Args:
            name_or_path: 'face', 'cat' (any stem in the weights folders, see `catalog.py`), a
                .safetensors path, or 'random:<tiny|small|paper>:<face|cat>' for random weights.
            device: 'auto' (CUDA when present, else the CPU), 'cpu', 'cuda[:N]' or 'mps'.

        Returns:
            `S3DPipeline` ready to call.

        Raises:
            WeightsError: unknown name, missing or tampered file, or shapes that do not match.

        Example:
            >>> S3DPipeline.from_pretrained("random:tiny:cat", device="cpu").config.domain
            'cat'
        """
        text = str(name_or_path)
        if text.startswith("random:"):
            parts = text.split(":")
            if len(parts) != 3:
                raise WeightsError(f"random weights are named 'random:<config>:<domain>', got {text!r}")
            return cls.from_config(get_config(parts[1], parts[2]), device)
        weights = load_weights(resolve_weights(name_or_path))
        return cls.from_weights(weights, device)

    @classmethod
    def from_weights(cls, weights: Weights, device: str | torch.device = "auto") -> "S3DPipeline":
        dev = resolve_device(device)
        config = weights.config
        gen = TriPlaneGenerator(config)
        load_into(gen, weights.state_dict("generator"), f"{weights.path.name} [generator]")
        unet = UNetStyleDistil(config.unet, config.num_classes)
        has_unet = "unet" in weights.tensors
        if has_unet:
            load_into(unet, weights.state_dict("unet"), f"{weights.path.name} [unet]")
        return cls(config, unet.to(dev), gen.to(dev), dev, source=str(weights.path), has_trained_unet=has_unet)

    def info(self) -> dict[str, Any]:
        return {
            "version": __version__, "device": str(self.device), "config": self.config.name,
            "domain": self.config.domain, "weights": self.source, "num_classes": self.config.num_classes,
            "sketch_resolution": self.config.unet.resolution, "has_trained_unet": self.has_trained_unet,
            "torch": torch.__version__,
        }

    # ---------------------------------------------------------------- stages
    @torch.no_grad()
    def sketch_to_mask(self, sketch: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """Normalised sketch (R, R) in [0, 1] -> label map (R, R) uint8 and style code (1, w_dim, 7)."""
        x = torch.from_numpy(np.ascontiguousarray(sketch, dtype=np.float32))[None, None].to(self.device)
        with half_precision(self.device, self.half):
            logits, style = self.unet(x)
        return logits.argmax(1)[0].to(torch.uint8).cpu().numpy(), style.float()

    @torch.no_grad()
    def mask_to_ws(self, mask: np.ndarray, seed: int, truncation_psi: float = 1.0) -> torch.Tensor:
        g = self.config.generator
        z = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(int(seed))).to(self.device)
        c = torch.from_numpy(domain_camera(self.config.domain))[None].to(self.device)
        m = torch.from_numpy(np.ascontiguousarray(mask)).long()[None].to(self.device)
        return self.generator.mapping(z, c, mask=m, truncation_psi=truncation_psi)

    @torch.no_grad()
    def render_views(self, planes: torch.Tensor, ws: torch.Tensor, cameras: np.ndarray, seed: int,
                     progress: ProgressFn | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Super-resolved RGB and argmax labels for each camera label (K, 25). `progress` is
        called before each view, so a cancel takes effect between frames."""
        rng = torch.Generator(device=self.device).manual_seed(int(seed))
        images, labels = [], []
        for k, cam in enumerate(cameras):
            if progress is not None:
                progress("render", 0.8 + 0.2 * k / len(cameras))
            c = torch.from_numpy(cam)[None].to(self.device)
            out = self.generator.render(planes, ws, c, generator=rng, half_sr=self.half)
            img = ((out["image"][0].float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(1, 2, 0)
            images.append(img.cpu().numpy())
            labels.append(out["semantic"][0].argmax(0).to(torch.uint8).cpu().numpy())
        return images, labels

    # ---------------------------------------------------------------- the call
    def options(self, options: GenerateOptions | None = None, **overrides: Any) -> GenerateOptions:
        """`options` with `overrides` applied, validated, and checked against these weights."""
        opts = options if options is not None else GenerateOptions()
        if not isinstance(opts, GenerateOptions):
            raise OptionsError(f"options must be a GenerateOptions, got {type(opts).__name__}")
        if overrides:
            opts = opts.replace(**overrides)
        if opts.domain is not None and opts.domain != self.config.domain:
            raise OptionsError(f"these weights ({os.path.basename(self.source)}) are for the {self.config.domain} "
                               f"domain, but domain {opts.domain!r} was asked for; choose {opts.domain} weights")
        return opts

    def __call__(self, sketch: SketchInput | None = None, options: GenerateOptions | None = None, *,
                 mask: np.ndarray | None = None, progress: ProgressFn | None = None, on_mesh: MeshFn | None = None,
                 mesh_level: float | None = None, **overrides: Any) -> S3DResult:
        """Generate a labelled head from a sketch, mesh first and renders after.

        Args:
            sketch: a file path, PIL image, array (black strokes on white) or a list of (N, 2|3)
                stroke polylines. Not needed when `mask` is given.
            options: a `GenerateOptions`; its fields may also be given as keyword overrides
                (`seed=3, mesh_resolution=256, smooth=10, turntable_frames=8, ...`).
            mask: a label map (H, W) of class indices, used instead of the U-Net's mask.
            progress: `progress(stage, fraction)`, called at each stage; raising (for example
                `Cancelled`) stops the generation there.
            on_mesh: called with a partial `S3DResult` (mask and mesh, no renders) as soon as
                the mesh exists, before the renders: a front end shows the mesh first.
            mesh_level: density iso-level override (default: the weights' own level).

        Returns:
            `S3DResult`: the normalised sketch, mask, mesh, front view (None with render=False),
            turntable frames, timings and engine info. `result.save(folder)` writes the files.

        Example:
            >>> pipe = S3DPipeline.from_pretrained("random:tiny:face", device="cpu")
            >>> r = pipe([np.array([[0.3, 0.3], [0.7, 0.7]])], seed=1, mesh_resolution=32, render=False)
            >>> r.mesh is not None and r.front is None
            True
        """
        opts = self.options(options, **overrides)
        timings: dict[str, float] = {}
        report = progress or (lambda stage, fraction: None)

        def stage(name: str, fraction: float) -> float:
            report(name, fraction)
            return time.perf_counter()

        t = stage("sketch", 0.0)
        if mask is None:
            if sketch is None:
                raise S3DError("give a sketch, or a label map through mask=")
            norm = normalize_sketch(sketch, self.config.unet.resolution, fit=opts.fit)
            timings["sketch"] = time.perf_counter() - t
            t = stage("mask", 0.1)
            label_map, _ = self.sketch_to_mask(norm)
            timings["unet"] = time.perf_counter() - t
        else:
            label_map, norm = self._check_mask(mask), None
        t = stage("planes", 0.2)
        with torch.no_grad():  # fp32, as pix2pix3D runs its backbone (num_fp16_res = 0)
            ws = self.mask_to_ws(label_map, opts.seed, opts.truncation_psi)
            planes = self.generator.planes(ws)
        timings["mapping_synthesis"] = time.perf_counter() - t
        result = S3DResult(sketch=norm, mask=label_map, mask_rgb=self.labels.colorize(label_map), front=None,
                           front_labels=None, views=[], mesh=None, seed=opts.seed, labels=self.labels,
                           timings=timings, info=self.info(), options=opts,
                           inputs=(str(sketch),) if isinstance(sketch, (str, os.PathLike)) else ())
        if opts.mesh:
            stage("mesh", 0.3)
            mesh_opts = MeshOptions(resolution=opts.mesh_resolution, level=mesh_level,
                                    smooth_iterations=opts.smooth, decimate_faces=opts.decimate_faces)
            labelled, rep = extract_mesh(planes, self.generator.decoder, self.config.num_classes,
                                         list(self.labels.names), self.config.camera.box_warp,
                                         self.config.mesh_level, mesh_opts, progress=report)
            timings.update(rep.timings)
            result.mesh, result.mesh_level, result.auto_level = labelled, rep.level, rep.auto_level
            if on_mesh is not None:
                on_mesh(dataclasses.replace(result, timings=dict(timings)))
        if opts.render or opts.turntable_frames > 0:
            t = stage("render", 0.8)
            cams = domain_camera(self.config.domain)[None]
            if opts.turntable_frames > 0:
                cams = np.concatenate([cams, orbit_cameras(self.config.domain, opts.turntable_frames)])
            images, view_labels = self.render_views(planes, ws, cams, opts.seed, progress=report)
            result.front, result.front_labels, result.views = images[0], view_labels[0], images[1:]
            timings["render"] = time.perf_counter() - t
        report("done", 1.0)
        return result

    def _check_mask(self, mask: np.ndarray) -> np.ndarray:
        m = label_map_array(mask, self.config.num_classes)  # refuses NaN, fractions, bad labels
        r = self.config.generator.mask_resolution
        if m.shape != (r, r):
            from PIL import Image

            m = np.asarray(Image.fromarray(m).resize((r, r), Image.Resampling.NEAREST))
        return m
